"""The report's training section: one row per trained model, loss curves, collapse diagnostics."""

from __future__ import annotations

import json
import math

from sycl.io.markdown import fmt
from sycl.reporting import plots
from sycl.reporting.discovery import Artefacts, Training
from sycl.reporting.tables import DASH, Section, Table


def _row(t: Training) -> list[str]:
    losses = [r.loss for r in t.log if r.loss is not None and math.isfinite(r.loss)]
    first_last = [fmt(losses[0]), fmt(losses[-1])] if losses else [DASH, DASH]
    info = t.info
    if info is None:
        return [t.name] + [DASH] * 6 + first_last
    passages = sum(info.label_counts.values())
    return [
        t.name,
        info.base_model,
        info.loss,
        fmt(info.n_queries),
        fmt(passages or None),
        fmt(info.steps),
        fmt(info.seconds, 1),
        *first_last,
    ]


def training_section(art: Artefacts, colours: dict[str, str]) -> Section:
    sec = Section("training", "Training")
    if not art.trainings:
        sec.notes.append("No trained models (training.json / training_log.jsonl) found.")
        return sec
    sec.tables.append(
        Table(
            ["model", "base model", "loss", "queries", "passages", "steps", "seconds", "first loss", "last loss"],
            [_row(t) for t in art.trainings],
            caption="Trained models",
        )
    )
    logs = {t.name: [r.model_dump() for r in t.log] for t in art.trainings if t.log}
    for chart in (plots.loss_curves(logs, colours), plots.diagnostics(logs, colours)):
        if chart:
            sec.charts.append(chart)
    if logs and not any(c.chart_id == "chart-diagnostics" for c in sec.charts):
        sec.notes.append(
            "The training logs carry no collapse diagnostics (own_group_prob, passage_mean_cos, top1_own)."
        )
    for t in art.trainings:
        if t.info is not None and t.info.collapse_warnings:
            sec.notes.append(f"{t.name}: the collapse guard warned {t.info.collapse_warnings} time(s).")
    for t in art.trainings:
        if t.info is not None:
            sec.details[f"configuration of {t.name}"] = json.dumps(t.info.config, indent=2, ensure_ascii=False)
    return sec
