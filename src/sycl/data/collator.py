"""Batches for the trainer: the seeded order of items per epoch and tokenisation of a group batch.

:func:`batch_order` splits a permutation of the items (a function of ``(seed, epoch)`` only)
into *global* batches of ``batch_size * world_size`` queries; process ``r`` of ``W`` takes
slice ``[r * batch_size, (r + 1) * batch_size)`` of each, so the gathered batch of a
distributed run is, in order, the batch a single process would see with
``batch_size * world_size``. With more than one process an incomplete last batch is dropped
(every process must hold the same number of queries); a single process keeps it.

:class:`Collator` turns a :class:`~sycl.data.sets.TextBatch` into model inputs: query
features ``[B, Tq]``, passage features ``[B * k, Tp]`` (query-major: passage ``j`` of query
``i`` at row ``i * k + j``, the loss layout of :mod:`sycl.losses`) and labels ``float32 [B, k]``.
Padding is to the longest text of the batch, not to the max length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sycl.data.sets import TextBatch


def batch_order(
    n_items: int, batch_size: int, seed: int, epoch: int, world_size: int = 1, shuffle: bool = True
) -> list[np.ndarray]:
    """Global batches (arrays of item indices) of one epoch; see the module docstring."""
    order = np.random.default_rng([seed, epoch, 7919]).permutation(n_items) if shuffle else np.arange(n_items)
    size = batch_size * world_size
    batches = [order[i : i + size] for i in range(0, n_items, size)]
    if world_size > 1 and batches and len(batches[-1]) < size:
        batches.pop()
    return batches


def count_batches(n_items: int, batch_size: int, world_size: int = 1) -> int:
    """How many global batches :func:`batch_order` yields per epoch."""
    size = batch_size * world_size
    return n_items // size + (1 if n_items % size and world_size == 1 else 0)


def local_slice(batch: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This process's share of a global batch (contiguous, in rank order)."""
    per = len(batch) // world_size
    return batch[rank * per : (rank + 1) * per]


@dataclass
class Collator:
    """Tokenise group batches with a :class:`~sycl.modeling.BiEncoder`'s tokenizer and settings."""

    encoder: object

    def __call__(self, batch: TextBatch) -> dict[str, object]:
        return {
            "query": self.encoder.tokenize(batch.queries, "query"),
            "passage": self.encoder.tokenize(batch.passages, "passage"),
            "labels": torch.from_numpy(np.ascontiguousarray(batch.labels, dtype=np.float32)),
        }
