"""Arrow fast paths for BEIR queries and qrels, with the line readers as the ground truth.

Arrow's multi-threaded JSON/CSV readers parse 500k queries or 2M judgements in about a
second, where Python's line-by-line parsing takes tens of seconds on a busy machine. They
do not say which line is wrong, so every function here returns ``None`` (or re-reads with
:mod:`sycl.io.beir`'s line readers) as soon as anything is off; the line readers then raise
the ``DataError`` naming file, line and problem. Results are identical either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from sycl.io.hashing import hash_ids

QRELS_SCHEMA = pa.schema([("query-id", pa.string()), ("corpus-id", pa.string()), ("score", pa.int64())])
_QUERY_SCHEMA = pa.schema([("_id", pa.string()), ("text", pa.string())])
_HEADER_WORDS = ("query-id", "query_id", "qid")


def _blank(arr) -> bool:
    """True when some value is empty or whitespace (no Python scalar argument: it imports pandas)."""
    return len(arr) > 0 and pc.min(pc.utf8_length(pc.utf8_trim_whitespace(arr))).as_py() == 0


def queries_fast(path: Path) -> dict[str, str] | None:
    """``{query_id: text}`` from a BEIR ``queries.jsonl`` via Arrow, or None to use the line reader.

    Streams 1 MiB blocks into the dict, so the transient Arrow memory stays small (500k
    queries: ~105 MB resident in all, against ~90 MB for the dict alone).
    """
    out: dict[str, str] = {}
    try:
        n = _stream_queries(path, out)
    except (pa.ArrowException, UnicodeDecodeError, OSError):
        n = None
    pa.default_memory_pool().release_unused()
    return out if n and len(out) == n else None  # duplicates: the line reader names them


def _stream_queries(path: Path, out: dict[str, str]) -> int | None:
    opts = pajson.ParseOptions(explicit_schema=_QUERY_SCHEMA, unexpected_field_behavior="ignore")
    reader = pajson.open_json(str(path), read_options=pajson.ReadOptions(block_size=1 << 20), parse_options=opts)
    n = 0
    for batch in reader:
        batch.validate(full=True)
        if batch.column("_id").null_count or batch.column("text").null_count:
            return None
        ids, texts = batch.column("_id").to_pylist(), batch.column("text").to_pylist()
        # blank check in Python: Arrow compute kernels would cost ~40 MB resident on first use
        if not all(map(str.strip, ids)) or not all(map(str.strip, texts)):
            return None
        out.update(zip(ids, texts))
        n += batch.num_rows
    return n


def qrels_tsv_fast(path: Path) -> pa.Table | None:
    """3-column BEIR TSV qrels via Arrow's CSV reader, or None to use the line reader."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline()
        if head.startswith(b"\xef\xbb\xbf") or head.count(b"\t") != 2:
            return None
        skip = 1 if head.split(b"\t")[0].strip().decode("utf-8", "replace").lower() in _HEADER_WORDS else 0
        table = pacsv.read_csv(
            str(path),
            read_options=pacsv.ReadOptions(
                column_names=["query-id", "corpus-id", "score"], skip_rows=skip, block_size=4 << 20
            ),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={"query-id": pa.string(), "corpus-id": pa.string(), "score": pa.float64()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        table.validate(full=True)
    except (pa.ArrowException, UnicodeDecodeError, OSError):
        return None
    table = table.combine_chunks()
    q = pc.utf8_trim_whitespace(table.column("query-id").chunk(0))
    d = pc.utf8_trim_whitespace(table.column("corpus-id").chunk(0))
    s = table.column("score").chunk(0)
    if not table.num_rows or s.null_count or _blank(q) or _blank(d):
        return None
    sv = np.frombuffer(s.buffers()[1], dtype=np.float64)[
        s.offset : s.offset + len(s)
    ]  # Array.to_numpy may import pandas
    if not np.isfinite(sv).all() or (sv != np.round(sv)).any():
        return None
    labels = np.ascontiguousarray(sv, dtype=np.int64)
    labels_arr = pa.Array.from_buffers(pa.int64(), len(labels), [None, pa.py_buffer(labels)])  # no pandas import
    return pa.table([q, d, pa.chunked_array([labels_arr])], schema=QRELS_SCHEMA)


def has_duplicates(table: pa.Table) -> bool:
    q, d = table.column("query-id"), table.column("corpus-id")
    h = hash_ids(q) * np.uint64(0x9E3779B97F4A7C15) ^ hash_ids(d)  # pair hash, wrapping uint64
    h.sort()
    if not (h[1:] == h[:-1]).any():
        return False
    keys = list(zip(q.to_pylist(), d.to_pylist()))  # a 64-bit collision or a real duplicate: check exactly
    return len(set(keys)) != len(keys)
