"""TREC run files: ``qid Q0 docid rank score tag``, one line per retrieved document."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sycl.io.atomic import atomic_open
from sycl.io.beir import iter_lines
from sycl.io.errors import DataError

Run = dict[str, dict[str, float]]


def write_run(path: str | Path, run: Mapping[str, Mapping[str, float]], tag: str = "sycl") -> int:
    """Write a TREC run atomically; documents are ranked by descending score, ties by doc id."""
    n = 0
    with atomic_open(path) as fh:
        for qid, docs in run.items():
            ranked = sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))
            for rank, (did, score) in enumerate(ranked, 1):
                fh.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")
                n += 1
    return n


def read_run(path: str | Path) -> Run:
    """Read a TREC run file into ``{qid: {docid: score}}``."""
    run: Run = {}
    for lineno, line in iter_lines(path):
        parts = line.split()
        if len(parts) != 6:
            raise DataError(path, f"expected 6 columns (qid Q0 docid rank score tag), got {len(parts)}", lineno)
        qid, _, did, _, score, _ = parts
        try:
            run.setdefault(qid, {})[did] = float(score)
        except ValueError:
            raise DataError(path, f"score {score!r} is not a number", lineno) from None
    if not run:
        raise DataError(path, "file is empty: no run lines")
    return run
