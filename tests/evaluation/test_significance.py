"""Paired tests, intervals and corrections against scipy and against the formulas written out by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from sycl.evaluation.significance import adjust, compare_paired, crossed_variance, paired_differences, sign_flip_p


def _scores(q=50, seed=0, shift=0.03):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.2, 0.8, q)
    a = np.clip(b + shift + rng.normal(0, 0.1, q), 0, 1)
    return a, b


def test_one_run_t_test_equals_scipy_ttest_rel():
    a, b = _scores()
    r = compare_paired(a, b, "t")
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert (r.ci_low, r.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    assert r.diff == pytest.approx(np.mean(a - b)) and r.df == len(a) - 1 and r.n_runs == 1
    assert r.mean_a == pytest.approx(a.mean()) and r.mean_b == pytest.approx(b.mean())


def test_exact_randomisation_equals_scipy_permutation_test():
    a, b = _scores(q=12, seed=3, shift=0.05)
    ref = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x - y), permutation_type="samples", n_resamples=np.inf, alternative="two-sided"
    )
    assert sign_flip_p(a - b) == pytest.approx(ref.pvalue, rel=1e-9)
    assert compare_paired(a, b, "randomisation").p == pytest.approx(ref.pvalue, rel=1e-9)


def test_sampled_randomisation_is_close_to_scipy_and_reproducible():
    a, b = _scores(q=60, seed=4, shift=0.02)
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis=-1: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=20000,
        alternative="two-sided",
        vectorized=True,
        rng=np.random.default_rng(1),
    )
    p = sign_flip_p(a - b, samples=20000, seed=7)
    assert 0.01 < ref.pvalue < 0.9  # a case where the comparison means something
    assert p == pytest.approx(ref.pvalue, abs=0.015)
    assert p == sign_flip_p(a - b, samples=20000, seed=7)


def _crossed_by_hand(d):
    """Two-way ANOVA mean squares with explicit loops, variance components truncated at 0, Satterthwaite df."""
    S, Q = len(d), len(d[0])
    g = sum(sum(row) for row in d) / (S * Q)
    qm = [sum(d[s][q] for s in range(S)) / S for q in range(Q)]
    sm = [sum(d[s]) / Q for s in range(S)]
    ms_q = S * sum((x - g) ** 2 for x in qm) / (Q - 1)
    ms_s = Q * sum((x - g) ** 2 for x in sm) / (S - 1)
    ms_e = sum((d[s][q] - qm[q] - sm[s] + g) ** 2 for s in range(S) for q in range(Q)) / ((S - 1) * (Q - 1))
    var_seed = max(0.0, (ms_s - ms_e) / Q)  # sigma_seed^2
    var_query_plus = ms_q / (S * Q)  # sigma_query^2 / Q + sigma_e^2 / (S Q)
    var = var_query_plus + var_seed / S
    if var_seed == 0:
        return g, var, Q - 1
    num = ms_q + ms_s - ms_e
    df = num**2 / (ms_q**2 / (Q - 1) + ms_s**2 / (S - 1) + ms_e**2 / ((S - 1) * (Q - 1)))
    return g, var, df


def test_several_seeds_with_seed_variance_widen_the_interval_as_the_crossed_model_says():
    rng = np.random.default_rng(5)
    q, s = 40, 3
    b = rng.uniform(0.2, 0.8, (s, q))
    seed_effect = np.array([[-0.04], [0.0], [0.05]])  # training seeds that move every query together
    a = b + 0.02 + seed_effect + rng.normal(0, 0.05, (s, q))
    r = compare_paired(a, b, "t")
    g, var, df = _crossed_by_hand((a - b).tolist())
    half = stats.t.ppf(0.975, df) * math.sqrt(var)
    assert r.diff == pytest.approx(g) and r.df == pytest.approx(df) and r.df < q - 1
    assert (r.ci_low, r.ci_high) == (pytest.approx(g - half), pytest.approx(g + half))
    assert r.p == pytest.approx(2 * stats.t.sf(abs(g) / math.sqrt(var), df))
    # ignoring the seeds (t-test over queries of the seed-averaged differences) is narrower
    pooled = stats.ttest_rel(a.mean(0), b.mean(0)).confidence_interval(0.95)
    assert r.ci_high - r.ci_low > 1.5 * (pooled.high - pooled.low)


def test_several_seeds_without_seed_variance_is_the_pooled_paired_t_test():
    rng = np.random.default_rng(6)
    b = rng.uniform(0.2, 0.8, (3, 30))
    a = b + 0.03 + rng.normal(0, 0.08, (1, 30))  # the same per-query shift in every seed: no seed effect
    a += rng.normal(0, 1e-4, (3, 30))
    r = compare_paired(a, b, "t")
    _, var, df = _crossed_by_hand((a - b).tolist())
    ref = stats.ttest_rel(a.mean(0), b.mean(0))
    assert df == 29 and r.df == 29
    assert r.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert r.ci_low == pytest.approx(ref.confidence_interval().low, rel=1e-9)


def test_a_single_run_is_repeated_against_each_seed_and_mismatched_runs_fail():
    rng = np.random.default_rng(8)
    zero = rng.uniform(0, 1, 20)
    seeds = zero + rng.normal(0.05, 0.05, (3, 20))
    d = paired_differences(seeds, zero)
    assert d.shape == (3, 20) and np.allclose(d, seeds - zero)
    assert compare_paired(zero, seeds).diff == pytest.approx(-(seeds - zero).mean())
    with pytest.raises(ValueError, match="cannot be paired"):
        paired_differences(seeds, seeds[:2])
    with pytest.raises(ValueError, match="same queries"):
        paired_differences(seeds, zero[:10])


def test_crossed_variance_of_one_run_is_the_variance_of_the_mean():
    d = np.array([[0.1, -0.2, 0.3, 0.0, 0.05]])
    var, df = crossed_variance(d)
    assert var == pytest.approx(np.var(d[0], ddof=1) / 5) and df == 4


def test_holm_by_hand_and_bh_equals_scipy():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, float("nan")]
    holm = adjust(p, "holm")
    # by hand: sorted 0.005 0.01 0.03 0.04 0.2 times 5 4 3 2 1 -> 0.025 0.04 0.09 0.08 0.2, running max
    expected = {3: 0.025, 0: 0.04, 2: 0.09, 1: 0.09, 4: 0.2}
    for i, v in expected.items():
        assert holm[i] == pytest.approx(v)
    assert math.isnan(holm[5])
    bh = adjust(p, "bh")
    assert bh[:5] == pytest.approx(stats.false_discovery_control(p[:5], method="bh").tolist())
    assert adjust(p[:5], "none") == p[:5]
    with pytest.raises(ValueError):
        adjust(p, "bonferroni-ish")


def test_identical_systems_are_not_different():
    a, _ = _scores()
    r = compare_paired(a, a)
    assert r.diff == 0 and r.p == 1.0 and r.ci_low == r.ci_high == 0
    assert compare_paired(a, a, "randomisation").p == 1.0
