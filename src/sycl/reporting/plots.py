"""The report's charts, drawn with matplotlib's object API on the Agg canvas (no display needed).

Each function returns a :class:`Chart` holding PNG bytes, or ``None`` when its data is absent.
Inputs are plain numbers already pulled out of the artefacts, so the charts can be tested alone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 110
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
LEVEL_COLOURS = {3: "#1a9850", 2: "#91cf60", 1: "#fc8d59", 0: "#d73027"}


@dataclass
class Chart:
    """One figure: ``chart_id`` is a stable HTML id / file stem, ``png`` the encoded image."""

    chart_id: str
    title: str
    alt: str
    png: bytes
    caption: str = ""


def colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def colour_map(names: Sequence[str]) -> dict[str, str]:
    """One colour per name, in order, so that a model keeps its colour across all charts."""
    return {n: colour(i) for i, n in enumerate(dict.fromkeys(names))}


def _pick(colours: Mapping[str, str] | None, name: str, i: int) -> str:
    return (colours or {}).get(name) or colour(i)


def _render(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _style(ax, xlabel: str, ylabel: str) -> None:
    if xlabel == "step":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _series(log: Sequence[Mapping], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of the finite numeric ``key`` entries; rows without ``step`` use their index."""
    xs, ys = [], []
    for i, row in enumerate(log):
        v = row.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(row.get("step", i)))
            ys.append(float(v))
    return xs, ys


def _smooth(ys: list[float], alpha: float) -> list[float]:
    out, acc = [], None
    for y in ys:
        acc = y if acc is None else alpha * acc + (1 - alpha) * y
        out.append(acc)
    return out


def loss_curves(logs: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str] | None = None) -> Chart | None:
    """Training loss over optimiser steps, one line per model (``{name: log rows}``).

    Logs with more than 50 points are drawn faintly with an exponential moving average on top.
    """
    series = {name: _series(log, "loss") for name, log in logs.items()}
    series = {k: v for k, v in series.items() if v[0]}
    if not series:
        return None
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        c = _pick(colours, name, i)
        if len(ys) > 50:
            ax.plot(xs, ys, color=c, alpha=0.25, linewidth=0.8)
            ax.plot(xs, _smooth(ys, 0.9), color=c, linewidth=1.8, label=f"{name} (EMA)")
        else:
            ax.plot(xs, ys, color=c, linewidth=1.8, marker="o" if len(ys) < 15 else None, markersize=3, label=name)
    _style(ax, "step", "training loss")
    ax.legend(frameon=False, fontsize=9)
    ax.set_title("Training loss")
    return Chart("chart-loss", "Training loss", "Training loss curves: " + ", ".join(series), _render(fig))


DIAGNOSTICS = {
    "own_group_prob": "probability mass on the query's own group",
    "passage_mean_cos": "mean cosine between passages",
    "top1_own": "share of queries whose top passage is their own",
}


def diagnostics(logs: Mapping[str, Sequence[Mapping]], colours: Mapping[str, str] | None = None) -> Chart | None:
    """Collapse diagnostics over steps (``own_group_prob``, ``passage_mean_cos``), one panel each."""
    present = [k for k in DIAGNOSTICS if any(_series(log, k)[0] for log in logs.values())]
    if not present:
        return None
    fig = Figure(figsize=(7.5 if len(present) == 1 else 4.2 * len(present), 3.5))
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax, key in zip(axes, present):
        for i, (name, log) in enumerate(logs.items()):
            xs, ys = _series(log, key)
            if xs:
                ax.plot(
                    xs,
                    _smooth(ys, 0.8) if len(ys) > 50 else ys,
                    color=_pick(colours, name, i),
                    linewidth=1.6,
                    label=name,
                )
        _style(ax, "step", key)
        ax.set_title(DIAGNOSTICS[key], fontsize=10)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return Chart(
        "chart-diagnostics",
        "Collapse diagnostics",
        "Collapse diagnostics over training steps: " + ", ".join(present),
        _render(fig),
        "A passage_mean_cos drifting towards 1 means all passages map to nearly the same vector (collapse).",
    )


def metric_bars(
    scores: Mapping[str, Mapping[str, float]], measure: str, colours: Mapping[str, str] | None = None
) -> Chart | None:
    """Grouped bars: one group per data set, one bar per model (``{model: {dataset: value}}``)."""
    datasets: list[str] = []
    for per in scores.values():
        datasets += [d for d in per if d not in datasets]
    if not datasets:
        return None
    models = list(scores)
    n = len(models)
    width = min(0.8, 0.25 * n) / n
    fig = Figure(figsize=(max(6.0, 1.2 + len(datasets) * (0.5 + 0.45 * n)), 3.9))
    ax = fig.add_subplot()
    for i, m in enumerate(models):
        xs = [j - width * n / 2 + width * (i + 0.5) for j, d in enumerate(datasets) if d in scores[m]]
        ys = [scores[m][d] for d in datasets if d in scores[m]]
        bars = ax.bar(xs, ys, width=width * 0.95, color=_pick(colours, m, i), label=m)
        if n * len(datasets) <= 24:
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_xlim(-0.6, len(datasets) - 0.4)
    _style(ax, "data set", measure)
    top = max((v for per in scores.values() for v in per.values()), default=1.0)
    ax.set_ylim(0, max(top * 1.15, 0.05))
    ax.legend(frameon=False, fontsize=8, ncols=min(n, 4), loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax.set_title(f"{measure} per data set")
    return Chart(
        "chart-metrics",
        f"{measure} per data set",
        f"Bar chart of {measure} per data set for " + ", ".join(models),
        _render(fig),
    )


def label_distribution(
    counts: Mapping[str, Mapping[int, int]], colours: Mapping[str, str] | None = None
) -> Chart | None:
    """Grouped bars of passages per relevance label, one bar per source (``{source: {label: n}}``)."""
    counts = {k: v for k, v in counts.items() if v}
    if not counts:
        return None
    labels = sorted({lab for per in counts.values() for lab in per}, reverse=True)
    n = len(counts)
    width = min(0.8, 0.25 * n) / n
    fig = Figure(figsize=(max(5.5, 1.5 + len(labels) * (0.4 + 0.4 * n)), 3.6))
    ax = fig.add_subplot()
    for i, (src, per) in enumerate(counts.items()):
        xs = [j - width * n / 2 + width * (i + 0.5) for j in range(len(labels))]
        ys = [per.get(lab, 0) for lab in labels]
        bars = ax.bar(xs, ys, width=width * 0.95, color=_pick(colours, src, i), label=src)
        ax.bar_label(bars, fontsize=7, padding=1)
    ax.set_xticks(range(len(labels)), [f"level {lab}" for lab in labels])
    _style(ax, "relevance label", "passages")
    top = max((v for per in counts.values() for v in per.values()), default=1)
    ax.set_ylim(0, top * 1.15 + 0.5)
    ax.legend(frameon=False, fontsize=8, ncols=min(n, 4), loc="upper center", bbox_to_anchor=(0.5, -0.16))
    ax.set_title("Label distribution of the training data")
    return Chart(
        "chart-labels", "Label distribution", "Passages per relevance label: " + ", ".join(counts), _render(fig)
    )


def level_quality(
    per_level: Mapping[int, float],
    judge: str = "",
    tau: float | None = None,
    share: float | None = None,
    name: str = "",
    chart_id: str = "chart-quality",
) -> Chart | None:
    """Bars of the judge's mean score per generated level (3 -> 0 left to right).

    ``tau`` is the mean Kendall tau between intended levels and judge scores per query and
    ``share`` the share of queries whose passages the judge ranks in exactly the intended order.
    """
    if not per_level:
        return None
    levels = sorted(per_level, reverse=True)
    fig = Figure(figsize=(5.8, 3.6))
    ax = fig.add_subplot()
    bars = ax.bar(
        [f"level {lv}" for lv in levels],
        [per_level[lv] for lv in levels],
        color=[LEVEL_COLOURS.get(lv, "#777777") for lv in levels],
        width=0.6,
    )
    ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=1)
    _style(ax, "intended relevance level", f"mean judge score{f' ({judge})' if judge else ''}")
    stats = []
    if tau is not None:
        stats.append(f"Kendall tau {tau:.3f}")
    if share is not None:
        stats.append(f"expected order {share:.0%}")
    ax.set_title(
        "Judge score per level" + (f" - {name}" if name else "") + (f"\n{', '.join(stats)}" if stats else ""),
        fontsize=10,
    )
    lo = min(0.0, min(per_level.values()) * 1.15)
    ax.set_ylim(lo, max(max(per_level.values()) * 1.18, 0.05))
    return Chart(
        chart_id,
        f"Level quality{f' ({name})' if name else ''}",
        f"Mean judge score per intended level{f' for {name}' if name else ''}",
        _render(fig),
        ", ".join(stats),
    )
