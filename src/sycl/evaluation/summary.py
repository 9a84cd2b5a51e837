"""Markdown summary of an evaluation: one row per data set and split, plus the average."""

from __future__ import annotations

from sycl.io.records import MetricsRecord


def render_summary(report: MetricsRecord, digits: int = 4) -> str:
    """``metrics.json`` -> a Markdown table (measures as columns, mean over data sets last)."""
    results = report.results
    measures: list[str] = []
    for r in results:
        for m in r.measures:
            if m not in measures:
                measures.append(m)
    lines = [f"# Evaluation of `{report.model}`", ""]
    head = ["data set", "split", "queries", "rel. level", *measures]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    fmt = f"{{:.{digits}f}}"
    for r in results:
        vals = [fmt.format(r.measures[m]) if m in r.measures else "" for m in measures]
        lines.append(f"| {r.dataset} | {r.split} | {r.n_queries} | {r.relevance_level} | " + " | ".join(vals) + " |")
    if len(results) > 1:
        avg = []
        for m in measures:
            xs = [r.measures[m] for r in results if m in r.measures]
            avg.append(fmt.format(sum(xs) / len(xs)) if xs else "")
        lines.append(f"| **average** ({len(results)}) | | | | " + " | ".join(avg) + " |")
    notes = []
    for r in results:
        if r.relevant_identical_dropped:
            notes.append(
                f"- {r.dataset}: the identical-id rule dropped {r.relevant_identical_dropped} judged-relevant "
                "document(s) whose id equals the query id (counted as relevant, never retrieved)."
            )
        if r.missing_documents:
            notes.append(
                f"- {r.dataset}: {r.missing_documents} of {r.judgements} judgements point at "
                "documents missing from the corpus (counted as relevant, never retrieved)."
            )
        if r.unknown_queries:
            notes.append(f"- {r.dataset}: {r.unknown_queries} judged queries missing from queries.jsonl were skipped.")
    lines.append("")
    lines.append("nDCG uses graded labels (trec_eval linear gain); binary measures count label >= the relevance level.")
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
