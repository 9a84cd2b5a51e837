"""Gradient caching gives the gradients of the plain large batch (one process here; two in test_train_distributed)."""

from __future__ import annotations

import json

import pytest
import torch
from tinyexp import experiment, make_graded_set, make_tiny_model

from sycl.data.collator import batch_order
from sycl.training import Trainer
from sycl.training.config import ExperimentConfig

LOSSES = {
    "ws2": {"name": "ws2"},  # batch-level: every query's embedding matters to every other's gradient
    "default": {"name": "wasserstein1d", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"},
    "kl-exclude": {"name": "kl", "temperature": 0.5, "in_batch": "exclude"},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("gc")
    return (
        make_graded_set(root / "data", n_queries=12),
        make_tiny_model(root / "model", dropout=0.0),
        make_tiny_model(root / "model-dropout", dropout=0.1),
    )


def _gradients(cfg: dict, grad_cache: int | None, in_batch: bool = True):
    cfg = {**cfg, "train": {**cfg["train"], "grad_cache": grad_cache, "in_batch_negatives": in_batch}}
    trainer = Trainer(ExperimentConfig.model_validate(cfg))
    trainer.prepare()
    batch = batch_order(len(trainer.dataset), cfg["train"]["batch_size"], cfg["train"]["seed"], 0)[0]
    loss, scores, labels, q, p = trainer.backward_batch(batch)
    grads = {n: prm.grad.detach().clone() for n, prm in trainer.model.named_parameters() if prm.grad is not None}
    assert not scores.requires_grad or grad_cache is None
    return loss, scores.detach(), grads


@pytest.mark.parametrize("loss", list(LOSSES))
def test_gradients_equal_the_plain_batch(tiny, tmp_path, loss):
    data, model, _ = tiny
    cfg = experiment(data, model, tmp_path / "unused", batch_size=8)
    cfg["loss"] = LOSSES[loss]
    plain_loss, plain_scores, plain = _gradients(cfg, None)
    for chunk in (1, 5):  # one text at a time, and chunks that do not divide the batch
        gc_loss, gc_scores, cached = _gradients(cfg, chunk)
        assert gc_loss == pytest.approx(plain_loss, rel=1e-5)
        torch.testing.assert_close(gc_scores, plain_scores, rtol=1e-5, atol=1e-6)
        assert cached.keys() == plain.keys() and len(plain) > 10
        scale = float(max(g.abs().max() for g in plain.values()))  # float32 noise is relative to the largest gradient
        for name in plain:  # (some are exactly zero in exact arithmetic, e.g. attention key biases)
            torch.testing.assert_close(
                cached[name], plain[name], rtol=1e-4, atol=1e-5 * scale, msg=f"{loss} chunk {chunk}: {name}"
            )
    assert max(g.abs().max() for g in plain.values()) > 0


@pytest.mark.parametrize("fast_dropout", ["off", "on"])  # torch's masks, and sycl.kernels.fast_dropout's
def test_own_blocks_only_and_dropout_masks_are_replayed(tiny, tmp_path, fast_dropout):
    data, _, model = tiny  # dropout 0.1: the re-encoded chunk must see the masks of the cached pass
    cfg = experiment(data, model, tmp_path / "unused", batch_size=8)
    cfg["train"]["fast_dropout"] = fast_dropout
    _, _, plain = _gradients(cfg, None, in_batch=False)
    _, _, cached = _gradients(cfg, 64, in_batch=False)  # one chunk: the same masks as the plain pass
    for name in plain:
        torch.testing.assert_close(cached[name], plain[name], rtol=1e-4, atol=1e-7)
    _, _, other = _gradients({**cfg, "train": {**cfg["train"], "seed": 4}}, 64, in_batch=False)
    assert any(not torch.allclose(other[n], plain[n]) for n in plain)  # the masks (and batch) do matter


def test_training_run_with_grad_cache_logs_the_same_losses(tiny, tmp_path):
    data, model, _ = tiny
    logs = {}
    for name, gc in (("plain", None), ("cached", 3)):
        cfg = experiment(data, model, tmp_path / name, batch_size=6, max_steps=2)
        cfg["loss"] = LOSSES["ws2"]
        cfg["train"]["grad_cache"] = gc
        Trainer(ExperimentConfig.model_validate(cfg)).run()
        logs[name] = [json.loads(x) for x in (tmp_path / name / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs["cached"]] == [1, 2]
    for a, b in zip(logs["plain"], logs["cached"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3)


def test_grad_cache_refuses_deepspeed():
    from sycl.training.config import TrainConfig

    with pytest.raises(ValueError, match="cannot be combined"):
        TrainConfig(grad_cache=8, deepspeed="ds.json")
