"""Paired differences for the report: each evaluation against the first one, query by query.

For the headline measure and every data set an evaluation shares with the baseline (the first
evaluation found), the table gives the difference in points (x100), its 95% interval and the
paired t-test's p-value, Holm-corrected over the table's comparisons
(:mod:`sycl.evaluation.significance`); significant differences (corrected p < 0.05) carry
:data:`~sycl.evaluation.compare.MARK`, here and in the summary table. Each ``metrics.json`` is one
run; ``sycl compare`` pools several seeds of a system.
"""

from __future__ import annotations

from sycl.evaluation.compare import MARK
from sycl.evaluation.identity import same_dataset
from sycl.evaluation.significance import adjust, compare_paired

ALPHA = 0.05


def paired_rows(evaluations, key, measure: str) -> tuple[list[list[str]], dict[tuple[str, str], bool], str]:
    """``(table rows, {(evaluation name, data set): significant}, baseline name)``; no rows if nothing pairs."""
    if len(evaluations) < 2:
        return [], {}, ""
    base = evaluations[0]
    base_entries = {key(r): r for r in base.results}
    found = []
    for e in evaluations[1:]:
        for r in e.results:
            d, pq = key(r), r.per_query.get(measure)
            ref = base_entries[d].per_query.get(measure) if d in base_entries else None
            if not pq or not ref or set(pq) != set(ref) or len(ref) < 2:
                continue
            if (
                same_dataset(r.model_dump(exclude_none=True), base_entries[d].model_dump(exclude_none=True)) is False
            ):  # another data set under the same name
                continue
            qids = sorted(ref)
            res = compare_paired([pq[q] for q in qids], [ref[q] for q in qids], "t")
            found.append((e.name, d, res))
    if not found:
        return [], {}, base.name
    rows, marks = [], {}
    for (name, d, res), p_adj in zip(found, adjust([f[2].p for f in found], "holm")):
        sig = p_adj < ALPHA
        marks[(name, d)] = sig
        rows.append(
            [
                name,
                d,
                f"{res.diff * 100:+.2f}{MARK if sig else ''}",
                f"[{res.ci_low * 100:+.2f}, {res.ci_high * 100:+.2f}]",
                f"{res.p:.4f}",
                f"{p_adj:.4f}",
                f"{res.n_queries:,}",
            ]
        )
    return rows, marks, base.name
