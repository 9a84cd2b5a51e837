"""The training loop: groups -> embeddings -> (gathered) score matrix -> loss -> optimiser step.

One optimiser step consumes ``gradient_accumulation`` micro-batches of ``batch_size`` queries
per process, each query with its ``group_size`` passages. Per micro-batch the encoder embeds
the queries ``[B, d]`` and passages ``[B * k, d]`` under autocast (bf16 where it measured faster than fp32),
embeddings are gathered across processes, and the loss sees ``scores [Q, Q * k]`` (in-batch
negatives) or the own blocks ``[Q, k]``, with ``labels [Q, k]``. With ``train.grad_cache`` the
embeddings are computed without a graph and the encoder is re-run in chunks after the loss
(:mod:`sycl.training.grad_cache`), so a large batch trains in the memory of a small one.

Outputs in ``OUT``: ``training_log.jsonl`` (one object per ``log_every`` steps: step, epoch,
loss, lr, grad_norm, own_group_prob, passage_mean_cos, groups_per_s, seconds),
``checkpoints/step-N/`` every ``save_every`` steps (``--resume`` continues from the newest and
reaches the same weights as an uninterrupted run), and at the end the model
(:meth:`BiEncoder.save`), ``training.json`` and ``experiment.yaml``. A NaN/inf loss or gradient
stops training with :class:`TrainingError`, leaving the last good checkpoint untouched.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import yaml

from sycl.data.collator import Collator, batch_order, local_slice
from sycl.data.sets import build_training_set
from sycl.io.atomic import atomic_write_text
from sycl.io.errors import DataError
from sycl.io.records import TrainingRecord, write_record
from sycl.log import get_logger, progress
from sycl.losses.targets import target_settings
from sycl.modeling.encoder import BiEncoder
from sycl.modeling.fast_dropout import enable, wanted
from sycl.modeling.kernel_probe import kernels_entry
from sycl.modeling.precision import autocast, resolve_dtype
from sycl.training.checkpoint import latest_checkpoint, list_checkpoints, remove_checkpoints
from sycl.training.config import ExperimentConfig
from sycl.training.distributed import DistContext, gather_tensor, gather_with_grad
from sycl.training.engines import DeepSpeedEngine, TorchEngine
from sycl.training.grad_cache import GradCache
from sycl.training.guard import CollapseGuard, batch_statistics

CPU_CHUNK_SIZE = 8  # see TrainConfig.chunk_size and benchmarks/RESULTS.md (training throughput)
_log = get_logger(__name__)
Callback = Callable[["Trainer", dict], None]


class TrainingError(DataError):
    """Training stopped: a non-finite loss or gradient, or a collapse with ``stop_on_collapse``."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases and normalisation weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _fingerprint(config: ExperimentConfig) -> dict:
    """The settings a resumed run must share with the checkpoint (everything but logging/output)."""
    d = config.model_dump(mode="json")
    d.pop("out", None)
    d["train"] = {
        k: v
        for k, v in d["train"].items()
        if k not in ("log_every", "save_every", "save_total_limit", "keep_checkpoints", "threads")
    }
    return d


class Trainer:
    """Train a :class:`BiEncoder` for an :class:`ExperimentConfig`; :meth:`run` returns the model folder."""

    def __init__(
        self,
        config: ExperimentConfig,
        out: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        device: str | None = None,
    ):
        self.config = config
        self.out = Path(out) if out is not None else config.out_dir()
        self.callbacks = list(callbacks)
        self.ctx = DistContext.setup(device)
        self.model: BiEncoder | None = None
        self.step = 0

    # ------------------------------------------------------------------ setup
    def prepare(self) -> None:
        """Load data, model, loss, optimiser and scheduler (called by :meth:`run`)."""
        cfg, tc = self.config, self.config.train
        if tc.threads:
            torch.set_num_threads(tc.threads)
        seed_everything(tc.seed)
        self.dataset = build_training_set(cfg.data, seed=tc.seed)
        settings = {k: v for k, v in cfg.model.model_dump().items() if k != "model" and v is not None}
        self.model = BiEncoder.from_pretrained(cfg.model.model, **settings).to(self.ctx.device)
        self.model.train()
        self.fast_dropout = wanted(tc.fast_dropout, self.ctx.device)
        if self.fast_dropout:
            n = enable(self.model.transformer)
            _log.info(
                "fast dropout: %d dropout layers, attention %s", n, self.model.transformer.config._attn_implementation
            )
        self.loss_fn = cfg.loss.build()
        self.collate = Collator(self.model)
        world = self.ctx.world_size
        n, size = len(self.dataset), tc.batch_size * world
        self.n_batches = n // size + (1 if n % size and world == 1 else 0)
        if self.n_batches == 0:
            raise DataError(
                None,
                f"{n} training queries are fewer than one global batch of {size} "
                f"(batch_size {tc.batch_size} x {world} processes)",
            )
        self.steps_per_epoch = math.ceil(self.n_batches / tc.gradient_accumulation)
        total = self.steps_per_epoch * tc.epochs
        self.total_steps = min(total, tc.max_steps) if tc.max_steps else total
        try:  # one fused kernel per parameter group instead of several ops per tensor
            optimizer = torch.optim.AdamW(_param_groups(self.model, tc.weight_decay), lr=tc.lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            optimizer = torch.optim.AdamW(_param_groups(self.model, tc.weight_decay), lr=tc.lr)
        from transformers import get_scheduler

        scheduler = get_scheduler(
            tc.schedule,
            optimizer,
            num_warmup_steps=math.ceil(tc.warmup_ratio * self.total_steps),
            num_training_steps=self.total_steps,
        )
        self.dtype = resolve_dtype(tc.precision, self.ctx.device)
        if tc.deepspeed:
            self.engine = DeepSpeedEngine(
                self.model,
                optimizer,
                scheduler,
                self.ctx,
                tc.deepspeed,
                tc.batch_size,
                tc.gradient_accumulation,
                tc.max_grad_norm,
                dtype=self.dtype,
                hidden_size=self.model.dim,
            )
        else:
            self.engine = TorchEngine(
                self.model, optimizer, scheduler, self.ctx, tc.max_grad_norm, fp16=self.dtype == torch.float16
            )
        self.guard = CollapseGuard(cfg.guard)
        self.chunk_size = (
            tc.chunk_size if tc.chunk_size is not None else (CPU_CHUNK_SIZE if self.ctx.device.type == "cpu" else 0)
        )
        self.diag = target_settings(self.loss_fn)

    # ------------------------------------------------------------- one batch
    def forward_batch(self, items: np.ndarray):
        """Embed this process's share ``items`` of a global batch; returns ``(scores, labels, q, p)``.

        ``scores`` is ``[Q, Q * k]`` over the gathered batch (also without in-batch negatives: the
        loss then takes the own blocks), ``labels`` ``[Q, k]``, ``q``/``p`` the gathered embeddings.
        """
        feats = self.collate(self.dataset.batch(items))
        # an engine that already runs the model in bf16/fp16 (DeepSpeed) gets no autocast on top
        precision = "fp32" if self.engine.model_dtype is not None else self.config.train.precision
        with autocast(precision, self.ctx.device):
            q = self.model.embed(feats["query"], self.chunk_size)
            p = self.model.embed(feats["passage"], self.chunk_size)
        q, p = q.float(), p.float()
        labels = feats["labels"].to(self.ctx.device)
        q, p = gather_with_grad(q, self.ctx), gather_with_grad(p, self.ctx)
        labels = gather_tensor(labels, self.ctx)
        return self.model.similarity(q, p), labels, q, p

    def backward_batch(self, items: np.ndarray, n_micro: int = 1, epoch: int = 0):
        """Forward and backward of this process's share ``items`` of a micro-batch of ``n_micro``.

        Returns ``(loss value, scores, labels, q, p)`` (tensors detached with gradient caching).
        With ``train.grad_cache`` the embeddings are computed without a graph, the loss is
        back-propagated to them, and the encoder is re-run chunk by chunk
        (:mod:`sycl.training.grad_cache`): the same gradients as the plain path with the
        activation memory of one chunk.
        """
        if not self.config.train.grad_cache:
            scores, labels, q, p = self.forward_batch(items)
            loss = self.compute_loss(scores, labels)
            value = float(loss.detach())
            if not math.isfinite(value):
                self._stop_nonfinite("loss", value, epoch)
            self.engine.backward(loss, n_micro)
            return value, scores, labels, q, p
        feats = self.collate(self.dataset.batch(items))
        precision, device = self.config.train.precision, self.ctx.device
        caches = {
            side: GradCache(
                self.model, self.config.train.grad_cache, self.chunk_size, lambda: autocast(precision, device)
            )
            for side in ("query", "passage")
        }
        local = {side: caches[side].embed_without_graph(feats[side]).requires_grad_() for side in caches}
        q, p = gather_with_grad(local["query"], self.ctx), gather_with_grad(local["passage"], self.ctx)
        labels = gather_tensor(feats["labels"].to(device), self.ctx)
        scores = self.model.similarity(q, p)
        loss = self.compute_loss(scores, labels)
        value = float(loss.detach())
        if not math.isfinite(value):
            self._stop_nonfinite("loss", value, epoch)
        self.engine.backward(loss, n_micro)  # reaches the cached embeddings only
        for side, cache in caches.items():
            cache.backward_chunks(feats[side], local[side].grad)
        return value, scores.detach(), labels, q.detach(), p.detach()

    def compute_loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not self.config.train.in_batch_negatives and scores.shape[1] != labels.shape[1]:
            n, k = labels.shape
            scores = scores.view(n, n, k)[torch.arange(n), torch.arange(n)]
        return self.loss_fn(scores, labels)

    def _stop_nonfinite(self, what: str, value: float, epoch: int) -> None:
        ckpts = list_checkpoints(self.out)
        where = (
            f"the last good checkpoint is {ckpts[-1][1]} (step {ckpts[-1][0]}); continue from it with --resume"
            if ckpts
            else "no checkpoint was written yet (train.save_every)"
        )
        raise TrainingError(
            self.out,
            f"training stopped at step {self.step + 1} (epoch {epoch + 1}): the {what} is "
            f"{value} ; {where}. Lower train.lr, use precision fp32 or bf16 instead of fp16, "
            "or check the loss temperature",
        )

    # ------------------------------------------------------------------- run
    def run(self, resume: bool = False) -> Path:
        """Train, save the model into the output folder and return it."""
        try:
            return self._run(resume)
        finally:
            self.ctx.teardown()

    def _run(self, resume: bool) -> Path:
        cfg, tc, ctx = self.config, self.config.train, self.ctx
        t_start = time.perf_counter()
        self.prepare()
        self.out.mkdir(parents=True, exist_ok=True)
        log_path = self.out / "training_log.jsonl"
        if resume:
            ckpt = latest_checkpoint(self.out)
            if ckpt is None:
                _log.warning("--resume: no checkpoint in %s; starting from the beginning", self.out / "checkpoints")
            else:
                state = self.engine.load(ckpt)
                if state.get("fingerprint") != _fingerprint(cfg):
                    _log.warning("--resume: the experiment settings differ from those of %s; continuing anyway", ckpt)
                self.step = int(state["step"])
                _log.info("resumed from %s (step %d of %d)", ckpt, self.step, self.total_steps)
        if ctx.is_main:
            kept = []
            if self.step and log_path.exists():
                kept = [
                    ln for ln in log_path.read_text().splitlines() if ln.strip() and json.loads(ln)["step"] <= self.step
                ]
            atomic_write_text(log_path, "".join(ln + "\n" for ln in kept))
        _log.info(
            "training %d queries, %d steps (%d per epoch), group size %d, %d process(es), precision %s",
            len(self.dataset),
            self.total_steps,
            self.steps_per_epoch,
            cfg.data.group_size,
            ctx.world_size,
            self.dtype or "fp32",
        )
        bar = progress(
            total=self.total_steps, initial=self.step, desc="train", unit="step", disable=(not ctx.is_main) or None
        )
        window = {"loss": 0.0, "n": 0, "groups": 0, "t": time.perf_counter()}
        stopped = None
        accum = tc.gradient_accumulation
        cached_epoch, batches = -1, []
        while self.step < self.total_steps and stopped is None:
            epoch = self.step // self.steps_per_epoch
            if cached_epoch != epoch:
                self.dataset.set_epoch(epoch)
                batches = batch_order(len(self.dataset), tc.batch_size, tc.seed, epoch, ctx.world_size)
                cached_epoch = epoch
            s = self.step - epoch * self.steps_per_epoch
            micro = batches[s * accum : (s + 1) * accum]
            step_loss = 0.0
            for mb in micro:
                value, scores, labels, q, p = self.backward_batch(
                    local_slice(mb, ctx.rank, ctx.world_size), len(micro), epoch
                )
                step_loss += value / len(micro)
            grad_norm = self.engine.step()
            if not math.isfinite(grad_norm) and not tc.deepspeed:
                self._stop_nonfinite("gradient norm", grad_norm, epoch)
            self.step += 1
            bar.update(1)
            window["loss"] += step_loss
            window["n"] += 1
            window["groups"] += sum(len(mb) for mb in micro)
            record = None
            due_log = self.step % tc.log_every == 0 or self.step == self.total_steps
            if due_log or self.guard.due(self.step):
                stats = batch_statistics(q, p, scores, labels, **self.diag)
                if self.guard.due(self.step):
                    self.guard.check(self.step, stats, labels.shape[0], labels.shape[1])
                    if self.guard.should_stop:
                        stopped = (
                            f"training stopped at step {self.step}: the collapse guard fired "
                            f"{self.guard.strikes} times in a row (guard.stop_on_collapse); "
                            f"own_group_prob {stats['own_group_prob']:.3f}, passage_mean_cos "
                            f"{stats['passage_mean_cos']:.3f}"
                        )
                if due_log:
                    now = time.perf_counter()
                    record = {
                        "step": self.step,
                        "epoch": round(self.step / self.steps_per_epoch, 4),
                        "loss": window["loss"] / window["n"],
                        "lr": self.engine.lr(),
                        "grad_norm": grad_norm,
                        "own_group_prob": stats["own_group_prob"],
                        "passage_mean_cos": stats["passage_mean_cos"],
                        "top1_own": stats["top1_own"],
                        "groups_per_s": window["groups"] / max(now - window["t"], 1e-9),
                        "seconds": round(now - t_start, 3),
                    }
                    window = {"loss": 0.0, "n": 0, "groups": 0, "t": now}
                    if ctx.is_main:
                        with open(log_path, "a", encoding="utf-8") as fh:
                            fh.write(json.dumps(record) + "\n")
                        bar.set_postfix(loss=f"{record['loss']:.4f}", own=f"{record['own_group_prob']:.2f}")
            if tc.save_every and self.step % tc.save_every == 0 and self.step < self.total_steps:
                self.engine.save(
                    self.out, self.step, {"epoch": epoch, "fingerprint": _fingerprint(cfg)}, tc.save_total_limit
                )
            if ctx.is_main:
                for cb in self.callbacks:
                    cb(self, record or {"step": self.step, "loss": step_loss})
        bar.close()
        if stopped:
            raise TrainingError(self.out, stopped)
        self._save_final(time.perf_counter() - t_start)
        return self.out

    def _save_final(self, seconds: float) -> None:
        cfg = self.config
        with self.engine.gathered_weights():
            if self.ctx.is_main:
                self.model.save(self.out)
        if self.ctx.is_main:
            resolved = cfg.model_dump(mode="json")
            resolved["out"] = str(self.out)
            atomic_write_text(
                self.out / "experiment.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
            )
            record = TrainingRecord(
                config=resolved,
                base_model=self.model.source,
                loss=cfg.loss.name,
                loss_options=cfg.loss.loss_options(),
                n_queries=len(self.dataset),
                label_counts=self.dataset.label_counts(),
                seconds=round(seconds, 3),
                steps=self.step,
                world_size=self.ctx.world_size,
                precision=str(self.dtype or "fp32").replace("torch.", ""),
                kernels=kernels_entry(self.ctx.device),
                fast_dropout=self.fast_dropout,
                collapse_warnings=self.guard.warnings,
            )
            write_record(self.out / "training.json", record)
            if not cfg.train.keep_checkpoints:
                remove_checkpoints(self.out)
        self.ctx.barrier()
        _log.info("model saved to %s (%d steps, %.1f s)", self.out, self.step, seconds)


def train(
    config: ExperimentConfig | Mapping,
    out: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Train the experiment ``config`` (an :class:`ExperimentConfig`, or its fields as a mapping) and write
    the model folder (``out``, default ``config.out_dir()``) with its model card; returns the folder."""
    if not isinstance(config, ExperimentConfig):
        from sycl.config import validate

        config = validate(ExperimentConfig, config)
    return Trainer(config, out=out, callbacks=callbacks).run(resume=resume)
