"""The run's own files in the model folder: ``experiment.yaml`` (the resolved experiment) and ``training.json`` (a :class:`~sycl.io.records.TrainingRecord`)."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from sycl.io.atomic import atomic_write_text
from sycl.io.records import TrainingRecord, write_record
from sycl.kernels.decisions import kernels_entry


def write_training_record(trainer, seconds: float) -> None:
    """Write ``experiment.yaml`` and ``training.json`` (kind ``training``) of a finished
    :class:`~sycl.training.trainer.Trainer` into its output folder; ``seconds``: wall time of the run."""
    cfg, out, model = trainer.config, Path(trainer.out), trainer.model
    resolved = cfg.model_dump(mode="json")
    resolved["out"] = str(out)
    atomic_write_text(out / "experiment.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    dtype: torch.dtype | None = trainer.dtype
    record = TrainingRecord(
        config=resolved,
        base_model=model.source,
        loss=cfg.loss.name,
        loss_function=cfg.loss.loss_name,
        loss_options=cfg.loss.resolved_options(model.settings["similarity"]),
        n_queries=len(trainer.dataset),
        label_counts=trainer.dataset.label_counts(),
        seconds=round(seconds, 3),
        steps=trainer.step,
        world_size=trainer.ctx.world_size,
        precision=str(dtype or "fp32").replace("torch.", ""),
        kernels=kernels_entry(trainer.ctx.device),
        fast_dropout=trainer.fast_dropout,
        collapse_warnings=trainer.guard.warnings,
    )
    write_record(out / "training.json", record)
