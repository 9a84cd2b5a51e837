"""Learning-rate schedules of ``sycl train``, including DeepSpeed's ``WarmupDecayLR`` without DeepSpeed.

``train.schedule`` is ``linear``, ``cosine`` or ``constant`` (transformers' schedules with
``warmup_ratio`` of the steps warming up linearly from 0), or ``warmup_decay``: the schedule the
paper's runs took from their DeepSpeed file (``WarmupDecayLR``, whose ``"auto"`` values the
transformers ``Trainer`` fills with ``warmup_min_lr = 0``, ``warmup_max_lr = lr``,
``warmup_num_steps = ceil(warmup_ratio * total)`` and ``total_num_steps = total``).

``WarmupDecayLR`` (deepspeed/runtime/lr_schedules.py), with ``W = max(2, warmup_num_steps)``,
``T = total_num_steps`` and ``i`` the number of scheduler steps taken before the current one
(DeepSpeed's ``last_batch_iteration``)::

    rate = warmup_min_lr + (warmup_max_lr - warmup_min_lr) * gamma(i)
    gamma(i) = log(i + 1) / log(W)          i < W, warmup_type "log" (DeepSpeed's default)
             = i / W                        i < W, warmup_type "linear"
             = max(0, (T - i) / max(1, T - W))   afterwards

Before its first ``step()`` DeepSpeed's class sets ``warmup_min_lr``, so the first optimiser step
runs at ``warmup_min_lr`` and step ``t`` (from 0) at ``rate(i = t - 1)``. With the log warm-up the
rate reaches half its peak after ``sqrt(W) - 1`` steps (about 9 of the paper's ~99), where a linear
warm-up takes ``W / 2``. :class:`WarmupDecayLR` here is a ``torch`` scheduler with the same rate
at every step (``tests/training/test_schedules.py`` runs both side by side), so the schedule is
the same with and without DeepSpeed; under DeepSpeed the trainer hands it to ``deepspeed.initialize``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch.optim.lr_scheduler import LRScheduler

WarmupType = Literal["log", "linear"]


def warmup_decay_rate(
    iteration: int, *, min_lr: float, max_lr: float, warmup_steps: int, total_steps: int, warmup_type: WarmupType
) -> float:
    """DeepSpeed ``WarmupDecayLR``'s rate after ``iteration`` scheduler steps (``-1``: before the first)."""
    if iteration < 0:
        return min_lr
    warmup = max(2, warmup_steps)
    if iteration < warmup:
        if warmup_type == "log":
            gamma = (1.0 / math.log(warmup)) * math.log(iteration + 1)
        else:
            gamma = iteration / warmup
    else:
        gamma = max(0.0, float(total_steps - iteration) / float(max(1.0, total_steps - warmup)))
    return min_lr + ((max_lr - min_lr) * gamma)


class WarmupDecayLR(LRScheduler):
    """``torch`` scheduler with DeepSpeed ``WarmupDecayLR``'s rate (see the module docstring).

    Every parameter group gets the same rate, from ``min_lr`` to ``max_lr`` over ``warmup_steps``
    (``log`` or ``linear``), then linearly down to 0 at ``total_steps``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        *,
        total_steps: int,
        max_lr: float,
        warmup_steps: int,
        min_lr: float = 0.0,
        warmup_type: WarmupType = "log",
        last_epoch: int = -1,
    ):
        if warmup_type not in ("log", "linear"):
            raise ValueError(f"warmup_type {warmup_type!r}: use 'log' or 'linear'")
        self.settings = dict(
            min_lr=min_lr, max_lr=max_lr, warmup_steps=warmup_steps, total_steps=total_steps, warmup_type=warmup_type
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # torch's last_epoch counts step() calls including the one in __init__: DeepSpeed's iteration + 1
        rate = warmup_decay_rate(self.last_epoch - 1, **self.settings)
        return [rate for _ in self.optimizer.param_groups]


@dataclass(frozen=True)
class Schedule:
    """A resolved schedule: which kind, its warm-up and total optimiser steps, and its rates."""

    kind: str
    lr: float
    warmup_steps: int
    total_steps: int
    warmup_type: WarmupType = "log"
    min_lr: float = 0.0

    def deepspeed_params(self) -> dict:
        """The ``scheduler.params`` of a DeepSpeed file that describe this schedule (``warmup_decay`` only)."""
        return {
            "warmup_min_lr": self.min_lr,
            "warmup_max_lr": self.lr,
            "warmup_num_steps": self.warmup_steps,
            "total_num_steps": self.total_steps,
            "warmup_type": self.warmup_type,
        }

    def build(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        if self.kind == "warmup_decay":
            return WarmupDecayLR(
                optimizer,
                total_steps=self.total_steps,
                max_lr=self.lr,
                warmup_steps=self.warmup_steps,
                min_lr=self.min_lr,
                warmup_type=self.warmup_type,
            )
        from transformers import get_scheduler

        return get_scheduler(
            self.kind, optimizer, num_warmup_steps=self.warmup_steps, num_training_steps=self.total_steps
        )


def resolve_schedule(train, total_steps: int) -> Schedule:
    """The :class:`Schedule` of a ``train`` section (:class:`~sycl.training.config.TrainConfig`) over ``total_steps``.

    Warm-up steps are ``ceil(warmup_ratio * total_steps)``, as in transformers; ``warmup_decay``
    takes at least one (transformers fills DeepSpeed's ``warmup_num_steps`` with ``max(1, ...)``).
    """
    warmup = math.ceil(train.warmup_ratio * total_steps)
    if train.schedule == "warmup_decay":
        warmup = max(1, warmup)
    return Schedule(
        kind=train.schedule,
        lr=train.lr,
        warmup_steps=warmup,
        total_steps=total_steps,
        warmup_type=train.warmup_type,
        min_lr=train.warmup_min_lr,
    )
