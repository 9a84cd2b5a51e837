"""Exact top-k search by inner product, in tiles, with a running top-k per query.

Memory stays bounded whatever the corpus size: documents are read ``doc_block`` rows at a
time and scored in tiles of a few thousand documents against ``query_block`` queries, so a
score tile (16 MB) stays in the CPU caches. A compiled kernel
(:mod:`sycl.kernels.search_kernels`) offers each tile to every query's heap of the ``c``
best: it computes group maxima first and looks only into groups that reach the heap's worst
entry, so once the heaps have filled, a tile costs little more than its matrix product.

Ordering is total and deterministic: score descending, then row ascending, so the same inputs
give the same ranking whatever the block sizes or the number of shards a corpus is split into.

Precision (``auto`` picks one by measurement, :func:`sycl.kernels.decisions.resolve_search_precision`): ``fp32`` scores every pair in float32 and keeps the exact top ``k``. ``bf16``
selects candidates with a bfloat16 matrix product (several times faster on CPUs with AMX)
and ``int8`` with a quantised one (:mod:`sycl.kernels.search_int8`: VNNI or AMX-INT8,
about 4x a float32 product on a CPU without AMX); both keep ``candidates`` per query (bf16:
``max(2k, k + 32)``, int8: ``k + max(32, k // 4)``). The final scores are always recomputed in
float32 from the vectors, one pair at a time, and ranked by them, so the returned scores do not
depend on tiling or sharding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sycl.kernels.options import SearchPrecision
from sycl.kernels.probe import KernelState
from sycl.log import progress

_LOW = 2**32 - 1


@dataclass
class TopK:
    """Search result: ``scores`` float32 ``[Q, k]`` (descending) and ``rows`` int64 ``[Q, k]``.

    Slots with no document (a corpus smaller than ``k``, or excluded documents) hold row -1
    and score ``-inf``.
    """

    scores: np.ndarray
    rows: np.ndarray


def sort_keys(scores: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """int64 keys whose descending order is (score descending, row ascending).

    ``scores`` float32, ``rows`` int64 in ``[0, 2**32)``, same shape.
    """
    bits = (scores.float() + 0.0).contiguous().view(torch.int32).to(torch.int64)  # +0.0 folds -0.0 into 0.0
    ordered = torch.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)
    return ordered * (2**32) + (_LOW - rows.clamp(min=0))


def select_top(scores: torch.Tensor, rows: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the ``k`` best (score desc, row asc) entries of ``scores``/``rows`` ``[Q, n]``, sorted."""
    k = min(k, scores.shape[1])
    idx = torch.topk(sort_keys(scores, rows), k, dim=1, sorted=True).indices
    return scores.gather(1, idx), rows.gather(1, idx)


def merge_topk(parts: list[TopK], k: int) -> TopK:
    """Merge per-shard results over the same queries into one top-``k`` (used across processes)."""
    scores = torch.from_numpy(np.concatenate([p.scores for p in parts], axis=1))
    rows = torch.from_numpy(np.concatenate([p.rows for p in parts], axis=1))
    s, r = select_top(scores, rows, k)
    return TopK(s.numpy(), r.numpy())


class _FloatTile:
    """Documents ``d [n, dim]`` (float32; global rows from ``start``) for float32 or bfloat16 scoring."""

    SIZE = 2048  # documents per tile: 16 MB of float32 scores for 2,048 queries (measured best of 2k/4k/8k)

    def __init__(self, d: np.ndarray, start: int, dtype: torch.dtype):
        from sycl.kernels.search_kernels import group_layout

        self.start, self.n = start, d.shape[0]
        self.g, width = group_layout(self.n)
        t = torch.zeros(width, d.shape[1], dtype=torch.float32)
        t.numpy()[: self.n] = d  # the one copy of the documents (``d`` may be a read-only memory map)
        self.dt = t.to(dtype).T

    def select(self, q: torch.Tensor, skip: np.ndarray, heap_s: np.ndarray, heap_r: np.ndarray) -> None:
        from sycl.kernels.search_kernels import select_tile_f32

        s = (q @ self.dt).float().numpy()
        select_tile_f32(s, self.n, self.g, self.start, skip, heap_s, heap_r)


def _scan(
    q: torch.Tensor,
    docs,
    c: int,
    precision: str,
    skip: np.ndarray,
    row_offset: int,
    doc_block: int,
    query_block: int,
    bar,
) -> np.ndarray:
    """Rows of each query's ``c`` best documents ``[Q, c]`` in no particular order (-1: fewer documents)."""
    from sycl.kernels.search_kernels import use_threads

    use_threads(torch.get_num_threads())
    if precision == "int8":
        from sycl.kernels.search_int8 import QuantizedTile, quantize_queries

        q_search, q_norm = quantize_queries(q)
        size = QuantizedTile.SIZE

        def make(d, start):
            return QuantizedTile(d, start, q_norm, query_block)
    else:
        dtype = torch.float32 if precision == "fp32" else torch.bfloat16
        q_search = q.to(dtype)
        size = _FloatTile.SIZE

        def make(d, start):
            return _FloatTile(d, start, dtype)

    n_q, n_d = q.shape[0], docs.shape[0]
    heap_s = np.full((n_q, c), -np.inf, dtype=np.float32)
    heap_r = np.full((n_q, c), -1, dtype=np.int64)
    for start in range(0, n_d, doc_block):
        stop = min(n_d, start + doc_block)
        block = np.ascontiguousarray(docs[start:stop], dtype=np.float32)  # no copy of a float32 memory map
        tiles = [make(block[t : t + size], row_offset + start + t) for t in range(0, stop - start, size)]
        for qs in range(0, n_q, query_block):
            qe = min(n_q, qs + query_block)
            for tile in tiles:
                tile.select(q_search[qs:qe], skip[qs:qe], heap_s[qs:qe], heap_r[qs:qe])
        bar.update(stop - start)
    return heap_r


def _rescore(q: torch.Tensor, docs: np.ndarray, rows: torch.Tensor, row_offset: int) -> torch.Tensor:
    """Exact float32 scores of ``q [Qb, dim]`` with ``docs[rows - row_offset]`` (``rows [Qb, c]``; -1 gives -inf).

    Float32 documents (a memory map included) are read in place; documents stored at another
    precision (float16 shards) have just the needed rows gathered and converted.
    """
    from sycl.kernels.search_kernels import rescore

    out = np.empty(tuple(rows.shape), dtype=np.float32)
    r = rows.numpy()
    if docs.dtype != np.float32:
        valid = r >= 0
        uniq, inv = np.unique(r[valid], return_inverse=True)
        d = np.ascontiguousarray(docs[uniq - row_offset], dtype=np.float32)
        r = np.full(r.shape, -1, dtype=np.int64)
        r[valid] = inv
        row_offset = 0
    else:
        d = np.asarray(docs, dtype=np.float32)  # numba takes plain arrays, not the np.memmap subclass
        d = d.view(np.ndarray) if isinstance(d, np.memmap) else d
    rescore(q.numpy(), d, r, row_offset, out)
    return torch.from_numpy(out)


@torch.inference_mode()
def exact_search(
    queries: np.ndarray,
    docs: np.ndarray,
    k: int,
    *,
    precision: SearchPrecision = "fp32",
    candidates: int | None = None,
    exclude: np.ndarray | None = None,
    row_offset: int = 0,
    doc_block: int = 32768,
    query_block: int = 2048,
    show_progress: bool = False,
    kernels: KernelState | None = None,
) -> TopK:
    """Top-``k`` documents per query by inner product.

    ``queries`` float32 ``[Q, dim]``; ``docs`` float32 or float16 ``[N, dim]`` (a memory-mapped
    array is read block by block, out of core: memory is a block and the heaps, whatever ``N``). ``exclude`` int64 ``[Q]``: a global row to skip per query (-1:
    none), e.g. the document whose id equals the query id. Rows in the result are
    ``row_offset + position in docs``, so shards of one corpus can be merged with
    :func:`merge_topk`. ``candidates``: how many the bf16/int8 paths keep per query before
    rescoring (at least ``k``; default in the module docstring). ``precision='auto'`` takes the
    path measured fastest on this CPU (:func:`sycl.kernels.decisions.resolve_search_precision`), as ``kernels`` (the
    probe's state; default: the process's) knows it.
    """
    if precision not in ("auto", "fp32", "bf16", "int8"):
        raise ValueError(f"unknown search precision {precision!r}; use auto, fp32, bf16 or int8")
    from sycl.kernels.decisions import resolve_search_precision

    precision = resolve_search_precision(precision, queries.shape[0], docs.shape[0], queries.shape[1], kernels)
    if precision == "int8":
        from sycl.kernels.search_int8 import int8_available

        if not int8_available():
            raise ValueError(
                "int8 search needs a torch build with oneDNN's quantised kernels (x86 CPUs); use fp32 or bf16"
            )
    n_q, n_d = queries.shape[0], docs.shape[0]
    if n_d and queries.shape[1] != docs.shape[1]:
        raise ValueError(f"dimension mismatch: queries {queries.shape[1]}, documents {docs.shape[1]}")
    default = {"fp32": k, "bf16": max(2 * k, k + 32), "int8": k + max(32, k // 4)}[precision]
    c = k if precision == "fp32" else max(k, candidates or default)
    c = max(1, min(c, n_d)) if n_d else 1
    q_all = torch.from_numpy(np.array(queries, dtype=np.float32, order="C"))  # a writable copy
    skip = np.full(n_q, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, dtype=np.int64).copy()
    bar = progress(total=n_d, desc="search", unit="doc", unit_scale=True, disable=not show_progress or None)
    try:
        best_r = torch.from_numpy(_scan(q_all, docs, c, precision, skip, row_offset, doc_block, query_block, bar))
    finally:
        bar.close()
    # float32 scores of the kept candidates from the vectors, pair by pair (independent of tiling)
    out_s = np.full((n_q, k), -np.inf, dtype=np.float32)
    out_r = np.full((n_q, k), -1, dtype=np.int64)
    kk = min(k, c)
    step = max(1, (1 << 22 if docs.dtype == np.float32 else 1 << 16) // c)  # fp16: <= 64k gathered rows
    for qs in range(0, n_q, step):
        qe = min(n_q, qs + step)
        rows = best_r[qs:qe]
        s, r = select_top(_rescore(q_all[qs:qe], docs, rows, row_offset), rows, kk)
        r = torch.where(torch.isneginf(s), -1, r)
        out_s[qs:qe, :kk] = s.numpy()
        out_r[qs:qe, :kk] = r.numpy()
    return TopK(out_s, out_r)
