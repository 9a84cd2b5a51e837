"""The trainer end to end on a tiny random BERT: outputs, resume equivalence, NaN stop, collapse stop."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file
from tinyexp import experiment, make_graded_set, make_tiny_model

from sycl.training import TrainingError, train
from sycl.training.checkpoint import list_checkpoints


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return make_graded_set(root / "data"), make_tiny_model(root / "model")


def weights(path):
    return load_file(str(path / "model.safetensors"))


def test_outputs_follow_the_contract(tiny, tmp_path):
    data, model = tiny
    out = train(experiment(data, model, tmp_path / "m", epochs=2))
    assert (out / "modules.json").exists() and (out / "sycl_model.json").exists()
    assert not (out / "checkpoints").exists()  # removed once the final model is saved
    info = json.loads((out / "training.json").read_text())
    assert info["kind"] == "training" and info["steps"] == 6 and info["n_queries"] == 12
    assert info["label_counts"] == {"0": 12, "1": 12, "2": 12, "3": 12}
    assert info["config"]["loss"]["name"] == "kl" and info["base_model"] == str(model)
    # the precision used (fp32 as configured) and this CPU's measured verdict behind precision auto
    assert info["precision"] == "fp32" and info["kernels"]["auto_precision"] in ("bf16", "fp32")
    assert info["kernels"]["cpu"] in info["kernels"]["line"]
    # fast dropout (train.fast_dropout auto) follows the same verdict, and says so
    assert info["fast_dropout"] is (info["kernels"]["auto_dropout"] == "fast")
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    for r in log:
        assert {"step", "epoch", "loss", "lr", "own_group_prob", "passage_mean_cos"} <= set(r)
        assert 0 < r["own_group_prob"] <= 1 and -1 <= r["passage_mean_cos"] <= 1
    assert log[-1]["epoch"] == 2.0 and log[-1]["lr"] == 0.0  # linear decay to zero
    assert (out / "experiment.yaml").read_text().startswith("name: tiny")
    card = (out / "README.md").read_text()  # train() itself writes the model card, from training.json
    assert card.startswith("---") and "sycl" in card
    before, after = weights(model), weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in after if k in before)


def test_resume_reaches_the_same_weights(tiny, tmp_path):
    data, model = tiny
    cfg = experiment(
        data,
        model,
        tmp_path / "full",
        epochs=2,
        save_every=2,
        save_total_limit=3,
        keep_checkpoints=True,
        gradient_accumulation=1,
    )
    full = train(cfg)
    assert [s for s, _ in list_checkpoints(full)] == [2, 4]
    # an interrupted run: only the step-2 checkpoint survives, nothing after it
    part = tmp_path / "part"
    shutil.copytree(full / "checkpoints" / "step-00000002", part / "checkpoints" / "step-00000002")
    (part / "training_log.jsonl").write_text(
        "".join(line + "\n" for line in (full / "training_log.jsonl").read_text().splitlines()[:3])
    )
    resumed = train({**cfg, "out": str(part)}, resume=True)
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    steps = [json.loads(line)["step"] for line in (resumed / "training_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # lines after the checkpoint were dropped and rewritten


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny, tmp_path):
    data, model = tiny

    def poison(trainer, record):
        if record["step"] == 2:
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("inf"))

    cfg = experiment(data, model, tmp_path / "nan", epochs=2, save_every=2, keep_checkpoints=True)
    with pytest.raises(TrainingError, match=r"step 3 .*loss is nan.*step-00000002"):
        train(cfg, callbacks=[poison])
    ckpts = list_checkpoints(tmp_path / "nan")
    assert [s for s, _ in ckpts] == [2]
    state = torch.load(ckpts[0][1] / "model.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert not (tmp_path / "nan" / "model.safetensors").exists()


def test_collapse_guard_stops_when_asked(tiny, tmp_path):
    data, model = tiny
    cfg = experiment(data, model, tmp_path / "c")
    cfg["guard"] = {"every": 1, "max_passage_mean_cos": -1.0, "stop_on_collapse": True, "patience": 2}
    with pytest.raises(TrainingError, match=r"step 2: the collapse guard fired 2 times.*passage_mean_cos"):
        train(cfg)


def test_in_batch_options_reach_the_loss_and_gradient_accumulation(tiny, tmp_path, monkeypatch):
    from sycl.training.trainer import Trainer

    seen = []
    original = Trainer.compute_loss

    def spy(self, scores, labels):
        seen.append((tuple(scores.shape), tuple(labels.shape), self.loss_fn))
        return original(self, scores, labels)

    monkeypatch.setattr(Trainer, "compute_loss", spy)
    data, model = tiny
    cfg = experiment(data, model, tmp_path / "ib", batch_size=2, gradient_accumulation=2, in_batch_negatives=True)
    cfg["loss"] = {"name": "ws2", "in_batch": "lowest", "infonce_weight": 0.5}
    out = train(cfg)
    info = json.loads((out / "training.json").read_text())
    assert info["steps"] == 3 and info["loss_options"] == {
        "temperature": 1.0,
        "in_batch": "lowest",
        "infonce_weight": 0.5,
    }
    assert len(seen) == 6  # 3 steps x 2 accumulated micro-batches
    (q, n), (q2, k), loss = seen[0]
    assert q == q2 == 2 and n == q * k  # the other query's passages are in the loss's score matrix...
    assert loss.terms["ws2"].target.in_batch == "lowest"  # ...and take the level below the query's lowest
    assert loss.weights["infonce"] == 0.5


def test_collapse_guard_drift_bounds_use_the_first_check():
    from sycl.training.config import GuardConfig
    from sycl.training.guard import CollapseGuard

    # the Cranfield trajectories of the collapsing reference kl and of InfoNCE (every 5 steps)
    kl_ref = [(0.51, 0.397), (0.413, 0.525), (0.332, 0.658), (0.288, 0.715), (0.23, 0.745)]
    infonce = [(0.543, 0.308), (0.513, 0.29), (0.399, 0.302), (0.547, 0.309), (0.444, 0.329)]

    def run(traj):
        guard = CollapseGuard(GuardConfig(every=5))
        return [
            guard.check(5 * (i + 1), {"own_group_prob": p, "passage_mean_cos": c, "prediction_entropy": 1.0}, 64, 4)
            for i, (p, c) in enumerate(traj)
        ]

    msgs = run(kl_ref)
    assert msgs[:2] == [None, None]
    assert "rose more than 0.25 above 0.397" in msgs[2]
    assert "fell more than 50% from 0.510" in msgs[4]
    assert run(infonce) == [None] * 5
    off = CollapseGuard(GuardConfig(every=5, max_prob_drop=None, max_cos_rise=None))
    assert [
        off.check(i, {"own_group_prob": p, "passage_mean_cos": c, "prediction_entropy": 1.0}, 64, 4)
        for i, (p, c) in enumerate(kl_ref)
    ] == [None] * 5
