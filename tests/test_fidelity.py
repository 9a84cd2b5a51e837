"""docs/FIDELITY.md holds: every "same" row's sycl value is what the paper configs and suite say."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from sycl.evaluation.suites import load_suite
from sycl.training.config import load_experiment

REPO = Path(__file__).resolve().parents[1]
RUNS = ("real-binary", "synthetic-binary", "synthetic-multilevel", "synthetic-plus-real")


def _rows() -> list[dict]:
    rows = []
    for n, line in enumerate((REPO / "docs" / "FIDELITY.md").read_text(encoding="utf-8").splitlines(), 1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
        if len(cells) == 6 and cells[0] != "setting":
            rows.append(dict(zip(("setting", "ref", "source", "sycl", "key", "verdict"), cells), line=n))
    return rows


def _scalar(text: str):
    text = text.strip().strip("`")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _at(node, path: str):
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _values(key: str) -> list:
    """Every value ``key`` points at (one per experiment or suite entry)."""
    kind, _, path = key.partition(":")
    if kind == "runs":
        return [_at(_experiment(run), path) for run in RUNS]
    if kind in RUNS:
        return [_at(_experiment(kind), path)]
    if kind == "suite":
        name, field = path.split(".", 1)
        entries = [e for e in load_suite("paper").datasets if name in ("*", e.name)]
        assert entries, f"no suite entry {name!r}"
        return [getattr(e, field) for e in entries]
    if kind == "zero3":
        return [_at(json.loads((REPO / "configs" / "paper" / "zero3.json").read_text()), path)]
    if kind == "py":
        module, func = path.rsplit(".", 1)
        return [[lv.label for lv in getattr(importlib.import_module(module), func)()]]
    raise AssertionError(f"unknown key kind {kind!r}")


_CACHE: dict = {}


def _experiment(run: str) -> dict:
    if run not in _CACHE:
        _CACHE[run] = load_experiment(REPO / "configs" / "paper" / f"{run}.yaml").model_dump(mode="json")
    return _CACHE[run]


ROWS = _rows()
SAME = [r for r in ROWS if r["verdict"].startswith("same") and r["key"] != "-"]


def test_the_table_is_there_and_every_row_is_judged():
    assert len(ROWS) > 80 and len(SAME) > 60
    for r in ROWS:
        assert r["verdict"], r
        assert r["verdict"].startswith(("same", "differs")), f"line {r['line']}: verdict is 'same...' or 'differs...'"
        if r["verdict"].startswith("differs"):
            assert ":" in r["verdict"] or "," in r["verdict"], f"line {r['line']}: a difference says why"


@pytest.mark.parametrize("row", SAME, ids=[f"L{r['line']}-{r['setting']}" for r in SAME])
def test_same_rows_hold(row):
    key = row["key"].strip("`")
    if key.startswith("file:"):
        text = (REPO / key[5:]).read_text(encoding="utf-8")
        assert row["sycl"].strip("`") in text, f"FIDELITY.md line {row['line']}"
        return
    want = _scalar(row["sycl"])
    for got in _values(key):
        assert got == want, (
            f"FIDELITY.md line {row['line']} ({row['setting']}): {key} is {got!r}, the table says {want!r}"
        )
