"""The step plan of a run: which global micro-batches each optimiser step consumes.

An epoch is :func:`~sycl.data.collator.batch_order`'s global batches (``batch_size`` queries per
process); an optimiser step takes ``gradient_accumulation`` of them in order, so an epoch has
``ceil(batches / accumulation)`` steps, and a run ``epochs`` times that (or ``max_steps``).
"""

from __future__ import annotations

import math

import numpy as np

from sycl.data.collator import batch_order, count_batches
from sycl.io.errors import DataError


class StepPlan:
    """Optimiser steps over ``dataset`` (a training set with ``set_epoch``) for a :class:`TrainConfig`."""

    def __init__(self, dataset, tc, world_size: int):
        self.dataset, self.tc, self.world_size = dataset, tc, world_size
        n = len(dataset)
        self.n_batches = count_batches(n, tc.batch_size, world_size)
        if self.n_batches == 0:
            raise DataError(
                None,
                f"{n} training queries are fewer than one global batch of {tc.batch_size * world_size} "
                f"(batch_size {tc.batch_size} x {world_size} processes)",
            )
        self.steps_per_epoch = math.ceil(self.n_batches / tc.gradient_accumulation)
        total = self.steps_per_epoch * tc.epochs
        self.total_steps = min(total, tc.max_steps) if tc.max_steps else total
        self._epoch, self._batches = -1, []

    def __str__(self) -> str:
        return f"{len(self.dataset)} queries, {self.total_steps} steps ({self.steps_per_epoch} per epoch)"

    def epoch(self, step: int) -> int:
        """The epoch (from 0) that optimiser step ``step`` (from 0) belongs to."""
        return step // self.steps_per_epoch

    def micro_batches(self, step: int) -> list[np.ndarray]:
        """The global micro-batches of optimiser step ``step`` (from 0); moves the data set to its epoch."""
        epoch, tc = self.epoch(step), self.tc
        if self._epoch != epoch:
            self.dataset.set_epoch(epoch)
            self._batches = batch_order(len(self.dataset), tc.batch_size, tc.seed, epoch, self.world_size)
            self._epoch = epoch
        s, accum = step - epoch * self.steps_per_epoch, tc.gradient_accumulation
        return self._batches[s * accum : (s + 1) * accum]
