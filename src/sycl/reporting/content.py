"""What a report says, independent of its format: tables, charts, samples and notes.

:func:`collect` turns discovered :class:`~sycl.reporting.discovery.Artefacts` into a
:class:`ReportContent` that the HTML and Markdown renderers both lay out. Each section is built
by its own module from the typed records (:mod:`sycl.io.records`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sycl.io.markdown import fmt
from sycl.reporting import plots
from sycl.reporting.config import DEFAULT_MEASURE
from sycl.reporting.data_section import data_section
from sycl.reporting.discovery import Artefacts
from sycl.reporting.metrics_section import metrics_section
from sycl.reporting.tables import Section, Table
from sycl.reporting.training_section import training_section


@dataclass
class ReportContent:
    title: str
    created: str
    run_dirs: list[str]
    sections: list[Section]
    notes: list[str]

    def charts(self) -> list[plots.Chart]:
        return [c for s in self.sections for c in s.charts]


def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append((f"{prefix}{k}", v))
    return out


def _cell(v: object) -> str:
    return json.dumps(v, ensure_ascii=False)[:300] if isinstance(v, (dict, list)) else fmt(v)


def provenance_section(art: Artefacts) -> Section:
    """One field/value table per run manifest, and its configuration."""
    sec = Section("provenance", "Provenance")
    for r in art.runs:
        fields = r.manifest.model_dump(mode="json", exclude={"kind", "config"})
        sec.tables.append(
            Table(["field", "value"], [[k, _cell(v)] for k, v in _flat(fields)], caption=f"Run manifest: {r.name}")
        )
        sec.details[f"run configuration ({r.name})"] = json.dumps(r.manifest.config, indent=2, ensure_ascii=False)
    return sec


def collect(art: Artefacts, title: str, measure: str, n_samples: int, max_chars: int) -> ReportContent:
    """Build every section that has data; sections without data carry a note instead."""
    names = (
        [e.name for e in art.evaluations]
        + [t.name for t in art.trainings]
        + [f"generated: {g.name}" for g in art.generations]
    )
    colours = plots.colour_map(names)
    sections = [
        metrics_section(art, measure, colours),
        training_section(art, colours),
        data_section(art, n_samples, max_chars, colours),
    ]
    if art.runs:
        sections.append(provenance_section(art))
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return ReportContent(title, created, [str(d) for d in art.run_dirs], sections, list(art.notes))


__all__ = ["ReportContent", "Section", "Table", "collect", "fmt", "DEFAULT_MEASURE"]
