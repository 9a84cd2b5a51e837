"""Compare evaluated systems query by query: what ``sycl compare`` computes and prints.

A *system* is one or more evaluation outputs (``metrics.json`` files, or folders holding one)
of the same model recipe, e.g. one per training seed. Each output's ``results`` carry the
per-query values of every measure (``per_query``), so no run file has to be scored again.
For every data set (name and split) that all systems evaluated, every measure asked for, and
every pair (each system against the first, the baseline, or all pairs), :func:`compare_systems`
gives the per-query differences, the mean difference with its confidence interval, the p-value
of the chosen test (:mod:`sycl.evaluation.significance`) and that p-value corrected for the
comparisons of the same measure (Holm by default). A difference is *significant* when its
corrected p-value is below ``alpha``; tables mark it with :data:`MARK`. Results are paired only
when they scored the same data set (:mod:`sycl.evaluation.identity`): the same name is not enough.
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field

from sycl.config import StrictModel
from sycl.evaluation.identity import check_same_dataset
from sycl.evaluation.significance import Correction, Test, adjust, compare_paired
from sycl.io.errors import DataError
from sycl.io.records import ComparisonRecord, EvaluationResult, MetricsRecord, peek_kind, read_record

MARK = "*"


class CompareConfig(StrictModel):
    """Settings of a paired comparison of evaluated systems."""

    measures: list[str] = Field(default_factory=lambda: ["nDCG@10"], description="measures compared")
    test: Test = Field(
        default="t",
        description="t: paired t-test (two-way query x seed model with several runs); "
        "randomisation: paired sign-flip test over queries",
    )
    correction: Correction = Field(default="holm", description="multiple-comparison correction per measure")
    alpha: float = Field(default=0.05, gt=0, lt=1, description="significance level of the corrected p-values")
    confidence: float = Field(default=0.95, gt=0, lt=1, description="confidence level of the intervals")
    samples: int = Field(default=10000, ge=100, description="random sign patterns of the randomisation test")
    seed: int = Field(default=0, description="seed of the randomisation test")
    all_pairs: bool = Field(default=False, description="compare every pair, not only each system with the first")


@dataclass
class System:
    """A named system: its evaluation outputs (one per run) as read from ``metrics.json``."""

    name: str
    paths: list[Path]
    reports: list[MetricsRecord] = field(default_factory=list)

    def results(self) -> list[dict[str, EvaluationResult]]:
        """Per run, ``{"dataset/split": result entry}``."""
        return [{f"{r.dataset}/{r.split}": r for r in rep.results} for rep in self.reports]


def _metrics_file(path: Path) -> Path:
    if path.is_file():
        return path
    if (path / "metrics.json").is_file():
        return path / "metrics.json"
    found = sorted(p for p in path.rglob("metrics.json") if peek_kind(p) == "evaluation")
    if len(found) == 1:
        return found[0]
    if not found:
        raise DataError(path, "no metrics.json (an evaluation output) in this folder")
    raise DataError(
        path,
        f"{len(found)} evaluation outputs in this folder ({', '.join(str(p) for p in found[:3])}, ...): "
        "name the one to compare, or give the runs of one system as NAME=PATH,PATH",
    )


def load_system(spec: str) -> System:
    """``[NAME=]PATH[,PATH...]``: each PATH (a glob) a ``metrics.json`` or a folder holding one; one per run."""
    name, _, rest = spec.partition("=") if "=" in spec and "/" not in spec.split("=", 1)[0] else ("", "", spec)
    paths: list[Path] = []
    for part in filter(None, rest.split(",")):
        matches = sorted(glob.glob(part)) if glob.has_magic(part) else [part]
        if not matches:
            raise DataError(Path(part), "no file or folder matches this pattern")
        paths += [_metrics_file(Path(m)) for m in matches]
    if not paths:
        raise DataError(None, f"system {spec!r} names no evaluation output")
    reports = [read_record(p, MetricsRecord) for p in paths]
    if not name:
        name = paths[0].parent.name if len(paths) == 1 else Path(rest.split(",")[0]).name
    return System(name, paths, reports)


def per_query_matrix(
    system: System, key: str, measure: str, qids: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """``(query ids, scores [runs, queries])`` of ``measure`` on data set ``key``; query sets must agree."""
    rows = []
    for path, res in zip(system.paths, system.results()):
        entry = res[key]
        values = entry.per_query.get(measure)
        if values is None:
            raise DataError(path, f"{key} has no per-query values of {measure} (evaluate with --measure {measure})")
        if qids is None:
            qids = sorted(values)
        if set(values) != set(qids):
            missing = sorted(set(qids) ^ set(values))
            raise DataError(
                path,
                f"{key}: its queries differ from the other outputs' ({len(missing)} differ, "
                f"e.g. {', '.join(missing[:3])}); a paired comparison needs the same queries",
            )
        rows.append([values[q] for q in qids])
    return qids, np.asarray(rows, dtype=np.float64)


def compare_systems(systems: list[System], config: CompareConfig | None = None) -> ComparisonRecord:
    """Every comparison (see the module docstring), as the record ``sycl compare --out`` writes."""
    cfg = config or CompareConfig()
    if len(systems) < 2:
        raise DataError(None, "compare needs at least two systems")
    keys = [k for k in systems[0].results()[0] if all(k in r for s in systems for r in s.results())]
    if not keys:
        raise DataError(None, "the systems share no evaluated data set (name/split)")
    pairs = (
        [(i, j) for i in range(len(systems)) for j in range(i + 1, len(systems))]
        if cfg.all_pairs
        else [(i, 0) for i in range(1, len(systems))]
    )
    for key in keys:  # pair queries only of the same data set, not of two that share a name
        check_same_dataset(
            key,
            [
                (path, res[key].model_dump(exclude_none=True))
                for s in systems
                for path, res in zip(s.paths, s.results(), strict=True)
            ],
        )
    out = []
    for measure in cfg.measures:
        family = []
        for key in keys:
            qids, _ = per_query_matrix(systems[0], key, measure)
            scores = [per_query_matrix(s, key, measure, qids)[1] for s in systems]
            for i, j in pairs:
                try:
                    r = compare_paired(scores[i], scores[j], cfg.test, cfg.confidence, cfg.samples, cfg.seed)
                except ValueError as err:
                    raise DataError(systems[i].paths[0], f"{systems[i].name} vs {systems[j].name}: {err}") from None
                d = (
                    (scores[i] - scores[j]).mean(axis=0)
                    if scores[i].shape[0] == scores[j].shape[0]
                    else scores[i].mean(axis=0) - scores[j].mean(axis=0)
                )
                family.append(
                    {
                        "dataset": key,
                        "measure": measure,
                        "system": systems[i].name,
                        "baseline": systems[j].name,
                        **r.as_dict(),
                        "wins": int((d > 0).sum()),
                        "ties": int((d == 0).sum()),
                        "losses": int((d < 0).sum()),
                        "per_query": dict(zip(qids, d.tolist())),
                    }
                )
        for row, p_adj in zip(family, adjust([r["p"] for r in family], cfg.correction)):
            row["p_adjusted"] = p_adj
            row["significant"] = bool(p_adj < cfg.alpha)
        out += family
    return ComparisonRecord(
        settings=cfg.model_dump(mode="json"),
        systems={s.name: [str(p) for p in s.paths] for s in systems},
        comparisons=out,
    )


def undefined_as_null(record: ComparisonRecord) -> tuple[dict, list[str]]:
    """``record`` as a JSON object with every NaN or infinite number replaced by ``None`` (JSON has no NaN),
    and one line per comparison that had such values, naming them and why (e.g. an interval of a single query)."""
    notes: list[str] = []
    result = record.model_dump()  # python mode: NaN stays NaN here, to be found and named

    def clean(obj):
        if isinstance(obj, float) and not math.isfinite(obj):
            return None
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    for r in result.get("comparisons", []):
        bad = [k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)]
        bad += [f"per_query[{q}]" for q, v in r.get("per_query", {}).items() if not math.isfinite(v)]
        if bad:
            why = (
                f"{r['n_queries']} query: an interval and a t-test need at least two"
                if r.get("n_queries", 2) < 2
                else "undefined for these scores"
            )
            notes.append(
                f"{r['dataset']} {r['measure']} {r['system']} vs {r['baseline']}: {', '.join(bad)} "
                f"{'is' if len(bad) == 1 else 'are'} undefined ({why})"
            )
    return clean(result), notes


def render_comparison(result: ComparisonRecord) -> str:
    """A Markdown table of :func:`compare_systems`' comparisons (differences in points, x100)."""
    cfg = CompareConfig.model_validate(result.settings)
    level = round(cfg.confidence * 100)
    test = (
        "paired t-test (query x seed model with several runs)"
        if cfg.test == "t"
        else "paired randomisation test over queries"
    )
    lines = [
        f"{test}; p corrected with {cfg.correction} per measure; {MARK}: corrected p < {cfg.alpha}; "
        "differences and intervals in points (x100)",
        "",
        f"| data set | measure | system | baseline | system mean | baseline mean | difference | {level}% interval "
        "| p | p corrected | queries +/=/- | runs |",
        "|---|---|---|---|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in result.comparisons:
        mark = MARK if r.significant else ""
        lines.append(
            f"| {r.dataset} | {r.measure} | {r.system} | {r.baseline} | {r.mean_a:.4f} | {r.mean_b:.4f} | "
            f"{r.diff * 100:+.2f}{mark} | [{r.ci_low * 100:+.2f}, {r.ci_high * 100:+.2f}] | "
            f"{r.p:.4f} | {r.p_adjusted:.4f} | {r.wins}/{r.ties}/{r.losses} | {r.n_runs} |"
        )
    return "\n".join(lines) + "\n"
