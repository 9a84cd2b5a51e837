"""The training loop: groups -> embeddings -> (gathered) score matrix -> loss -> optimiser step.

One optimiser step takes ``gradient_accumulation`` micro-batches of ``batch_size`` queries per process,
each with its ``group_size`` passages; the loss sees ``scores [Q, Q * k]`` (in-batch negatives) or the
own blocks ``[Q, k]`` against ``labels [Q, k]`` (gradient caching: :mod:`sycl.training.grad_cache`).
Writes ``training_log.jsonl``, ``checkpoints/step-N/`` (``--resume`` reaches the weights of an
uninterrupted run), then the model, ``training.json``, ``experiment.yaml`` and the model card. A
NaN/inf loss or gradient stops training with :class:`TrainingError`, the last checkpoint kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from sycl.data.collator import Collator, local_slice
from sycl.data.sets import build_training_set
from sycl.distributed import DistContext
from sycl.io.atomic import check_output_folder
from sycl.io.errors import DataError
from sycl.kernels.decisions import resolve_fast_dropout
from sycl.kernels.fast_dropout import enable
from sycl.kernels.precision import autocast, resolve_dtype
from sycl.log import get_logger, progress
from sycl.losses.targets import target_settings
from sycl.modeling.encoder import BiEncoder
from sycl.training.checkpoint import remove_checkpoints, resume_fingerprint, resume_hint, resume_step, seed_everything
from sycl.training.config import ExperimentConfig
from sycl.training.distributed import gather_tensor, gather_with_grad
from sycl.training.engines import build_engine
from sycl.training.grad_cache import GradCache
from sycl.training.guard import CollapseGuard, batch_statistics
from sycl.training.loop_log import LogWindow, TrainingLog, log_record
from sycl.training.model_card import write_model_card
from sycl.training.record import write_training_record
from sycl.training.steps import StepPlan
from sycl.training.trackers import Trackers, check_available

CPU_CHUNK_SIZE = 8  # see TrainConfig.chunk_size and benchmarks/RESULTS.md (training throughput)
_log = get_logger(__name__)
Callback = Callable[["Trainer", dict], None]


class TrainingError(DataError):
    """Training stopped: a non-finite loss or gradient, or a collapse with ``stop_on_collapse``."""


class Batch(NamedTuple):
    """A (micro-)batch after its forward pass: ``scores [Q, Q * k]``, ``labels [Q, k]``, gathered ``q``/``p``."""

    loss: float
    scores: torch.Tensor
    labels: torch.Tensor
    q: torch.Tensor
    p: torch.Tensor


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
        self.ctx = DistContext.setup(device, group=bool(config.train.deepspeed))
        self.model: BiEncoder | None = None
        self.step = 0
        self.trackers = Trackers((), self.out, config.name)  # none until _open_trackers: every call a no-op

    # ------------------------------------------------------------------ setup
    def prepare(self) -> None:
        """Load data, model, loss, optimiser and scheduler (called by :meth:`run`)."""
        cfg, tc = self.config, self.config.train
        check_available(tc.report_to)  # a missing tracker package fails before any work
        if tc.threads:
            torch.set_num_threads(tc.threads)
        seed_everything(tc.seed)
        self.dataset = build_training_set(cfg.data, seed=tc.seed)
        self._load_model()
        self.loss_fn = cfg.loss.build(self.model.settings["similarity"])
        self.diag = target_settings(self.loss_fn)
        self.collate = Collator(self.model)
        self.plan = StepPlan(self.dataset, tc, self.ctx.world_size)
        self.dtype = resolve_dtype(tc.precision, self.ctx.device)
        self.engine, self.schedule = build_engine(self.model, self.ctx, tc, self.dtype, self.plan.total_steps)
        self.guard = CollapseGuard(cfg.guard, cfg.loss.loss_name)
        default_chunk = CPU_CHUNK_SIZE if self.ctx.device.type == "cpu" else 0
        self.chunk_size = tc.chunk_size if tc.chunk_size is not None else default_chunk

    def _load_model(self) -> None:
        cfg = self.config
        settings = {k: v for k, v in cfg.model.model_dump().items() if k != "model" and v is not None}
        self.model = BiEncoder.from_pretrained(cfg.model.model, **settings).to(self.ctx.device)
        self.model.train()
        self.fast_dropout = resolve_fast_dropout(cfg.train.fast_dropout, self.ctx.device)
        if self.fast_dropout:
            n = enable(self.model.transformer)
            attention = self.model.transformer.config._attn_implementation
            _log.info("fast dropout: %d dropout layers, attention %s", n, attention)

    # ------------------------------------------------------------- one batch
    def forward_batch(self, items: np.ndarray):
        """Embed this process's share ``items`` of a global batch; returns ``(scores, labels, q, p, finish)``.

        ``scores [Q, Q * k]`` over the gathered batch (the loss takes the own blocks without in-batch
        negatives), ``labels [Q, k]``, ``q``/``p`` the gathered embeddings; ``finish()``, after the
        loss's backward, carries the gradient into the encoder (:class:`GradCache`).
        """
        feats = self.collate(self.dataset.batch(items))
        # an engine that already runs the model in bf16/fp16 (DeepSpeed) gets no autocast on top
        precision = "fp32" if self.engine.model_dtype is not None else self.config.train.precision
        device = self.ctx.device
        sides = ("query", "passage")
        chunk = self.config.train.grad_cache
        cache = {s: GradCache(self.model, chunk, self.chunk_size, lambda: autocast(precision, device)) for s in sides}
        local = {s: cache[s].embed(feats[s]) for s in sides}
        q, p = gather_with_grad(local["query"], self.ctx), gather_with_grad(local["passage"], self.ctx)
        labels = gather_tensor(feats["labels"].to(device), self.ctx)

        def finish() -> None:
            for s in sides:
                cache[s].backward(feats[s], local[s])

        return self.model.similarity(q, p), labels, q, p, finish

    def backward_batch(self, items: np.ndarray, n_micro: int = 1, epoch: int = 0) -> Batch:
        """Forward and backward of this process's share ``items`` of a micro-batch of ``n_micro``.

        Returns a :class:`Batch` (loss value; detached scores, labels and embeddings). With
        ``train.grad_cache`` the gradients equal those of the plain pass, with the activation
        memory of one chunk.
        """
        scores, labels, q, p, finish = self.forward_batch(items)
        loss = self.compute_loss(scores, labels)
        value = float(loss.detach())
        if not math.isfinite(value):
            self._stop_nonfinite("loss", value, epoch)
        self.engine.backward(loss, n_micro)
        finish()
        return Batch(value, scores.detach(), labels, q.detach(), p.detach())

    def compute_loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not self.config.train.in_batch_negatives and scores.shape[1] != labels.shape[1]:
            n, k = labels.shape
            scores = scores.view(n, n, k)[torch.arange(n), torch.arange(n)]
        return self.loss_fn(scores, labels)

    def _stop_nonfinite(self, what: str, value: float, epoch: int) -> None:
        raise TrainingError(
            self.out,
            f"training stopped at step {self.step + 1} (epoch {epoch + 1}): the {what} is {value} ; "
            f"{resume_hint(self.out)}. Lower train.lr, use precision fp32 or bf16 instead of fp16, "
            "or check the loss temperature",
        )

    # ------------------------------------------------------------------- run
    def run(self, resume: bool = False) -> Path:
        """Train, save the model into the output folder and return it."""
        try:
            out = self._run(resume)
            self.trackers.close()
            return out
        finally:
            self.trackers.close(finished=False)  # after a failure (a closed tracker does nothing)
            self.ctx.teardown()

    def _run(self, resume: bool) -> Path:
        started = time.perf_counter()
        check_output_folder(self.out)  # before the data and the model are loaded
        self.prepare()
        self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self.step = resume_step(self.engine, self.out, self.config)
        self._open_trackers()
        self.log = TrainingLog(self.out / "training_log.jsonl", self.ctx.is_main)
        self.log.start(self.step)
        precision, group = self.dtype or "fp32", self.config.data.group_size
        _log.info(
            "training %s, group size %d, %d process(es), precision %s", self.plan, group, self.ctx.world_size, precision
        )
        stopped = self._loop(started)
        if stopped:
            raise TrainingError(self.out, stopped)
        self._save_final(time.perf_counter() - started)
        return self.out

    def _open_trackers(self) -> None:
        """The trackers of ``train.report_to`` on the main process (a resumed run continues its runs)."""
        report_to = self.config.train.report_to
        if self.ctx.is_main and report_to != ["none"]:
            params = self.config.model_dump(mode="json")
            self.trackers = Trackers.open(report_to, self.out, self.config.name, params, self.step or None)

    def _loop(self, started: float) -> str | None:
        """Optimiser steps up to ``total_steps``; returns why the collapse guard stopped training, or None."""
        plan, quiet = self.plan, (not self.ctx.is_main) or None
        bar = progress(total=plan.total_steps, initial=self.step, desc="train", unit="step", disable=quiet)
        window, stopped = LogWindow(), None
        while self.step < plan.total_steps and stopped is None:
            epoch, micro = plan.epoch(self.step), plan.micro_batches(self.step)
            step_loss, grad_norm, last = self._optimizer_step(micro, epoch)
            bar.update(1)
            window.add(step_loss, sum(len(mb) for mb in micro))
            record = None
            if self._due_log() or self.guard.due(self.step):
                stats = batch_statistics(last.q, last.p, last.scores, last.labels, **self.diag)
                stopped = self._check_collapse(stats, last)
                if self._due_log():
                    record = self._log_step(window, grad_norm, stats, last, started)
                    bar.set_postfix(loss=f"{record['loss']:.4f}", own=f"{record['own_group_prob']:.2f}")
            self._save_checkpoint(epoch)
            for cb in self.callbacks if self.ctx.is_main else ():
                cb(self, record or {"step": self.step, "loss": step_loss})
        bar.close()
        return stopped

    def _optimizer_step(self, micro: list[np.ndarray], epoch: int) -> tuple[float, float, Batch]:
        """Accumulate the gradients of ``micro`` and step; returns (mean loss, gradient norm, last batch)."""
        step_loss = 0.0
        for mb in micro:
            last = self.backward_batch(local_slice(mb, self.ctx.rank, self.ctx.world_size), len(micro), epoch)
            step_loss += last.loss / len(micro)
        grad_norm = self.engine.step()
        if not math.isfinite(grad_norm) and not self.config.train.deepspeed:
            self._stop_nonfinite("gradient norm", grad_norm, epoch)
        self.step += 1
        return step_loss, grad_norm, last

    def _due_log(self) -> bool:
        return self.step % self.config.train.log_every == 0 or self.step == self.plan.total_steps

    def _check_collapse(self, stats: dict, last: Batch) -> str | None:
        """Run the collapse guard when due; returns the reason to stop, or None."""
        if not self.guard.due(self.step):
            return None
        warning = self.guard.check(self.step, stats, last.scores.shape[1], last.labels.shape[1])
        return self.guard.stop_reason(self.step, warning)

    def _log_step(self, window: LogWindow, grad_norm: float, stats: dict, last: Batch, started: float) -> dict:
        """Build this step's log record, write it to ``training_log.jsonl`` and start a new window."""
        now, plan = time.perf_counter(), self.plan
        shape = tuple(last.labels.shape)
        record = log_record(
            self.step, plan.steps_per_epoch, window, self.engine.lr(), grad_norm, stats, shape, now - started, now
        )
        self.log.append(record)
        self.trackers.log(record)
        window.restart(now)
        return record

    def _save_checkpoint(self, epoch: int) -> None:
        tc = self.config.train
        if tc.save_every and self.step % tc.save_every == 0 and self.step < self.plan.total_steps:
            state = {"epoch": epoch, "fingerprint": resume_fingerprint(self.config)}
            self.engine.save(self.out, self.step, state, tc.save_total_limit)

    def _save_final(self, seconds: float) -> None:
        with self.engine.gathered_weights():
            if self.ctx.is_main:
                self.model.save(self.out)
        if self.ctx.is_main:
            write_training_record(self, seconds)
            if not self.config.train.keep_checkpoints:
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
    trainer = Trainer(config, out=out, callbacks=callbacks)
    folder = trainer.run(resume=resume)
    if trainer.ctx.is_main:  # the card reads training.json, which rank 0 wrote
        write_model_card(folder)
    return folder
