"""Find the artefacts of one or more run directories by walking them for files with a known ``kind``.

The contracts (``docs/CONTRACTS.md``) name four artefacts a report draws on:

* ``metrics.json`` with ``"kind": "evaluation"`` (one per evaluated model);
* ``training.json`` (``"kind": "training"``) and ``training_log.jsonl`` in a trained model directory;
* ``manifest.json`` with ``"kind": "generation"`` in a generated BEIR folder;
* ``manifest.json`` with ``"kind": "run"`` at the top of a run directory.

Each artefact is named after its directory relative to the run directory it was found in, with
the common leading folder of its kind dropped (``eval/ws2`` and ``eval/base`` read ``ws2`` and
``base``); with several run directories, names are prefixed with the run directory's name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from sycl.io.beir import iter_lines
from sycl.io.errors import DataError
from sycl.io.records import (
    GenerationManifest,
    MetricsRecord,
    RunManifest,
    TrainingLogRow,
    TrainingRecord,
    describe_error,
    load_json,
    parse_record,
    read_record,
)

MANIFESTS = {"generation": GenerationManifest, "run": RunManifest}  # the kinds a manifest.json can be
# Folders never worth descending into: caches, VCS, HF checkpoints, report outputs' figures.
_PRUNE_PREFIXES = (".", "__pycache__", "checkpoint-")


@dataclass
class Generation:
    """A generated BEIR folder and its manifest."""

    name: str
    path: Path
    manifest: GenerationManifest


@dataclass
class Training:
    """A trained model directory: ``training.json`` (may be absent mid-run) and its log rows."""

    name: str
    path: Path
    info: TrainingRecord | None
    log: list[TrainingLogRow] = field(default_factory=list)


@dataclass
class Evaluation:
    """One ``metrics.json``."""

    name: str
    path: Path
    metrics: MetricsRecord

    @property
    def results(self):
        return self.metrics.results


@dataclass
class Run:
    """The manifest at the top of a run directory."""

    name: str
    path: Path
    manifest: RunManifest


@dataclass
class Artefacts:
    """Everything found under the run directories, plus notes on what was skipped and why."""

    run_dirs: list[Path]
    generations: list[Generation] = field(default_factory=list)
    trainings: list[Training] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.generations or self.trainings or self.evaluations or self.runs)


def read_training_log(path: Path, notes: list[str]) -> list[TrainingLogRow]:
    """Rows of ``training_log.jsonl`` in file order.

    A malformed *last* line (a log cut off by an interrupted run) is skipped with a note; a
    malformed line elsewhere raises :class:`DataError` naming the line.
    """
    lines = list(iter_lines(path))
    rows: list[TrainingLogRow] = []
    for i, (lineno, line) in enumerate(lines):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:
                notes.append(f"{path}:{lineno}: skipped a cut-off last line of the training log")
                continue
            raise DataError(path, f"malformed JSON: {err.msg} (column {err.colno})", lineno) from None
        try:
            rows.append(TrainingLogRow.model_validate(obj))
        except ValidationError as err:
            raise DataError(path, describe_error(err), lineno) from None
    return rows


def _walk(root: Path):
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(_PRUNE_PREFIXES))
        yield Path(dirpath), set(filenames)


def _names(rel_dirs: list[Path], root_name: str) -> list[str]:
    """Display names for artefact directories relative to one run directory."""
    parts = [p.parts for p in rel_dirs]
    common = 0
    if len(parts) > 1:
        while all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
            common += 1
    elif parts and len(parts[0]) > 1:
        common = len(parts[0]) - 1  # a single artefact: its own folder name says enough
    return ["/".join(p[common:]) or root_name for p in parts]


def discover(run_dirs: list[str | Path]) -> Artefacts:
    """Walk each run directory recursively and collect its artefacts.

    Raises :class:`DataError` when a run directory does not exist, when a known artefact is
    malformed, or when nothing at all is found in any of them.
    """
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise DataError(None, "no run directory given")
    art = Artefacts(run_dirs=dirs)
    multi = len(dirs) > 1
    for root in dirs:
        if not root.is_dir():
            raise DataError(root, "run directory not found" if not root.exists() else "not a directory")
        root_name = root.resolve().name or str(root)
        found: dict[str, list] = {"generation": [], "training": [], "evaluation": [], "run": []}
        for d, files in _walk(root):
            rel = d.relative_to(root)
            if "metrics.json" in files:
                obj = load_json(d / "metrics.json")
                if isinstance(obj, dict) and obj.get("kind") == "evaluation":
                    found["evaluation"].append(
                        (rel, d / "metrics.json", parse_record(obj, MetricsRecord, d / "metrics.json"))
                    )
                else:
                    art.notes.append(f'{d / "metrics.json"}: no "kind": "evaluation"; skipped')
            if "training.json" in files or "training_log.jsonl" in files:
                info = None
                if "training.json" in files:
                    info = read_record(d / "training.json", TrainingRecord)
                else:
                    art.notes.append(f"{d}: training_log.jsonl without training.json (training unfinished?)")
                log = read_training_log(d / "training_log.jsonl", art.notes) if "training_log.jsonl" in files else []
                if info is not None and not log:
                    art.notes.append(f"{d}: no training log; no loss curve for this model")
                found["training"].append((rel, d, (info, log)))
            if "manifest.json" in files:
                try:
                    obj = load_json(d / "manifest.json")
                except DataError as err:
                    art.notes.append(f"{err}; skipped")
                    continue
                kind = obj.get("kind") if isinstance(obj, dict) else None
                if kind in MANIFESTS:
                    found[kind].append((rel, d, parse_record(obj, MANIFESTS[kind], d / "manifest.json")))
        prefix = f"{root_name}/" if multi else ""
        for kind, items in found.items():
            names = _names([rel for rel, _, _ in items], root_name)
            for name, (_, path, obj) in zip(names, items):
                name = prefix + name if multi and name != root_name else name
                if kind == "generation":
                    art.generations.append(Generation(name, path, obj))
                elif kind == "training":
                    art.trainings.append(Training(name, path, obj[0], obj[1]))
                elif kind == "evaluation":
                    art.evaluations.append(Evaluation(name, path, obj))
                else:
                    art.runs.append(Run(name, path, obj))
    if art.empty():
        listed = ", ".join(str(d) for d in dirs)
        raise DataError(
            dirs[0] if len(dirs) == 1 else None,
            f"nothing to report in {listed}: found no metrics.json (kind evaluation), training.json/"
            "training_log.jsonl, or manifest.json (kind generation or run)",
        )
    return art
