"""The report's training-data section: label distributions, each generated set's run, judges and samples."""

from __future__ import annotations

from sycl.io.errors import DataError
from sycl.io.markdown import fmt
from sycl.reporting import plots
from sycl.reporting.discovery import Artefacts, Generation
from sycl.reporting.samples import label_counts, sample_contexts, training_qrels
from sycl.reporting.tables import DASH, Section, Table

_HEADER = ["generated set", "backend", "model", "queries", "done", "failed", "passages", "seconds", "tokens/s"]
_HEADER += ["judge", "Kendall tau", "expected order"]


def _label(key: str) -> int | float:
    value = float(key)  # the record's keys are numbers (io.records.Label)
    return int(value) if value.is_integer() else value


def _generation_tables(g: Generation, sec: Section) -> None:
    m, c, q = g.manifest, g.manifest.counts, g.manifest.quality
    row = [g.name, m.backend, m.model, fmt(c.queries), fmt(c.done), fmt(c.failed), fmt(c.passages)]
    row += [fmt(m.timings.seconds, 1), fmt(m.timings.tokens_per_s, 1)]
    row += [q.judge, fmt(q.kendall_tau_mean, 3), fmt(q.share_expected_order, 3)] if q else [DASH, DASH, DASH]
    sec.tables.append(Table(_HEADER, [row], caption="Generation"))
    lj = m.llm_judge
    if lj is not None and lj.confusion_matrix is not None:
        labels = [str(x) for x in lj.confusion_matrix.labels]
        sec.tables.append(
            Table(
                ["intended \u2193 / graded \u2192", *labels],
                [[lab, *(fmt(v) for v in row)] for lab, row in zip(labels, lj.confusion_matrix.counts)],
                caption=f"LLM judge {lj.model or ''} on {g.name}: Cohen's kappa {fmt(lj.cohen_kappa, 3)}, "
                f"exact agreement {fmt(lj.exact_agreement, 3)}, contexts in the expected order "
                f"{fmt(lj.share_expected_order, 3)}, graded {fmt(lj.judged)} of {fmt(lj.passages)} passages",
            )
        )
    if m.failures:
        first = m.failures[0]
        sec.notes.append(
            f"Generated set {g.name}: {len(m.failures)} quer(y/ies) failed; first: {first.query_id}: {first.error[:200]}"
        )


def data_section(art: Artefacts, n_samples: int, max_chars: int, colours: dict[str, str]) -> Section:
    sec = Section("data", "Training data")
    counts: dict[str, dict] = {
        t.name: {_label(k): v for k, v in t.info.label_counts.items()}
        for t in art.trainings
        if t.info is not None and t.info.label_counts
    }
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
        _generation_tables(g, sec)
        q = g.manifest.quality
        chart = None
        if q is not None:
            chart = plots.level_quality(
                q.per_level_mean,
                q.judge,
                q.kendall_tau_mean,
                q.share_expected_order,
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
