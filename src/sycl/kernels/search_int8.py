"""int8 candidate selection for :func:`sycl.retrieval.search.exact_search` (``precision='int8'``).

Queries are scaled per row to a largest component of 1 (a positive factor per query, so each
query's ranking is unchanged) and quantised to uint8 with zero point 128; documents are
quantised per row to int8 (one scale per document). oneDNN's quantised matrix product (VNNI or
AMX-INT8 kernels) scores a block of queries against a tile of documents and writes
``f * score + 1`` as float16, with ``f`` chosen per tile so that every value lies in ``[0, 2]``.
Non-negative float16 values order like their int16 bit patterns, so the compiled selection
(:func:`sycl.kernels.search_kernels.select_tile`) works on int16 while the tile (16 MB for
2,048 queries) is still in the CPU caches.

The scores are approximate (int8 inputs, float16 output: about 1e-3 of the largest score);
:func:`~sycl.retrieval.search.exact_search` keeps ``k + max(32, k // 4)`` candidates per query
and rescores them in float32.
"""

from __future__ import annotations

import numpy as np
import torch

X_ZERO_POINT = 128
X_SCALE = 1.0 / 127.0


def int8_available() -> bool:
    """True when this torch build has oneDNN's quantised linear (x86 CPU builds)."""
    try:
        ops = torch.ops.onednn
        return hasattr(ops, "qlinear_pointwise") and hasattr(ops, "qlinear_prepack")
    except (AttributeError, RuntimeError):  # pragma: no cover - builds without oneDNN
        return False


def quantize_queries(q: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``q [Q, dim]`` float32 -> uint8 codes (each row scaled to max |q| = 1) and the largest dequantised norm."""
    amax = q.abs().amax(1, keepdim=True)
    codes = torch.round(q / torch.where(amax > 0, amax, torch.ones_like(amax)) * 127.0)
    max_norm = float((codes * X_SCALE).norm(dim=1).max()) if len(q) else 0.0
    return (codes + X_ZERO_POINT).to(torch.uint8), max_norm


class QuantizedTile:
    """Documents ``d [n, dim]`` (float32; global rows from ``start``) quantised and packed for oneDNN."""

    SIZE = 4096  # documents per tile: 16 MB of float16 scores for 2,048 queries

    def __init__(self, d: np.ndarray, start: int, q_max_norm: float, query_block: int):
        from sycl.kernels.search_kernels import group_layout, quantize_rows

        self.start, self.n = start, d.shape[0]
        self.g, width = group_layout(self.n)
        codes = np.zeros((width, d.shape[1]), dtype=np.int8)
        scale = np.ones(width, dtype=np.float32)
        d_norm = quantize_rows(d, codes[: self.n], scale[: self.n])
        bound = 1.01 * q_max_norm * d_norm
        self.f = 1.0 / bound if bound > 0 else 1.0  # |f * score| < 1 for every pair of this tile
        self.w_scale = torch.from_numpy(scale * np.float32(self.f))
        self.w_zero = torch.zeros(width, dtype=torch.int64)
        self.bias = torch.ones(width, dtype=torch.float32)
        self.packed = torch.ops.onednn.qlinear_prepack(torch.from_numpy(codes), [query_block, d.shape[1]])

    def scores(self, qx: torch.Tensor) -> np.ndarray:
        """``f * score + 1`` of ``qx [Qb, dim]`` (uint8) with every row of the tile, as int16 bit patterns."""
        out = torch.ops.onednn.qlinear_pointwise(
            qx,
            X_SCALE,
            X_ZERO_POINT,
            self.packed,
            self.w_scale,
            self.w_zero,
            self.bias,
            1.0,
            0,
            torch.float16,
            "none",
            [],
            "",
        )
        return out.view(torch.int16).numpy()

    def select(self, qx: torch.Tensor, skip: np.ndarray, heap_s: np.ndarray, heap_r: np.ndarray) -> None:
        """Offer the tile to the heaps of the queries ``qx`` (scores in scaled-query units)."""
        from sycl.kernels.search_kernels import select_tile

        select_tile(self.scores(qx), self.n, self.g, self.f, self.start, skip, heap_s, heap_r)
