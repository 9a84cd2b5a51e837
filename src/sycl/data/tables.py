"""Columnar readers for training data: qrels and queries as Arrow arrays, not Python dicts.

Half a million queries and two million judgements read this way take tens of MB and about a
second (Arrow's multi-threaded CSV/JSON readers). Large files (the 500M-judgement BM25 file)
are streamed block by block (:func:`iter_qrels_blocks`). A block the fast path cannot parse
(odd spacing, a malformed or truncated line) is re-read line by line so that the error names
the file's line.

Labels are read as floats here so that ``score_transform: floor|ceil`` can act on fractional
scores; :func:`sycl.io.beir.read_qrels` stays the strict integer reader for evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def take(self, keep: np.ndarray) -> QrelsTable:
        idx = pa.array(np.nonzero(keep)[0] if keep.dtype == bool else keep)
        return QrelsTable(self.path, self.qid.take(idx), self.docid.take(idx), self.score[np.asarray(idx)])


def _string(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr.cast(pa.string()) if arr.type != pa.string() else arr


@dataclass
class QrelsBlock:
    """One block of a qrels file: ``qid`` per group (a JSONL line, a TSV row), ``lengths`` int64 of
    each group, and the flattened ``docid`` (Arrow strings) / ``score`` (float64) of all its judgements."""

    qid: pa.Array
    lengths: np.ndarray
    docid: pa.Array
    score: np.ndarray


BLOCK_BYTES = 64 << 20  # bytes of file parsed at a time: ~5M judgements of grouped JSONL


def _checked_block(path: Path, data: bytes, first_line: int) -> QrelsBlock:
    """The strict line-by-line reader on one block; its errors name ``path`` and the file's line."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=path.suffix or ".tsv", prefix="qrels-block-") as tmp:
        tmp.write(data)
        tmp.flush()
        q, d, s = [], [], []
        try:
            for _, qid, did, score in iter_qrels(tmp.name, label=finite_score):
                q.append(qid)
                d.append(did)
                s.append(score)
        except DataError as err:
            line = None if err.line is None else err.line + first_line - 1
            raise DataError(path, err.problem, line) from None
    return QrelsBlock(
        pa.array(q, pa.string()),
        np.ones(len(q), dtype=np.int64),
        pa.array(d, pa.string()),
        np.asarray(s, dtype=np.float64),
    )


def _fast_jsonl(data: bytes) -> QrelsBlock | None:
    table = pajson.read_json(pa.BufferReader(data))
    if "qid" not in table.column_names or "docid" not in table.column_names:
        return None
    lists = table.column("docid").combine_chunks()
    if not pa.types.is_list(lists.type):
        return None
    lens = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    if lists.null_count or np.isnan(lens.astype(np.float64)).any():
        return None
    flat = pc.list_flatten(lists)
    if not (pa.types.is_string(flat.type) or pa.types.is_integer(flat.type)):
        return None
    if "score" in table.column_names:
        scores = table.column("score").combine_chunks()
        if (
            scores.null_count
            or not pa.types.is_list(scores.type)
            or not np.array_equal(lens, pc.list_value_length(scores).to_numpy(zero_copy_only=False))
        ):
            return None
        score = pc.list_flatten(scores).cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        score = np.zeros(int(lens.sum()), dtype=np.float64)  # no scores: negatives (as the strict reader)
    qid = table.column("qid")
    if not pa.types.is_string(qid.type):
        return None
    return QrelsBlock(_string(qid), lens.astype(np.int64), _string(flat), np.ascontiguousarray(score, dtype=np.float64))


def _fast_tsv(data: bytes, sep: str, names: list[str], header: bool) -> QrelsBlock | None:
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0, block_size=16 << 20),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char=False, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: (pa.float64() if n == "score" else pa.string()) for n in names}
        ),
    )
    qid = _string(table.column("qid"))
    return QrelsBlock(
        qid, np.ones(len(qid), dtype=np.int64), _string(table.column("docid")), table.column("score").to_numpy()
    )


def _clean(b: QrelsBlock) -> bool:
    """True when the fast parse agrees with what the strict reader would accept."""
    if b.qid.null_count or b.docid.null_count or not np.isfinite(b.score).all():
        return False
    for arr in (b.qid, b.docid):
        if len(arr) and pc.any(pc.equal(pc.utf8_trim_whitespace(arr), "")).as_py():
            return False
    return not (len(b.docid) and pc.any(pc.not_equal(pc.utf8_trim_whitespace(b.docid), b.docid)).as_py())


def iter_qrels_blocks(path: str | Path, block_bytes: int = BLOCK_BYTES) -> Iterator[QrelsBlock]:
    """Stream a qrels file (BEIR TSV, TREC 4-column or grouped JSONL) as :class:`QrelsBlock` s, in file order.

    The file is read ``block_bytes`` at a time, cut at line ends, and each block is parsed with
    Arrow; a block the fast parser rejects (a malformed or truncated line, odd spacing) is parsed
    again line by line, so the :class:`DataError` names the file and its line. Memory is about
    ten times ``block_bytes`` whatever the file size.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "expected a file, found a folder")
    jsonl = path.suffix in (".jsonl", ".json")
    line, rest, fmt, n = 1, b"", None, 0
    with open(path, "rb") as fh:
        while True:
            buf = fh.read(block_bytes)
            if line == 1 and not rest and buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
            data = rest + buf
            if buf:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one line longer than a block: read on
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            else:
                rest = b""
            if not data.strip():
                if not buf:
                    break
                line += data.count(b"\n")
                continue
            if not jsonl and fmt is None:
                first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
                sep = "\t" if "\t" in first else " "
                parts = first.split(sep)
                fmt = (
                    sep,
                    ["qid", "docid", "score"] if len(parts) == 3 else ["qid", "iter", "docid", "score"],
                    parts[0].lower() in QRELS_HEADER,
                    len(parts) in (3, 4),
                )
            block = None
            try:
                if jsonl:
                    block = _fast_jsonl(data)
                elif fmt[3]:
                    block = _fast_tsv(data, fmt[0], fmt[1], fmt[2] and line == 1)
            except (pa.ArrowException, UnicodeDecodeError, ValueError):
                block = None
            if block is None or not _clean(block):
                block = _checked_block(path, data, line)
            n += len(block.score)
            if len(block.lengths):
                yield block
            line += data.count(b"\n")
            if not buf:
                break
    if not n:
        raise DataError(path, "file is empty: no judgements")


def read_qrels_table(path: str | Path) -> QrelsTable:
    """Read a qrels file (BEIR TSV, TREC 4-column or grouped JSONL) into columns, in file order."""
    path = Path(path)
    qid, docid, score = [], [], []
    for b in iter_qrels_blocks(path):
        qid.append(b.qid.take(pa.array(np.repeat(np.arange(len(b.lengths)), b.lengths))))
        docid.append(b.docid)
        score.append(b.score)
    return QrelsTable(path, pa.concat_arrays(qid), pa.concat_arrays(docid), np.concatenate(score))


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
            table = pajson.read_json(
                str(path), parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
            )
            ids, texts = _string(table.column("_id")), _string(table.column("text"))
            if (
                not ids.null_count
                and not texts.null_count
                and len(ids)
                and len(pc.unique(ids)) == len(ids)
                and not pc.any(pc.equal(pc.utf8_trim_whitespace(texts), "")).as_py()
            ):
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
