"""Exact top-k search by inner product, in blocks, with a running top-k per query.

Memory stays bounded whatever the corpus size: scores exist only for one block of
``query_block x doc_block`` at a time. Per block, documents are split into groups of
``group`` consecutive rows; the group maxima pick the ``c`` best groups (``c`` = the
number of candidates kept), and only those groups' scores are examined. This is exact:
every document among a block's top ``c`` lies in one of its ``c`` best groups.

Ordering is total and deterministic: score descending, then row ascending. Ties are
resolved on 64-bit keys (order-preserving float bits in the high half, inverted row in the
low half), so the same inputs give the same ranking whatever the block sizes or the number
of shards a corpus is split into.

Precision: ``fp32`` scores every pair in float32. ``bf16`` selects candidates with a
bfloat16 matrix product (several times faster on CPUs with AMX) and keeps ``candidates``
per query (default ``max(2k, k + 32)``); the final scores of the candidates are always
recomputed exactly in float32, one pair at a time, so the returned scores do not depend on
block shapes or sharding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from sycl.log import progress

SearchPrecision = Literal["fp32", "bf16"]
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


def _group_size(n: int, c: int) -> int:
    """Rows per group: large enough that group maxima are cheap, small enough to prune."""
    for g in (32, 16, 8, 4, 2):
        if n // g >= 2 * c:
            return g
    return 1


def _top_idx(vals: torch.Tensor, ids: torch.Tensor, c: int, exact: bool) -> torch.Tensor:
    """Column indices of the ``c`` best entries per row of ``vals [Q, n]`` (any float dtype).

    A plain ``topk`` does the work; with ``exact``, rows whose ``c``-th and ``c+1``-th values
    tie are redone on 64-bit keys so that the lower ``ids`` win the tie (rare: exact ties).
    """
    n = vals.shape[1]
    if c >= n:
        return torch.arange(n).expand(vals.shape[0], n)
    kk = c + 1 if exact else c
    v, idx = torch.topk(vals, kk, dim=1)
    if exact:
        tied = torch.nonzero(v[:, c - 1] == v[:, c]).squeeze(1)
        if tied.numel():
            keys = sort_keys(vals[tied].float(), ids[tied] if ids.shape[0] > 1 else ids.expand(len(tied), -1))
            idx[tied, :c] = torch.topk(keys, c, dim=1).indices
        idx = idx[:, :c]
    return idx


class _GroupedBlock:
    """One document block ``d [n, dim]`` (search dtype) laid out for group maxima, built once per block.

    Rows are padded to ``n_groups * g`` and permuted so that group ``j`` (rows ``j*g .. j*g+g-1``) is
    the strided column set ``{i * n_groups + j}``: the group maxima are then a reduction over a
    non-contiguous axis, which vectorises well.
    """

    def __init__(self, d: torch.Tensor, c: int):
        self.n = d.shape[0]
        self.exact = d.dtype == torch.float32
        self.g = _group_size(self.n, c)
        self.n_groups = -(-self.n // self.g)
        self.pad = self.n_groups * self.g - self.n
        if self.pad:
            d = torch.cat([d, d.new_zeros(self.pad, d.shape[1])])
        self.dp_t = d.view(self.n_groups, self.g, -1).transpose(0, 1).reshape(self.n_groups * self.g, -1).T


def _block_candidates(q: torch.Tensor, block: _GroupedBlock, start: int, c: int, excl_cols: torch.Tensor | None,
                      floor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``c`` (score, global row) of one block. ``q [Qb, dim]`` in the search dtype.

    ``floor [Qb]`` is each query's current ``c``-th best score: groups whose maximum is below
    it cannot contribute, so only as many groups as the neediest query has above its floor
    are examined (few, once the running top-k has filled). In float32 the selection is exact
    with the total order; in bfloat16 it is a candidate set (ties among rounded scores are
    broken arbitrarily) to be rescored.
    """
    exact, g, n_groups, pad = block.exact, block.g, block.n_groups, block.pad
    s = q @ block.dp_t  # [Qb, g * n_groups]
    if pad or excl_cols is not None:
        s = s.view(-1, g, n_groups)
        if pad:
            s[:, g - pad:, n_groups - 1] = float("-inf")
        s = s.view(q.shape[0], -1)
        if excl_cols is not None:
            qi = torch.nonzero(excl_cols >= 0).squeeze(1)
            local = excl_cols[qi]
            s[qi, (local % g) * n_groups + local // g] = float("-inf")
    gmax = s.view(-1, g, n_groups).amax(1)  # [Qb, n_groups]
    need = int((gmax.float() >= floor.unsqueeze(1)).sum(1).max())
    if need == 0:
        return torch.empty(q.shape[0], 0), torch.empty(q.shape[0], 0, dtype=torch.int64)
    best = _top_idx(gmax, torch.arange(n_groups).unsqueeze(0), min(c, need), exact)  # group ids [Qb, c']
    nb = best.shape[1]
    # the g scores of each chosen group: [Qb, g, c'] (column i * n_groups + best), flattened g-major
    vals = s.view(-1, g, n_groups).gather(2, best.unsqueeze(1).expand(-1, g, nb)).reshape(q.shape[0], -1)
    if exact:  # the tie-break needs every candidate's row
        rows = start + (best.unsqueeze(1) * g + torch.arange(g).view(1, g, 1)).reshape(q.shape[0], -1)
        pick = _top_idx(vals, rows, c, exact)
        return vals.gather(1, pick).float(), rows.gather(1, pick)
    pick = _top_idx(vals, best, c, exact)  # rows only for the c picked entries
    member, slot = pick // nb, pick % nb
    return vals.gather(1, pick).float(), start + best.gather(1, slot) * g + member


def _rescore(q: torch.Tensor, docs: np.ndarray, rows: torch.Tensor, row_offset: int) -> torch.Tensor:
    """Exact float32 scores of ``q [Qb, dim]`` with ``docs[rows - row_offset]`` (``rows [Qb, c]``; -1 gives -inf)."""
    valid = rows >= 0
    local = (rows - row_offset).clamp(min=0).numpy()
    vecs = torch.from_numpy(np.asarray(docs[local.ravel()], dtype=np.float32)).view(*rows.shape, -1)
    out = (vecs * q.unsqueeze(1)).sum(-1)
    return torch.where(valid, out, torch.full_like(out, float("-inf")))


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
) -> TopK:
    """Top-``k`` documents per query by inner product.

    ``queries`` float32 ``[Q, dim]``; ``docs`` float32 ``[N, dim]`` (a memory-mapped array is
    read block by block). ``exclude`` int64 ``[Q]``: a global row to skip per query (-1:
    none), e.g. the document whose id equals the query id. Rows in the result are
    ``row_offset + position in docs``, so shards of one corpus can be merged with
    :func:`merge_topk`.
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"unknown search precision {precision!r}; use fp32 or bf16")
    n_q, n_d = queries.shape[0], docs.shape[0]
    if n_d and queries.shape[1] != docs.shape[1]:
        raise ValueError(f"dimension mismatch: queries {queries.shape[1]}, documents {docs.shape[1]}")
    c = k if precision == "fp32" else max(candidates or 0, 2 * k, k + 32)
    c = max(1, min(c, n_d)) if n_d else 1
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    q_all = torch.from_numpy(np.array(queries, dtype=np.float32, order="C"))  # a writable copy
    q_search = q_all.to(dtype)
    excl = torch.from_numpy(np.asarray(exclude, dtype=np.int64)) if exclude is not None else None
    best_s = torch.full((n_q, c), float("-inf"))
    best_r = torch.full((n_q, c), -1, dtype=torch.int64)
    bar = progress(total=n_d, desc="search", unit="doc", unit_scale=True, disable=not show_progress or None)
    try:
        for start in range(0, n_d, doc_block):
            stop = min(n_d, start + doc_block)
            block = _GroupedBlock(torch.from_numpy(np.array(docs[start:stop], dtype=np.float32, order="C")).to(dtype), c)
            for qs in range(0, n_q, query_block):
                qe = min(n_q, qs + query_block)
                ex = None
                if excl is not None:
                    e = excl[qs:qe] - row_offset - start
                    ex = torch.where((e >= 0) & (e < stop - start), e, torch.full_like(e, -1))
                    if not bool((ex >= 0).any()):
                        ex = None
                s, r = _block_candidates(q_search[qs:qe], block, row_offset + start, c, ex, best_s[qs:qe, -1])
                s = torch.cat([best_s[qs:qe], s], 1)
                r = torch.cat([best_r[qs:qe], r], 1)
                best_s[qs:qe], best_r[qs:qe] = select_top(s, torch.where(torch.isneginf(s), -1, r), c)
            bar.update(stop - start)
    finally:
        bar.close()
    # exact float32 scores for the kept candidates, computed pair by pair (independent of blocking)
    out_s = np.full((n_q, k), -np.inf, dtype=np.float32)
    out_r = np.full((n_q, k), -1, dtype=np.int64)
    kk = min(k, c)
    for qs in range(0, n_q, max(1, (1 << 24) // max(1, c * queries.shape[1]))):
        qe = min(n_q, qs + max(1, (1 << 24) // max(1, c * queries.shape[1])))
        rows = best_r[qs:qe]
        exact = _rescore(q_all[qs:qe], docs, rows, row_offset)
        s, r = select_top(exact, rows, kk)
        r = torch.where(torch.isneginf(s), -1, r)
        out_s[qs:qe, :kk] = s.numpy()
        out_r[qs:qe, :kk] = r.numpy()
    return TopK(out_s, out_r)
