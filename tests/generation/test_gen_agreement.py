"""Agreement numbers of the LLM judge: kappa against hand-computed (and scikit-learn) values."""

from __future__ import annotations

import pytest

from sycl.generation.agreement import agreement_summary, cohen_kappa, confusion_matrix

INTENDED = [3, 3, 2, 2, 1, 1, 0, 0, 3, 2, 1, 0]
JUDGED = [3, 2, 2, 1, 1, 0, 0, 0, 3, 3, 1, 1]


def test_confusion_matrix_rows_are_intended_columns_judged():
    m = confusion_matrix(INTENDED, JUDGED, [3, 2, 1, 0])
    assert m == [[2, 1, 0, 0], [1, 1, 1, 0], [0, 0, 2, 1], [0, 0, 1, 2]]
    assert sum(map(sum, m)) == len(INTENDED)


def test_cohen_kappa_matches_known_values():
    # p_o = 7/12, p_e = 1/4 (uniform margins): (7/12 - 1/4) / (3/4) = 4/9 (sklearn: 0.4444)
    assert cohen_kappa(INTENDED, JUDGED, [3, 2, 1, 0]) == pytest.approx(4 / 9)
    assert cohen_kappa(INTENDED, JUDGED, [3, 2, 1, 0], "linear") == pytest.approx(2 / 3)  # sklearn: 0.6667
    # Cohen's textbook 2x2 case: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b, [1, 0]) == pytest.approx(0.4)
    assert cohen_kappa([2, 2], [2, 2], [2, 1]) == 1.0 and cohen_kappa([], [], [1, 0]) is None
    assert cohen_kappa([3, 2, 1, 0], [0, 1, 2, 3], [3, 2, 1, 0]) < 0


def test_agreement_summary_counts_unjudged_and_expected_order():
    pairs = [
        (("a", 0), 3, 3),
        (("a", 0), 2, 2),
        (("a", 0), 1, 1),
        (("a", 0), 0, 0),
        (("b", 0), 3, 1),
        (("b", 0), 2, 2),
        (("b", 0), 1, None),
        (("b", 0), 0, 0),
    ]
    s = agreement_summary(pairs, [3, 2, 1, 0])
    assert s["passages"] == 8 and s["judged"] == 7 and s["unjudged"] == 1
    assert s["exact_agreement"] == pytest.approx(6 / 7, abs=1e-4)
    assert s["share_expected_order"] == 0.5  # b: grade 1 for level 3 < grade 2 for level 2
    assert s["confusion_matrix"]["counts"][0] == [1, 0, 1, 0]
    assert s["per_level_mean_grade"] == {"3": 2.0, "2": 2.0, "1": 1.0, "0": 0.0}
