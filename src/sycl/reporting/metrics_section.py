"""The report's retrieval-effectiveness section: the headline measure per data set, paired differences,
every measure per data set, and a bar chart."""

from __future__ import annotations

from sycl.evaluation.compare import MARK
from sycl.io.markdown import fmt
from sycl.io.records import EvaluationResult
from sycl.reporting import plots
from sycl.reporting.differences import ALPHA, paired_rows
from sycl.reporting.discovery import Artefacts
from sycl.reporting.tables import Section, Table, best_flags


def metrics_section(art: Artefacts, measure: str, colours: dict[str, str]) -> Section:
    sec = Section("metrics", "Retrieval effectiveness")
    if not art.evaluations:
        sec.notes.append('No evaluation results (metrics.json with "kind": "evaluation") found.')
        return sec
    pairs = {(r.dataset, r.split) for e in art.evaluations for r in e.results}
    multi_split = {d for d, _ in pairs if sum(1 for d2, _ in pairs if d2 == d) > 1}

    def key(r: EvaluationResult) -> str:
        return f"{r.dataset}/{r.split}" if r.dataset in multi_split else r.dataset

    datasets: list[str] = []
    measures: list[str] = []
    for e in art.evaluations:
        for r in e.results:
            datasets += [key(r)] if key(r) not in datasets else []
            measures += [m for m in r.measures if m not in measures]
    if measure in measures:
        measures.remove(measure)
        measures.insert(0, measure)
    else:
        sec.notes.append(f"No result reports {measure}; the chart uses {measures[0]} instead.")
        measure = measures[0]
    scores = {e.name: {key(r): r.measures for r in e.results} for e in art.evaluations}
    # Summary: the headline measure over data sets, plus the mean over data sets each model has.
    header = ["model"] + datasets + (["average"] if len(datasets) > 1 else [])
    values = []
    for e in art.evaluations:
        row = [scores[e.name].get(d, {}).get(measure) for d in datasets]
        if len(datasets) > 1:
            have = [v for v in row if v is not None]
            row.append(sum(have) / len(have) if len(have) == len(datasets) else None)
        values.append(row)
    diff_rows, marks, base = paired_rows(art.evaluations, key, measure)
    cells = [
        [e.name] + [fmt(v) + (MARK if marks.get((e.name, d)) else "") for v, d in zip(row, datasets + ["average"])]
        for e, row in zip(art.evaluations, values)
    ]
    significance = f"; {MARK}: significantly different from {base}, paired t-test, Holm-corrected p < {ALPHA}"
    sec.tables.append(
        Table(
            header,
            cells,
            [[False] + f for f in best_flags(values)],
            f"{measure} per data set (best per column in bold{significance if diff_rows else ''})",
        )
    )
    if diff_rows:
        sec.tables.append(
            Table(
                ["model", "data set", f"{measure} difference (points)", "95% interval", "p", "p (Holm)", "queries"],
                diff_rows,
                caption=f"Paired differences against {base}, query by query ({MARK}: Holm-corrected p < {ALPHA})",
            )
        )
    for d in datasets:
        models = [e for e in art.evaluations if d in scores[e.name]]
        vals = [[scores[e.name][d].get(m) for m in measures] for e in models]
        n_q = {r.n_queries for e in models for r in e.results if key(r) == d}
        caption = f"{d}: all measures" + (
            f" ({fmt(next(iter(n_q)))} queries)" if len(n_q) == 1 and None not in n_q else ""
        )
        sec.tables.append(
            Table(
                ["model"] + measures,
                [[e.name] + [fmt(v) for v in row] for e, row in zip(models, vals)],
                [[False] + f for f in best_flags(vals)],
                caption,
            )
        )
    chart = plots.metric_bars(
        {e.name: {d: s[measure] for d, s in scores[e.name].items() if measure in s} for e in art.evaluations},
        measure,
        colours,
    )
    if chart:
        sec.charts.append(chart)
    sec.tables.append(
        Table(
            ["name", "model evaluated", "search"],
            [[e.name, e.metrics.model, _search(e.results)] for e in art.evaluations],
            caption="What each evaluation ran on (search: the path that ran, auto resolved)",
        )
    )
    return sec


def _search(results: list[EvaluationResult]) -> str:
    paths = list(dict.fromkeys(r.search_path for r in results if r.search_path))
    return ", ".join(paths) or "\u2014"
