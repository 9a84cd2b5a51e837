"""Compiled (numba) kernels of the search: fused top-k selection, int8 row quantisation, rescoring.

A score tile is ``[Q, g * n_groups]``, either float32 scores or (int8 search) int16 bit patterns
of non-negative float16 values ``f * score + 1``, which order like the values. Group ``j`` of the
tile is the columns ``{i * n_groups + j}``, so its maxima are a vertical (SIMD) maximum over ``g``
slices of a row. Each query keeps its ``c`` best in a min-heap (worst on top: lowest score, then
highest row); only groups whose maximum reaches the heap's top are looked into, and each offered
document is compared with the total order (score descending, row ascending), so float32 tiles
give the exact top ``c`` whatever the tiling.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_MAX_HALF_BITS = 0x7BFF  # the largest finite float16
_FLAGS = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast math without assuming finite values


@njit(cache=True, inline="always")
def half_value(b):
    """The value of a non-negative float16 bit pattern ``b``."""
    e = (b >> 10) & 0x1F
    m = b & 0x3FF
    if e == 0:
        return math.ldexp(float(m), -24)
    return math.ldexp(float(1024 + m), e - 25)


@njit(cache=True, inline="always")
def half_bits_at_or_below(t):
    """The largest non-negative float16 bit pattern whose value is ``<= t`` (0 when ``t <= 0`` or NaN)."""
    if not t > 0.0:
        return 0
    if t >= 65504.0:
        return _MAX_HALF_BITS
    mant, ex = math.frexp(t)
    e = ex + 14
    if e <= 0:
        return int(math.floor(math.ldexp(t, 24)))
    return (e << 10) | int(math.floor((2.0 * mant - 1.0) * 1024.0))


@njit(cache=True, inline="always")
def _worse(s1, r1, s2, r2):
    """(s1, r1) ranks below (s2, r2): lower score, or the same score and a higher row."""
    return s1 < s2 or (s1 == s2 and r1 > r2)


@njit(cache=True, inline="always")
def _replace_top(hs, hr, s, r):
    """Put (s, r) on the top of the min-heap ``hs``/``hr`` and sift it down."""
    n = hs.shape[0]
    i = 0
    while True:
        a = 2 * i + 1
        if a >= n:
            break
        b = a + 1
        w = a
        if b < n and _worse(hs[b], hr[b], hs[a], hr[a]):
            w = b
        if _worse(hs[w], hr[w], s, r):
            hs[i] = hs[w]
            hr[i] = hr[w]
            i = w
        else:
            break
    hs[i] = s
    hr[i] = r


@njit(cache=True, inline="always", fastmath=_FLAGS, error_model="numpy")
def _group_maxima(row, g, ng):
    """Maximum of each group ``j`` (columns ``i * ng + j``) of one tile row: ``g`` vertical SIMD passes."""
    gm = row[:ng].copy()
    for i in range(1, g):
        x = row[i * ng : (i + 1) * ng]
        for j in range(ng):
            if x[j] > gm[j]:
                gm[j] = x[j]
    return gm


@njit(parallel=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def select_tile(tile, n, g, f, start, exclude, heap_s, heap_r):
    """Offer every document of one score tile to each query's heap of the ``c`` best.

    ``tile`` int16 ``[Q, g * n_groups]`` (columns ``>= n`` are padding); ``f``: the tile's score
    scale (values are ``f * score + 1``); ``start``: the global row of column 0; ``exclude`` int64
    ``[Q]``: a global row each query skips (-1: none); ``heap_s`` float32 / ``heap_r`` int64
    ``[Q, c]``: the heaps, updated in place, scores in the caller's units.
    """
    q = tile.shape[0]
    ng = tile.shape[1] // g
    inv_f = 1.0 / f
    for r in prange(q):
        row = tile[r]
        hs = heap_s[r]
        hr = heap_r[r]
        thr = half_bits_at_or_below(hs[0] * f + 1.0)
        skip = exclude[r] - start
        gm = _group_maxima(row, g, ng)
        for j in range(ng):
            if gm[j] < thr:
                continue
            for i in range(g):
                col = i * ng + j
                v = row[col]
                if v < thr or col >= n or col == skip:
                    continue
                s = np.float32((half_value(v) - 1.0) * inv_f)
                rid = start + col
                if _worse(s, rid, hs[0], hr[0]):
                    continue
                _replace_top(hs, hr, s, rid)
                thr = half_bits_at_or_below(hs[0] * f + 1.0)


@njit(parallel=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def select_tile_f32(tile, n, g, start, exclude, heap_s, heap_r):
    """:func:`select_tile` for a float32 score tile (``-inf`` scores are never kept)."""
    q = tile.shape[0]
    ng = tile.shape[1] // g
    for r in prange(q):
        row = tile[r]
        hs = heap_s[r]
        hr = heap_r[r]
        skip = exclude[r] - start
        gm = _group_maxima(row, g, ng)
        for j in range(ng):
            if gm[j] < hs[0]:
                continue
            for i in range(g):
                col = i * ng + j
                s = row[col]
                if not s >= hs[0] or col >= n or col == skip or s == -np.inf:
                    continue
                rid = start + col
                if _worse(s, rid, hs[0], hr[0]):
                    continue
                _replace_top(hs, hr, s, rid)


@njit(parallel=True, cache=True, error_model="numpy")
def quantize_rows(d, codes, scale):
    """Per row of ``d`` float32 ``[n, dim]``: ``scale = max|d| / 127``, ``codes = round(d / scale)`` (int8).

    Returns the largest ``|d| + sqrt(dim) * scale / 2``, a bound on the norm of a dequantised row.
    """
    n, dim = d.shape
    bounds = np.zeros(n, dtype=np.float64)
    half_sqrt = 0.5 * math.sqrt(dim)
    for r in prange(n):
        amax = 0.0
        sq = 0.0
        for k in range(dim):
            x = d[r, k]
            sq += x * x
            if abs(x) > amax:
                amax = abs(x)
        sc = amax / 127.0 if amax > 0.0 else 1.0
        scale[r] = sc
        inv = 1.0 / sc
        for k in range(dim):
            codes[r, k] = np.int8(round(d[r, k] * inv))
        bounds[r] = math.sqrt(sq) + half_sqrt * sc
    return bounds.max() if n else 0.0


@njit(parallel=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def rescore(q, docs, rows, row_offset, out):
    """``out[i, j] = q[i] . docs[rows[i, j] - row_offset]`` summed in float64, rounded to float32 (-inf for row -1).

    One fixed summation per pair, so the scores do not depend on how the search was blocked.
    """
    n_q, c = rows.shape
    dim = q.shape[1]
    for i in prange(n_q):
        qi = q[i]
        for j in range(c):
            r = rows[i, j]
            if r < 0:
                out[i, j] = -np.inf
                continue
            d = docs[r - row_offset]
            acc = 0.0
            for k in range(dim):
                acc += float(qi[k]) * float(d[k])
            out[i, j] = np.float32(acc)


def group_layout(n: int) -> tuple[int, int]:
    """``(g, width)`` of a tile of ``n`` documents: ``g`` documents per group (32, or 1 for tiny tiles)
    and the padded column count ``width = g * n_groups``."""
    g = 32 if n >= 64 else 1
    return g, -(-n // g) * g


def use_threads(n: int) -> None:
    """Run the kernels on ``n`` threads (the caller's torch thread count), within numba's pool."""
    import numba

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
