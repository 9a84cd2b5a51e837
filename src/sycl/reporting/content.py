"""What a report says, independent of its format: tables, charts, samples and notes.

:func:`collect` turns discovered :class:`~sycl.reporting.discovery.Artefacts` into a
:class:`ReportContent` that the HTML and Markdown renderers both lay out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sycl.evaluation.compare import MARK
from sycl.io.errors import DataError
from sycl.io.markdown import fmt
from sycl.reporting import plots
from sycl.reporting.config import DEFAULT_MEASURE
from sycl.reporting.differences import ALPHA, paired_rows
from sycl.reporting.discovery import Artefacts
from sycl.reporting.samples import SampleContext, label_counts, sample_contexts, training_qrels


@dataclass
class Table:
    """A rectangular table; ``bold[r][c]`` marks best-in-column cells. Cells are plain strings."""

    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]] = field(default_factory=list)
    caption: str = ""

    def numeric_columns(self) -> list[bool]:
        """Per column, whether every non-empty cell reads as a number (such columns align right)."""

        def num(cell: str) -> bool:
            try:
                float(cell.replace(",", "").rstrip("%*"))  # "*" marks a significant difference
                return True
            except ValueError:
                return cell in ("\u2014", "")

        return [c > 0 and all(num(row[c]) for row in self.rows) for c in range(len(self.header))]


@dataclass
class Section:
    """One part of the report: a heading, tables, charts, samples and free-text notes."""

    section_id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[plots.Chart] = field(default_factory=list)
    samples: dict[str, list[SampleContext]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # label -> preformatted text


@dataclass
class ReportContent:
    title: str
    created: str
    run_dirs: list[str]
    sections: list[Section]
    notes: list[str]

    def charts(self) -> list[plots.Chart]:
        return [c for s in self.sections for c in s.charts]


def _best_flags(values: list[list[float | None]]) -> list[list[bool]]:
    """Per column, mark the highest value (ties all marked); single-row tables mark nothing."""
    flags = [[False] * len(r) for r in values]
    if len(values) < 2:
        return flags
    for c in range(len(values[0])):
        col = [r[c] for r in values if r[c] is not None]
        if len(col) < 2:
            continue
        best = max(col)
        for r, row in enumerate(values):
            flags[r][c] = row[c] is not None and math.isclose(row[c], best, rel_tol=0, abs_tol=1e-12)
    return flags


def _levels(mapping, where: str, notes: list[str]) -> dict[int, float]:
    out = {}
    for k, v in (mapping or {}).items():
        try:
            out[int(k)] = v
        except (TypeError, ValueError):
            notes.append(f"{where}: ignored non-integer level {k!r}")
    return out


def _evaluation_section(art: Artefacts, measure: str, colours: dict[str, str]) -> Section:
    sec = Section("metrics", "Retrieval effectiveness")
    if not art.evaluations:
        sec.notes.append('No evaluation results (metrics.json with "kind": "evaluation") found.')
        return sec
    pairs = {(r["dataset"], r.get("split", "test")) for e in art.evaluations for r in e.results}
    multi_split = {d for d, _ in pairs if sum(1 for d2, _ in pairs if d2 == d) > 1}

    def key(r):
        return f"{r['dataset']}/{r.get('split', 'test')}" if r["dataset"] in multi_split else r["dataset"]

    datasets: list[str] = []
    measures: list[str] = []
    for e in art.evaluations:
        for r in e.results:
            datasets += [key(r)] if key(r) not in datasets else []
            measures += [m for m in r["measures"] if m not in measures]
    if measure in measures:
        measures.remove(measure)
        measures.insert(0, measure)
    else:
        sec.notes.append(f"No result reports {measure}; the chart uses {measures[0]} instead.")
        measure = measures[0]
    scores = {e.name: {key(r): r["measures"] for r in e.results} for e in art.evaluations}
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
    sec.tables.append(
        Table(
            header,
            cells,
            [[False] + f for f in _best_flags(values)],
            f"{measure} per data set (best per column in bold"
            + (
                f"; {MARK}: significantly different from {base}, paired t-test, Holm-corrected p < {ALPHA})"
                if diff_rows
                else ")"
            ),
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
        n_q = {r.get("n_queries") for e in models for r in e.results if key(r) == d}
        caption = f"{d}: all measures" + (
            f" ({fmt(next(iter(n_q)))} queries)" if len(n_q) == 1 and None not in n_q else ""
        )
        sec.tables.append(
            Table(
                ["model"] + measures,
                [[e.name] + [fmt(v) for v in row] for e, row in zip(models, vals)],
                [[False] + f for f in _best_flags(vals)],
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
    names = {e.name: e.metrics.get("model") for e in art.evaluations}
    if any(names.values()):
        sec.tables.append(
            Table(
                ["name", "model evaluated"],
                [[k, str(v or "\u2014")] for k, v in names.items()],
                caption="What each evaluation ran on",
            )
        )
    return sec


def _training_section(art: Artefacts, colours: dict[str, str]) -> Section:
    sec = Section("training", "Training")
    if not art.trainings:
        sec.notes.append("No trained models (training.json / training_log.jsonl) found.")
        return sec
    rows = []
    for t in art.trainings:
        info = t.info or {}
        losses = [
            r["loss"] for r in t.log if isinstance(r.get("loss"), (int, float)) and not isinstance(r.get("loss"), bool)
        ]
        counts = info.get("label_counts") or {}
        n_passages = sum(v for v in counts.values() if isinstance(v, int)) if isinstance(counts, dict) else None
        rows.append(
            [
                t.name,
                str(info.get("base_model", "\u2014")),
                str(info.get("loss", "\u2014")),
                fmt(info.get("n_queries")),
                fmt(n_passages or None),
                fmt(info.get("steps")),
                fmt(info.get("seconds"), 1),
                fmt(losses[0]) if losses else "\u2014",
                fmt(losses[-1]) if losses else "\u2014",
            ]
        )
    sec.tables.append(
        Table(
            ["model", "base model", "loss", "queries", "passages", "steps", "seconds", "first loss", "last loss"],
            rows,
            caption="Trained models",
        )
    )
    logs = {t.name: t.log for t in art.trainings if t.log}
    for chart in (plots.loss_curves(logs, colours), plots.diagnostics(logs, colours)):
        if chart:
            sec.charts.append(chart)
    if logs and not any(c.chart_id == "chart-diagnostics" for c in sec.charts):
        sec.notes.append(
            "The training logs carry no collapse diagnostics (own_group_prob, passage_mean_cos, top1_own)."
        )
    for t in art.trainings:
        warnings = (t.info or {}).get("collapse_warnings")
        if isinstance(warnings, list) and warnings:
            sec.notes.append(
                f"{t.name}: the collapse guard warned {len(warnings)} time(s); first: {str(warnings[0])[:300]}"
            )
        elif isinstance(warnings, int) and warnings:
            sec.notes.append(f"{t.name}: the collapse guard warned {warnings} time(s).")
    for t in art.trainings:
        if t.info and isinstance(t.info.get("config"), dict):
            sec.details[f"configuration of {t.name}"] = json.dumps(
                t.info["config"], indent=2, ensure_ascii=False, default=str
            )
    return sec


def _data_section(art: Artefacts, n_samples: int, max_chars: int, notes: list[str], colours: dict[str, str]) -> Section:
    sec = Section("data", "Training data")
    counts: dict[str, dict[int, int]] = {}
    for t in art.trainings:
        lc = (t.info or {}).get("label_counts")
        if isinstance(lc, dict) and lc:
            counts[t.name] = {k: int(v) for k, v in _levels(lc, f"{t.path}/training.json", notes).items()}
    for g in art.generations:
        found = training_qrels(g.path)
        if found is None:
            sec.notes.append(f"Generated set {g.name}: no qrels found in {g.path / 'qrels'}.")
            continue
        counts[f"generated: {g.name}"] = label_counts(found[1])
    chart = plots.label_distribution(counts, colours)
    if chart:
        sec.charts.append(chart)
    else:
        sec.notes.append("No label counts (training.json label_counts or generated qrels) found.")
    for i, g in enumerate(art.generations):
        m = g.manifest
        c = m.get("counts") or {}
        q = m.get("quality") or {}
        tm = m.get("timings") or {}
        sec.tables.append(
            Table(
                [
                    "generated set",
                    "backend",
                    "model",
                    "queries",
                    "done",
                    "failed",
                    "passages",
                    "seconds",
                    "tokens/s",
                    "judge",
                    "Kendall tau",
                    "expected order",
                ],
                [
                    [
                        g.name,
                        str(m.get("backend", "\u2014")),
                        str(m.get("model", "\u2014")),
                        fmt(c.get("queries")),
                        fmt(c.get("done")),
                        fmt(c.get("failed")),
                        fmt(c.get("passages")),
                        fmt(tm.get("seconds"), 1),
                        fmt(tm.get("tokens_per_s"), 1),
                        str(q.get("judge", "\u2014")),
                        fmt(q.get("kendall_tau_mean"), 3),
                        fmt(q.get("share_expected_order"), 3),
                    ]
                ],
                caption="Generation",
            )
        )
        lj = m.get("llm_judge")
        if isinstance(lj, dict) and isinstance(lj.get("confusion_matrix"), dict):
            cm = lj["confusion_matrix"]
            labels = [str(x) for x in cm.get("labels") or []]
            sec.tables.append(
                Table(
                    ["intended \u2193 / graded \u2192", *labels],
                    [[lab, *(fmt(v) for v in row)] for lab, row in zip(labels, cm.get("counts") or [])],
                    caption=f"LLM judge {lj.get('model', '')} on {g.name}: Cohen's kappa {fmt(lj.get('cohen_kappa'), 3)}, "
                    f"exact agreement {fmt(lj.get('exact_agreement'), 3)}, contexts in the expected order "
                    f"{fmt(lj.get('share_expected_order'), 3)}, graded {fmt(lj.get('judged'))} of "
                    f"{fmt(lj.get('passages'))} passages",
                )
            )
        failures = m.get("failures") or []
        if isinstance(failures, list) and failures:
            first = failures[0] if isinstance(failures[0], dict) else {}
            sec.notes.append(
                f"Generated set {g.name}: {len(failures)} quer(y/ies) failed; first: "
                f"{first.get('query_id', '?')}: {str(first.get('error', ''))[:200]}"
            )
        per_level = _levels(q.get("per_level_mean"), f"{g.path}/manifest.json", notes)
        per_level = {k: float(v) for k, v in per_level.items() if isinstance(v, (int, float))}
        chart = plots.level_quality(
            per_level,
            str(q.get("judge", "")),
            q.get("kendall_tau_mean"),
            q.get("share_expected_order"),
            g.name if len(art.generations) > 1 else "",
            f"chart-quality-{i}",
        )
        if chart:
            sec.charts.append(chart)
        else:
            sec.notes.append(
                f"Generated set {g.name}: the manifest has no quality.per_level_mean; no level-quality chart."
            )
        try:
            samples = sample_contexts(g.path, n_samples, max_chars)
        except DataError as err:
            sec.notes.append(f"Generated set {g.name}: no sample contexts ({err}).")
            continue
        if samples:
            sec.samples[g.name] = samples
    return sec


def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _provenance_section(art: Artefacts) -> Section:
    sec = Section("provenance", "Provenance")
    for r in art.runs:
        rows = []
        for k, v in r.manifest.items():
            if k in ("kind", "config"):
                continue
            if isinstance(v, dict):
                rows += [
                    [f"{k}.{k2}", fmt(v2) if not isinstance(v2, (dict, list)) else json.dumps(v2, default=str)[:300]]
                    for k2, v2 in _flat(v)
                ]
            elif isinstance(v, list):
                rows.append([k, json.dumps(v, ensure_ascii=False, default=str)[:300]])
            else:
                rows.append([k, fmt(v)])
        sec.tables.append(Table(["field", "value"], rows, caption=f"Run manifest: {r.name}"))
        if "config" in r.manifest:
            sec.details[f"run configuration ({r.name})"] = json.dumps(
                r.manifest["config"], indent=2, ensure_ascii=False, default=str
            )
    return sec


def collect(art: Artefacts, title: str, measure: str, n_samples: int, max_chars: int) -> ReportContent:
    """Build every section that has data; sections without data carry a note instead."""
    notes = list(art.notes)
    names = (
        [e.name for e in art.evaluations]
        + [t.name for t in art.trainings]
        + [f"generated: {g.name}" for g in art.generations]
    )
    colours = plots.colour_map(names)
    sections = [
        _evaluation_section(art, measure, colours),
        _training_section(art, colours),
        _data_section(art, n_samples, max_chars, notes, colours),
    ]
    if art.runs:
        sections.append(_provenance_section(art))
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ReportContent(title, created, [str(d) for d in art.run_dirs], sections, notes)


__all__ = ["ReportContent", "Section", "Table", "collect", "fmt", "DEFAULT_MEASURE"]
