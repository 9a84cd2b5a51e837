"""Optimisation back ends of the trainer: plain PyTorch, or DeepSpeed (ZeRO) when configured.

Both expose the same small interface: ``backward(loss, n_micro)`` after each micro-batch,
``step() -> grad_norm`` after each group of ``n_micro`` micro-batches, ``save``/``load`` of
checkpoints and ``gathered_weights()`` (a context in which the full weights are present, for
saving the final model).

:class:`TorchEngine` sums gradients over processes itself (:func:`all_reduce_gradients`; see
:mod:`sycl.training.distributed` for why a sum), unscales fp16 gradients, clips and steps.

:class:`DeepSpeedEngine` passes ``train.deepspeed`` (a DeepSpeed JSON config, e.g. ZeRO-3 as
in the paper's runs) to ``deepspeed.initialize`` with the trainer's optimiser and scheduler,
after :func:`~sycl.training.deepspeed_config.resolve_deepspeed_config` has fixed every value
from the experiment (batch sizes, accumulation, clipping, bf16/fp16, ZeRO bucket sizes), so
no transformers-style ``"auto"`` reaches DeepSpeed. When the resolved config runs the model in
bf16 or fp16, :attr:`DeepSpeedEngine.model_dtype` says so and the trainer adds no autocast
around the forward pass. DeepSpeed averages gradients over processes, so the loss is
multiplied by the world size to obtain the same sum. Launch it with ``deepspeed`` or
``torchrun``, or as one plain process (the trainer then forms a group of one); it needs
``pip install sycl-ir[deepspeed]``. On CPU (DeepSpeed's CPU accelerator, gloo) ZeRO stages
1-3 run under ``torchrun`` (tests/training/test_deepspeed.py). With DeepSpeed, keep the
number of batches per epoch a multiple of ``gradient_accumulation`` so its step boundaries match.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

from sycl.distributed import DistContext
from sycl.io.errors import DataError
from sycl.training.checkpoint import (
    checkpoint_dir,
    checkpoint_state,
    list_checkpoints,
    load_checkpoint,
    read_checkpoint_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from sycl.training.deepspeed_config import engine_dtype, read_deepspeed_config, resolve_deepspeed_config
from sycl.training.distributed import all_reduce_gradients
from sycl.training.optimizer import build_optimizer
from sycl.training.schedules import resolve_schedule


class TorchEngine:
    """Plain PyTorch optimisation with manual gradient summation over processes."""

    def __init__(self, model, optimizer, scheduler, ctx: DistContext, max_grad_norm: float | None, fp16: bool = False):
        self.model, self.optimizer, self.scheduler, self.ctx = model, optimizer, scheduler, ctx
        self.max_grad_norm = max_grad_norm
        self.scaler = torch.amp.GradScaler(ctx.device.type) if fp16 and ctx.device.type == "cuda" else None
        self.params = [p for p in model.parameters() if p.requires_grad]

    model_dtype = None  # the model stays fp32; the trainer's autocast sets the compute precision

    def backward(self, loss: torch.Tensor, n_micro: int) -> None:
        loss = loss / n_micro
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self) -> float:
        all_reduce_gradients(self.params, self.ctx)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.max_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.max_grad_norm, foreach=True)
        else:
            norm = torch.linalg.vector_norm(
                torch.stack([p.grad.detach().norm() for p in self.params if p.grad is not None])
            )
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def save(self, out: Path, step: int, state: dict, keep: int) -> Path | None:
        path = None
        if self.ctx.is_main:
            path = save_checkpoint(out, step, self.model, self.optimizer, self.scheduler, self.scaler, state, keep)
        self.ctx.barrier()
        return path

    def load(self, path: Path) -> dict:
        return load_checkpoint(path, self.model, self.optimizer, self.scheduler, self.scaler)

    def gathered_weights(self):
        return contextlib.nullcontext()


class DeepSpeedEngine:
    """DeepSpeed ZeRO pass-through (see the module docstring)."""

    def __init__(
        self,
        model,
        optimizer,
        scheduler,
        ctx: DistContext,
        config_path: str,
        micro_batch: int,
        accumulation: int,
        max_grad_norm: float | None,
        dtype: torch.dtype | None = None,
        hidden_size: int | None = None,
        schedule=None,
        weight_decay: float = 0.0,
    ):
        try:
            import deepspeed
        except ImportError as err:
            raise DataError(config_path, "train.deepspeed needs DeepSpeed: pip install 'sycl-ir[deepspeed]'") from err
        cfg = resolve_deepspeed_config(
            read_deepspeed_config(config_path),
            micro_batch=micro_batch,
            accumulation=accumulation,
            world_size=ctx.world_size,
            max_grad_norm=max_grad_norm,
            dtype=dtype,
            hidden_size=hidden_size,
            schedule=schedule,
            weight_decay=weight_decay,
            source=str(config_path),
        )
        self.config = cfg
        self.model_dtype = engine_dtype(cfg)
        self._ds = deepspeed
        self.ctx = ctx
        self.model = model
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=cfg, dist_init_required=False
        )

    def backward(self, loss: torch.Tensor, n_micro: int) -> None:
        self.engine.backward(loss * self.ctx.world_size)  # DeepSpeed averages over processes and micro-batches
        self.engine.step()

    def step(self) -> float:
        norm = self.engine.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def save(self, out: Path, step: int, state: dict, keep: int) -> Path:
        root = checkpoint_dir(out)
        tag = f"step-{step:08d}"
        self.engine.save_checkpoint(str(root), tag=tag, client_state={"rng": rng_state(), **state})
        if self.ctx.is_main:
            from sycl.io.atomic import atomic_write_json

            atomic_write_json(root / tag / "state.json", checkpoint_state(step, state))
            import shutil

            for _, old in list_checkpoints(out)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
        self.ctx.barrier()
        return root / tag

    def load(self, path: Path) -> dict:
        state = read_checkpoint_state(path)
        _, client = self.engine.load_checkpoint(str(path.parent), tag=path.name)
        if client and "rng" in client:
            set_rng_state(client["rng"])
        return state

    def gathered_weights(self):
        return self._ds.zero.GatheredParameters(list(self.model.parameters()), modifier_rank=None)


def build_engine(model, ctx: DistContext, tc, dtype: torch.dtype | None, total_steps: int):
    """The engine of a run of ``total_steps`` optimiser steps for ``tc`` (a :class:`TrainConfig`).

    AdamW (:func:`~sycl.training.optimizer.build_optimizer`) with the configured learning-rate
    schedule; DeepSpeed when ``tc.deepspeed`` names its config, else plain PyTorch (with a loss
    scaler for fp16). Returns ``(engine, schedule)``.
    """
    optimizer = build_optimizer(model, tc.lr, tc.weight_decay)
    schedule = resolve_schedule(tc, total_steps)
    scheduler = schedule.build(optimizer)
    if not tc.deepspeed:
        engine = TorchEngine(model, optimizer, scheduler, ctx, tc.max_grad_norm, fp16=dtype == torch.float16)
        return engine, schedule
    engine = DeepSpeedEngine(
        model,
        optimizer,
        scheduler,
        ctx,
        tc.deepspeed,
        tc.batch_size,
        tc.gradient_accumulation,
        tc.max_grad_norm,
        dtype=dtype,
        hidden_size=model.dim,
        schedule=schedule,
        weight_decay=tc.weight_decay,
    )
    return engine, schedule
