"""Validation of a BEIR folder: every file parses, ids are unique, every judgement resolves.

``validate_folder(path)`` checks ``corpus.jsonl`` (through :meth:`Corpus.open`, so a valid
corpus is converted and cached on the way), ``queries.jsonl`` and every ``qrels/<split>``
file, and returns a :class:`ValidationReport` with the counts. The first problem found is
raised as :class:`DataError` naming the file, the line and the problem. Judgements that
reference a query or document id absent from ``queries.jsonl``/``corpus.jsonl`` are errors,
or, with ``allow_unknown=True``, counted and reported as warnings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sycl.io.beir import iter_qrels, list_splits, qrels_path, read_qrels_arrow, read_queries
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError


@dataclass
class SplitReport:
    """Counts of one qrels split. ``labels`` maps label -> number of judgements."""

    name: str
    path: str
    queries_judged: int
    judgements: int
    labels: dict[int, int]
    unknown_query_judgements: int = 0
    unknown_document_judgements: int = 0


@dataclass
class ValidationReport:
    """Counts of a valid BEIR folder; ``warnings`` lists tolerated problems."""

    path: str
    documents: int
    empty_documents: int
    queries: int
    splits: list[SplitReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def split(self, name: str) -> SplitReport:
        for s in self.splits:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict:
        d = asdict(self)
        for s in d["splits"]:
            s["labels"] = {str(k): v for k, v in s["labels"].items()}
        return {"kind": "validation", **d}


def _find(folder: Path, names: tuple[str, ...], what: str) -> Path:
    for n in names:
        if (folder / n).exists():
            return folder / n
    raise DataError(
        folder / names[0], f"{what} not found; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
    )


def _line_of(path: Path, index: int) -> int:
    """Line number of the ``index``-th judgement (0-based) of a qrels file."""
    for k, (lineno, *_rest) in enumerate(iter_qrels(path)):
        if k == index:
            return lineno
    raise IndexError(index)


def validate_qrels(
    path: str | Path, query_ids, corpus: Corpus | None, allow_unknown: bool = False, name: str | None = None
) -> tuple[SplitReport, list[str]]:
    """Check one qrels file against ``query_ids`` (a set, or None to skip) and ``corpus`` (or None).

    Parsing and duplicate checks are those of :func:`read_qrels_table`; the id checks are
    vectorised. Returns the split's counts and warning lines (unknown ids when ``allow_unknown``).
    """
    path = Path(path)
    table = read_qrels_arrow(path)
    qids, dids = table.column("query-id"), table.column("corpus-id")
    counts = pc.value_counts(table.column("score").combine_chunks())
    labels = {int(v): int(c) for v, c in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())}
    warnings: list[str] = []

    def unknown(col, known_values: pa.Array, what: str, where: str) -> int:
        bad = np.asarray(pc.invert(pc.is_in(col, value_set=known_values)).to_pylist(), dtype=bool)
        if not bad.any():
            return 0
        first = int(np.argmax(bad))
        example = col[first].as_py()
        n_distinct = len(pc.unique(col.filter(pa.chunked_array([bad]))))
        msg = f"{int(bad.sum())} judgement(s) reference {n_distinct} {what} id(s) not in {where}, e.g. {example!r}"
        line = _line_of(path, first)
        if not allow_unknown:
            raise DataError(path, f"unknown {what} id {example!r} ({msg}; pass --allow-unknown-ids to tolerate)", line)
        warnings.append(f"{path}:{line}: {msg}")
        return int(bad.sum())

    n_unknown_q = n_unknown_d = 0
    if query_ids is not None:
        n_unknown_q = unknown(qids, pa.array(list(query_ids), pa.string()), "query", "queries.jsonl")
    if corpus is not None:
        uniq = pc.unique(dids)
        known = uniq.filter(pa.array(corpus.rows_of(uniq, missing="ignore") >= 0))
        n_unknown_d = unknown(dids, known, "document", "corpus.jsonl")
    report = SplitReport(
        name=name or path.stem,
        path=str(path),
        queries_judged=len(pc.unique(qids)),
        judgements=table.num_rows,
        labels=dict(sorted(labels.items())),
        unknown_query_judgements=n_unknown_q,
        unknown_document_judgements=n_unknown_d,
    )
    return report, warnings


def validate_folder(
    path: str | Path, allow_unknown: bool = False, cache_dir: str | Path | None = None
) -> ValidationReport:
    """Validate the BEIR folder ``path`` and return its counts; the first problem raises :class:`DataError`."""
    folder = Path(path)
    if not folder.exists():
        raise DataError(folder, "folder not found")
    if not folder.is_dir():
        raise DataError(folder, "expected a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), found a file")
    corpus = Corpus.open(_find(folder, ("corpus.jsonl",), "corpus.jsonl"), cache_dir=cache_dir)
    queries = read_queries(_find(folder, ("queries.jsonl", "queries.tsv"), "queries.jsonl"))
    splits = list_splits(folder)
    if not splits:
        raise DataError(folder / "qrels", "no qrels files: expected qrels/<split>.tsv (or .txt, .jsonl)")
    report = ValidationReport(
        path=str(folder), documents=len(corpus), empty_documents=corpus.empty_documents, queries=len(queries)
    )
    if corpus.empty_documents:
        report.warnings.append(f"{corpus.source}: {corpus.empty_documents} document(s) have an empty title and text")
    qset = set(queries)
    for split in splits:
        sr, warns = validate_qrels(qrels_path(folder, split), qset, corpus, allow_unknown, name=split)
        report.splits.append(sr)
        report.warnings.extend(warns)
    return report
