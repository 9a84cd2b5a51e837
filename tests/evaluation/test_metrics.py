import ir_measures
import numpy as np
import pytest
import pytrec_eval
from ir_measures import AP, RR, R, nDCG

from sycl.evaluation.metrics import compute_metrics, trec_order, truncate
from sycl.io.errors import DataError

QRELS = {
    "q1": {"d1": 3, "d2": 2, "d3": 1, "d4": 0},
    "q2": {"d5": 2, "d6": 1},
    "q3": {"d7": 1},
    "q4": {"d8": 0},  # judged, nothing relevant
}


def random_run(seed=0, ties=False):
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(1, 40)]
    run = {}
    for q in QRELS:
        scores = rng.integers(0, 5, len(docs)) if ties else rng.standard_normal(len(docs))
        run[q] = {d: float(s) for d, s in zip(docs, scores)}
    return run


def pytrec(qrels, run, measures, rel=1):
    ev = pytrec_eval.RelevanceEvaluator(qrels, set(measures), relevance_level=rel)
    return ev.evaluate(run)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("rel", [1, 2])
def test_equal_to_direct_pytrec_eval(ties, rel):
    run = random_run(3, ties)
    means, per_query = compute_metrics(QRELS, run, relevance_level=rel)
    ref = pytrec(QRELS, run, {"ndcg_cut.10", "recall.100", "recall.1000", "map_cut.1000"}, rel)
    rr = pytrec(QRELS, truncate(run, 10), {"recip_rank"}, rel)
    for q in QRELS:
        assert per_query["nDCG@10"][q] == pytest.approx(ref[q]["ndcg_cut_10"], abs=1e-12)
        assert per_query["R@100"][q] == pytest.approx(ref[q]["recall_100"], abs=1e-12)
        assert per_query["AP@1000"][q] == pytest.approx(ref[q]["map_cut_1000"], abs=1e-12)
        assert per_query["RR@10"][q] == pytest.approx(rr[q]["recip_rank"], abs=1e-12)
    assert means["nDCG@10"] == pytest.approx(np.mean([ref[q]["ndcg_cut_10"] for q in QRELS]))


def test_graded_ndcg_uses_linear_gain_and_ignores_the_level():
    run = {"q1": {"d3": 3.0, "d2": 2.0, "d1": 1.0}}
    qrels = {"q1": QRELS["q1"]}
    m1, _ = compute_metrics(qrels, run, ["nDCG@10"], relevance_level=1)
    m2, _ = compute_metrics(qrels, run, ["nDCG@10"], relevance_level=2)
    dcg = 1 + 2 / np.log2(3) + 3 / np.log2(4)
    idcg = 3 + 2 / np.log2(3) + 1 / np.log2(4)
    assert m1["nDCG@10"] == pytest.approx(dcg / idcg) == m2["nDCG@10"]


def test_binary_threshold_changes_what_counts():
    run = {"q1": {"d3": 3.0, "d2": 2.0, "d9": 1.0}}
    qrels = {"q1": QRELS["q1"]}
    m1, _ = compute_metrics(qrels, run, ["RR@10", "R@100"], relevance_level=1)
    m2, _ = compute_metrics(qrels, run, ["RR@10", "R@100"], relevance_level=2)
    assert m1["RR@10"] == 1.0 and m2["RR@10"] == 0.5
    assert m1["R@100"] == pytest.approx(2 / 3) and m2["R@100"] == pytest.approx(1 / 2)


def test_equal_to_ir_measures_when_no_ties():
    run = random_run(5)
    means, _ = compute_metrics(QRELS, run, relevance_level=2)
    ref = ir_measures.calc_aggregate([nDCG @ 10, RR(rel=2) @ 10, R(rel=2) @ 100, AP(rel=2) @ 1000], QRELS, run)
    assert means["nDCG@10"] == pytest.approx(ref[nDCG @ 10])
    assert means["RR@10"] == pytest.approx(ref[RR(rel=2) @ 10])
    assert means["R@100"] == pytest.approx(ref[R(rel=2) @ 100])
    assert means["AP@1000"] == pytest.approx(ref[AP(rel=2) @ 1000])


def test_rr_cutoff_follows_trec_eval_tie_order():
    # tied scores: trec_eval puts the larger doc id first, so d3 (label 1) precedes d1 (label 3)
    run = {"q1": {"d1": 1.0, "d3": 1.0}}
    assert trec_order(run["q1"]) == ["d3", "d1"]
    m, _ = compute_metrics({"q1": QRELS["q1"]}, run, ["RR@1"], relevance_level=2)
    assert m["RR@1"] == 0.0
    ref = pytrec({"q1": QRELS["q1"]}, run, {"recip_rank"}, 2)
    assert ref["q1"]["recip_rank"] == 0.5  # without the cutoff, d1 is found at rank 2


def test_judged_queries_without_results_count_as_zero_and_unknown_measure_fails():
    run = {"q1": {"d1": 1.0}}
    means, per_query = compute_metrics(QRELS, run, ["nDCG@10"])
    assert set(per_query["nDCG@10"]) == set(QRELS) and per_query["nDCG@10"]["q2"] == 0.0
    assert means["nDCG@10"] == pytest.approx(per_query["nDCG@10"]["q1"] / 4)
    with pytest.raises(DataError, match="measure"):
        compute_metrics(QRELS, run, ["Bogus@3"])
