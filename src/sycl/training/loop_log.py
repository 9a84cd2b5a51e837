"""The training log: ``OUT/training_log.jsonl``, one JSON object per ``log_every`` optimiser steps.

:class:`LogWindow` accumulates the steps since the last line; :func:`log_record` builds one line
(step, epoch, mean loss, lr, gradient norm, the batch statistics of the collapse guard, batch
shape, throughput, elapsed seconds); :class:`TrainingLog` writes the file (main process only),
and on ``--resume`` keeps the lines up to the checkpoint's step so none is duplicated.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from sycl.io.atomic import atomic_write_text

# batch statistics (sycl.training.guard.batch_statistics) copied into every line
STAT_KEYS = ("own_group_prob", "positive_prob", "prediction_entropy", "score_std", "passage_mean_cos", "top1_own")


@dataclass
class LogWindow:
    """The optimiser steps since the last log line: summed step losses, query groups, start time."""

    loss: float = 0.0
    steps: int = 0
    groups: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, step_loss: float, groups: int) -> None:
        self.loss, self.steps, self.groups = self.loss + step_loss, self.steps + 1, self.groups + groups

    def restart(self, now: float) -> None:
        """Begin a new window at ``now`` (just after a log line)."""
        self.loss, self.steps, self.groups, self.started = 0.0, 0, 0, now


def log_record(
    step: int,
    steps_per_epoch: int,
    window: LogWindow,
    lr: float,
    grad_norm: float,
    stats: dict,
    labels_shape: tuple[int, int],
    elapsed: float,
    now: float,
) -> dict:
    """One line of the log for optimiser step ``step``; ``labels_shape`` is the gathered batch's ``[Q, k]``."""
    return {
        "step": step,
        "epoch": round(step / steps_per_epoch, 4),
        "loss": window.loss / window.steps,
        "lr": lr,
        "grad_norm": grad_norm,
        **{k: stats[k] for k in STAT_KEYS},
        "batch_queries": labels_shape[0],
        "group_size": labels_shape[1],
        "groups_per_s": window.groups / max(now - window.started, 1e-9),
        "seconds": round(elapsed, 3),
    }


class TrainingLog:
    """``training_log.jsonl`` of one run; only the ``writer`` process (rank 0) touches the file."""

    def __init__(self, path: Path, writer: bool):
        self.path, self.writer = Path(path), writer

    def start(self, step: int) -> None:
        """Begin at optimiser step ``step``: keep the lines up to it (a resumed run), drop the rest."""
        if not self.writer:
            return
        kept = []
        if step and self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= step]
        atomic_write_text(self.path, "".join(ln + "\n" for ln in kept))

    def append(self, record: dict) -> None:
        if self.writer:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
