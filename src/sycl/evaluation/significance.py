"""Paired significance of a difference between two retrieval systems on the same queries.

Scores come as arrays ``[S, Q]``: ``Q`` queries (the same queries in the same order for both
systems) and ``S`` runs per system, e.g. training seeds. A system evaluated once (zero-shot)
has ``S = 1`` and is repeated against every run of the other. Run ``s`` of one system is
paired with run ``s`` of the other (the same seed sees the same batch order).

Tests (both two-sided):

* ``t``: a paired t-test. With one run per system it is Student's paired t-test on the
  per-query differences ``d_q = a_q - b_q`` (what ``scipy.stats.ttest_rel`` computes). With
  several runs it is the t-test of a two-way crossed random-effects model
  ``d_sq = mu + query_q + seed_s + e_sq``, so the interval and the p-value carry both the
  query sample and the seed sample: ``Var(mean d) = (MS_query + max(0, MS_seed - MS_error)) / (S Q)``
  from the ANOVA mean squares, with Satterthwaite's degrees of freedom. When the seeds add no
  variance beyond the residual (``MS_seed <= MS_error``) this is exactly the paired t-test on
  the seed-averaged per-query differences (``Q - 1`` degrees of freedom).
* ``randomisation``: the paired randomisation (sign-flip) test of the mean difference over
  queries (Fisher's; Smucker, Allan and Carterette, CIKM 2007): under the null hypothesis the two
  systems' scores of a query are exchangeable, so each query's seed-averaged difference keeps
  or flips its sign. All ``2^Q`` sign patterns when ``Q <= EXACT_MAX_QUERIES``, else ``samples``
  random ones (p = (hits + 1) / (samples + 1)). With several seeds it pools them per query and
  so accounts for the queries only; the interval it reports is the t interval above.

Multiple comparisons: :func:`adjust` applies Holm's step-down correction (family-wise error)
or Benjamini-Hochberg's (false discovery rate) to the p-values of one family of tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import stats

Test = Literal["t", "randomisation"]
Correction = Literal["holm", "bh", "none"]
EXACT_MAX_QUERIES = 16


@dataclass
class PairedResult:
    """The difference ``a - b`` of two systems' mean scores with its interval and p-value."""

    n_queries: int
    n_runs: int  # runs paired (max of the two systems' run counts)
    mean_a: float
    mean_b: float
    diff: float  # mean over runs and queries of a - b
    ci_low: float
    ci_high: float
    df: float  # degrees of freedom of the t interval
    p: float  # two-sided, uncorrected
    test: str

    def as_dict(self) -> dict:
        return asdict(self)


def _as_runs(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] == 0 or a.shape[0] == 0:
        raise ValueError(f"scores must be [runs, queries] with at least one query, got shape {a.shape}")
    return a


def paired_differences(a, b) -> np.ndarray:
    """``[S, Q]`` differences ``a - b``; a system with one run is repeated against the other's runs."""
    a, b = _as_runs(a), _as_runs(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"the systems have {a.shape[1]} and {b.shape[1]} queries; a paired test needs the same queries"
        )
    if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
        raise ValueError(
            f"{a.shape[0]} runs cannot be paired with {b.shape[0]}: give the same number (same seeds) or one"
        )
    return a - b  # broadcasting repeats a single run


def crossed_variance(d: np.ndarray) -> tuple[float, float]:
    """``(variance of the grand mean of d [S, Q], degrees of freedom)`` under the crossed model above."""
    s, q = d.shape
    if q < 2:
        return float("nan"), float("nan")
    if s == 1:
        return float(d[0].var(ddof=1) / q), float(q - 1)
    grand = d.mean()
    ms_q = s * ((d.mean(axis=0) - grand) ** 2).sum() / (q - 1)
    ms_s = q * ((d.mean(axis=1) - grand) ** 2).sum() / (s - 1)
    resid = d - d.mean(axis=0, keepdims=True) - d.mean(axis=1, keepdims=True) + grand
    ms_e = (resid**2).sum() / ((s - 1) * (q - 1))
    if ms_s <= ms_e:  # no seed variance beyond the residual: the pooled paired t-test
        return float(ms_q / (s * q)), float(q - 1)
    v = ms_q + ms_s - ms_e
    df = v**2 / (ms_q**2 / (q - 1) + ms_s**2 / (s - 1) + ms_e**2 / ((s - 1) * (q - 1)))
    return float(v / (s * q)), float(df)


def sign_flip_p(d: np.ndarray, samples: int = 10000, seed: int = 0) -> float:
    """Two-sided p of the paired randomisation test of ``mean(d)`` (``d [Q]``: per-query differences)."""
    d = np.asarray(d, dtype=np.float64)
    q = d.shape[0]
    observed = abs(d.sum())
    tol = 1e-12 * max(1.0, np.abs(d).sum())
    if q <= EXACT_MAX_QUERIES:
        signs = 1 - 2 * ((np.arange(2**q)[:, None] >> np.arange(q)[None, :]) & 1)
        return float((np.abs(signs @ d) >= observed - tol).mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, samples, 2000):  # blocks bound the memory of the sign matrix
        n = min(2000, samples - start)
        signs = rng.integers(0, 2, size=(n, q)) * 2 - 1
        hits += int((np.abs(signs @ d) >= observed - tol).sum())
    return (hits + 1) / (samples + 1)


def compare_paired(
    a, b, test: Test = "t", confidence: float = 0.95, samples: int = 10000, seed: int = 0
) -> PairedResult:
    """Compare ``a`` with ``b`` (``[S, Q]`` or ``[Q]`` per-query scores); see the module docstring."""
    a_runs, b_runs = _as_runs(a), _as_runs(b)
    d = paired_differences(a_runs, b_runs)
    s, q = d.shape
    diff = float(d.mean())
    var, df = crossed_variance(d)
    if q < 2:
        lo = hi = p_t = float("nan")
    elif var == 0:
        lo = hi = diff
        p_t = 1.0 if diff == 0 else 0.0
    else:
        se = math.sqrt(var)
        half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
        lo, hi = diff - half, diff + half
        p_t = float(2 * stats.t.sf(abs(diff) / se, df))
    if test == "t":
        p = p_t
    elif test == "randomisation":
        p = sign_flip_p(d.mean(axis=0), samples, seed)
    else:
        raise ValueError(f"unknown test {test!r}: use 't' or 'randomisation'")
    return PairedResult(q, s, float(a_runs.mean()), float(b_runs.mean()), diff, lo, hi, df, p, test)


def adjust(pvalues: Sequence[float], method: Correction = "holm") -> list[float]:
    """P-values adjusted for the family ``pvalues``: Holm (step-down), Benjamini-Hochberg, or none.

    NaN p-values (tests that could not be made) stay NaN and do not count in the family.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    x = p[ok]
    m = x.size
    if m == 0:
        return out.tolist()
    if method == "none":
        adj = x
    elif method == "holm":
        order = np.argsort(x, kind="stable")
        stepped = np.maximum.accumulate((m - np.arange(m)) * x[order])
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    elif method == "bh":
        order = np.argsort(x, kind="stable")[::-1]  # largest first
        ranks = m - np.arange(m)  # rank of each in ascending order
        stepped = np.minimum.accumulate(x[order] * m / ranks)
        adj = np.empty(m)
        adj[order] = np.minimum(stepped, 1.0)
    else:
        raise ValueError(f"unknown correction {method!r}: use holm, bh or none")
    out[ok] = adj
    return out.tolist()
