"""Agreement between the level a passage was written for and the grade a judge gave it.

* :func:`confusion_matrix`: counts, rows = intended level, columns = judged grade, both in
  ``labels`` order (most relevant first);
* :func:`cohen_kappa`: Cohen's kappa (Cohen 1960), chance-corrected agreement,
  ``(p_o - p_e) / (1 - p_e)``; with ``weights="linear"`` the ordinal variant (Cohen 1968) that
  counts a grade one step off as half-agreeing on a four-point scale;
* :func:`agreement_summary`: the numbers the manifest reports for an LLM judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sycl.generation.quality import expected_order


def confusion_matrix(intended: Sequence[int], judged: Sequence[int], labels: Sequence[int]) -> list[list[int]]:
    """``m[i][j]``: passages written for ``labels[i]`` and graded ``labels[j]``."""
    ix = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for a, b in zip(intended, judged):
        m[ix[a]][ix[b]] += 1
    return m


def cohen_kappa(
    intended: Sequence[int], judged: Sequence[int], labels: Sequence[int], weights: Literal["none", "linear"] = "none"
) -> float | None:
    """Cohen's kappa of two raters over ``labels``; ``None`` for no pairs, 1.0 when both raters
    agree perfectly on a single category (chance agreement 1)."""
    n = len(intended)
    if n == 0:
        return None
    k = len(labels)
    m = confusion_matrix(intended, judged, labels)
    rows = [sum(r) / n for r in m]
    cols = [sum(m[i][j] for i in range(k)) / n for j in range(k)]
    if weights == "linear" and k > 1:
        w = [[abs(i - j) / (k - 1) for j in range(k)] for i in range(k)]
    else:
        w = [[0.0 if i == j else 1.0 for j in range(k)] for i in range(k)]
    observed = sum(w[i][j] * m[i][j] / n for i in range(k) for j in range(k))
    chance = sum(w[i][j] * rows[i] * cols[j] for i in range(k) for j in range(k))
    if chance == 0:
        return 1.0 if observed == 0 else 0.0
    return 1.0 - observed / chance


def agreement_summary(pairs: Sequence[tuple[tuple[str, int], int, int | None]], labels: Sequence[int]) -> dict:
    """Numbers for ``pairs`` of ``((query id, sample), intended, judged or None)``.

    ``share_expected_order``: share of contexts (with at least two intended levels judged)
    whose mean grade per intended level strictly decreases as the level decreases.
    """
    judged = [(ctx, a, b) for ctx, a, b in pairs if b is not None]
    intended = [a for _, a, _ in judged]
    grades = [b for _, _, b in judged]
    by_ctx: dict[tuple[str, int], tuple[list[int], list[int]]] = {}
    for ctx, a, b in judged:
        g, lab = by_ctx.setdefault(ctx, ([], []))
        g.append(b)
        lab.append(a)
    ordered = [expected_order(g, lab) for g, lab in by_ctx.values() if len(set(lab)) >= 2]
    per_level: dict[int, list[int]] = {}
    for a, b in zip(intended, grades):
        per_level.setdefault(a, []).append(b)
    kappa = cohen_kappa(intended, grades, labels)
    kappa_lin = cohen_kappa(intended, grades, labels, "linear")
    return {
        "passages": len(pairs),
        "judged": len(judged),
        "unjudged": len(pairs) - len(judged),
        "exact_agreement": round(sum(a == b for a, b in zip(intended, grades)) / len(judged), 4) if judged else None,
        "cohen_kappa": None if kappa is None else round(kappa, 4),
        "cohen_kappa_linear": None if kappa_lin is None else round(kappa_lin, 4),
        "confusion_matrix": {
            "labels": list(labels),
            "rows": "intended level",
            "columns": "judged grade",
            "counts": confusion_matrix(intended, grades, labels),
        },
        "per_level_mean_grade": {
            str(lab): round(sum(per_level[lab]) / len(per_level[lab]), 4) for lab in labels if per_level.get(lab)
        },
        "contexts": len(by_ctx),
        "share_expected_order": round(sum(ordered) / len(ordered), 4) if ordered else None,
    }
