"""Columnar readers for training data: qrels and queries as Arrow arrays, not Python dicts.

Half a million queries and two million judgements read this way take tens of MB and about a
second (Arrow's multi-threaded CSV/JSON readers). A file the fast path cannot parse (odd
spacing, a malformed line) is re-read line by line so that the error names the line.

Labels are read as floats here so that ``score_transform: floor|ceil`` can act on fractional
scores; :func:`sycl.io.beir.read_qrels` stays the strict integer reader for evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from sycl.io.beir import QRELS_HEADER, finite_score, iter_lines, iter_qrels, read_queries
from sycl.io.errors import DataError


@dataclass
class QrelsTable:
    """Judgements in file order: ``qid``/``docid`` Arrow string arrays and ``score`` ``float64[n]``."""

    path: Path
    qid: pa.Array
    docid: pa.Array
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    def take(self, keep: np.ndarray) -> "QrelsTable":
        idx = pa.array(np.nonzero(keep)[0] if keep.dtype == bool else keep)
        return QrelsTable(self.path, self.qid.take(idx), self.docid.take(idx), self.score[np.asarray(idx)])


def _string(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr.cast(pa.string()) if arr.type != pa.string() else arr


def _read_lines(path: Path) -> QrelsTable:
    """The checked path: :func:`sycl.io.beir.iter_qrels` with float scores; errors name the line."""
    q, d, s = [], [], []
    for _, qid, did, score in iter_qrels(path, label=finite_score):
        q.append(qid)
        d.append(did)
        s.append(score)
    if not s:
        raise DataError(path, "file is empty: no judgements")
    return QrelsTable(path, pa.array(q, pa.string()), pa.array(d, pa.string()), np.asarray(s, dtype=np.float64))


def _read_fast(path: Path) -> QrelsTable | None:
    """Arrow fast path; ``None`` when the file needs the checked path."""
    try:
        if path.suffix in (".jsonl", ".json"):
            table = pajson.read_json(str(path))
            if "qid" not in table.column_names or "docid" not in table.column_names or "score" not in table.column_names:
                return None
            lists = table.column("docid").combine_chunks()
            scores = table.column("score").combine_chunks()
            lens = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
            if not np.array_equal(lens, pc.list_value_length(scores).to_numpy(zero_copy_only=False)):
                return None
            qid = _string(table.column("qid")).take(pa.array(np.repeat(np.arange(len(lens)), lens)))
            docid = _string(pc.list_flatten(lists))
            score = pc.list_flatten(scores).cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            with open(path, "rb") as fh:
                first = fh.readline().decode("utf-8-sig").strip()
            sep = "\t" if "\t" in first else " "
            parts = first.split(sep)
            if len(parts) not in (3, 4):
                return None
            names = ["qid", "docid", "score"] if len(parts) == 3 else ["qid", "iter", "docid", "score"]
            header = parts[0].lower() in QRELS_HEADER
            table = pacsv.read_csv(
                str(path),
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0, block_size=16 << 20),
                parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, ignore_empty_lines=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: (pa.float64() if n == "score" else pa.string()) for n in names}),
            )
            qid, docid = _string(table.column("qid")), _string(table.column("docid"))
            score = table.column("score").to_numpy()
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if qid.null_count or docid.null_count or not len(score) or not np.isfinite(score).all():
        return None
    if pc.any(pc.equal(pc.utf8_trim_whitespace(qid), "")).as_py() or pc.any(pc.equal(pc.utf8_trim_whitespace(docid), "")).as_py():
        return None
    if pc.any(pc.not_equal(pc.utf8_trim_whitespace(docid), docid)).as_py():
        return None  # stray spaces: the checked path strips them exactly like the strict reader
    return QrelsTable(path, qid, docid, np.ascontiguousarray(score, dtype=np.float64))


def read_qrels_table(path: str | Path) -> QrelsTable:
    """Read a qrels file (BEIR TSV, TREC 4-column or grouped JSONL) into columns, in file order."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    return _read_fast(path) or _read_lines(path)


def read_queries_table(path: str | Path) -> tuple[pa.Array, pa.Array]:
    """``(ids, texts)`` Arrow string arrays of a ``queries.jsonl`` (or TSV) file, in file order."""
    path = Path(path)
    if path.is_dir():
        path = path / "queries.jsonl"
    if not path.exists():
        raise DataError(path, "file not found")
    if path.suffix == ".jsonl":
        try:
            schema = pa.schema([("_id", pa.string()), ("text", pa.string())])
            table = pajson.read_json(str(path), parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"))
            ids, texts = _string(table.column("_id")), _string(table.column("text"))
            if not ids.null_count and not texts.null_count and len(ids) and \
                    len(pc.unique(ids)) == len(ids) and not pc.any(pc.equal(pc.utf8_trim_whitespace(texts), "")).as_py():
                return ids, texts
        except (pa.ArrowException, UnicodeDecodeError):
            pass
    queries = read_queries(path)  # the strict reader names the bad line
    return pa.array(list(queries.keys()), pa.string()), pa.array(list(queries.values()), pa.string())


def read_id_list(path: str | Path) -> pa.Array:
    """Query ids from a subset file: a queries file (``.jsonl``) or one id per line (first column)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_queries_table(path)[0]
    ids = []
    for lineno, line in iter_lines(path):
        token = line.split("\t")[0].strip() if "\t" in line else line.strip().split()[0]
        if lineno == 1 and token.lower() in QRELS_HEADER + ("id", "_id"):
            continue
        ids.append(token)
    if not ids:
        raise DataError(path, "file is empty: no query ids")
    return pa.array(ids, pa.string())
