"""A memory-mapped corpus: ``corpus.jsonl`` converted once to an Arrow IPC file and mapped.

Opening a 2M-passage corpus maps the Arrow file (no copy into RAM) and maps two numpy
arrays for id lookup (sorted 64-bit id hashes and their rows, 12 bytes a passage). The
conversion is cached under ``$SYCL_CACHE`` (default ``~/.cache/sycl``), keyed by the
file's absolute path, size and modification time, and written atomically (a temporary
folder renamed into place).

Conversion has two paths with the same result. The fast path streams the file through
Arrow's multi-threaded JSON reader; when anything is off (malformed JSON, a missing field,
a non-string value, bad UTF-8, a duplicate id) it is abandoned and the checked path re-reads
the file line by line with Python's ``json``, which accepts what it can (numeric ids) and
raises :class:`DataError` naming the file, line and problem for the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from sycl.io.atomic import atomic_dir, atomic_write_text
from sycl.io.beir import iter_jsonl
from sycl.io.errors import DataError
from sycl.io.hashing import as_string_array, hash_ids
from sycl.io.integrity import file_checksum
from sycl.log import get_logger, progress

_SCHEMA = pa.schema([("_id", pa.string()), ("title", pa.string()), ("text", pa.string())])
_FORMAT = "corpus-v2"
_log = get_logger(__name__)


def cache_root() -> Path:
    """Root of sycl's on-disk caches (``$SYCL_CACHE`` or ``~/.cache/sycl``)."""
    return Path(os.environ.get("SYCL_CACHE", Path.home() / ".cache" / "sycl"))


def _indices(values) -> pa.Array:
    """``int64`` Arrow array over a numpy array (``pa.array(ndarray)`` would import pandas)."""
    buf = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(buf), [None, pa.py_buffer(buf)])


def _doc_fields(path: Path, lineno: int, obj: dict) -> tuple[str, str, str]:
    if "_id" not in obj:
        raise DataError(path, "missing field '_id'", lineno)
    did = obj["_id"]
    if isinstance(did, int) and not isinstance(did, bool):
        did = str(did)
    if not isinstance(did, str) or not did.strip():
        raise DataError(path, f"field '_id' must be a non-empty string, got {did!r}", lineno)
    if "text" not in obj:
        raise DataError(path, "missing field 'text'", lineno)
    text, title = obj["text"], obj.get("title")
    if title is None:
        title = ""
    if not isinstance(text, str):
        raise DataError(path, f"field 'text' must be a string, got {type(text).__name__}", lineno)
    if not isinstance(title, str):
        raise DataError(path, f"field 'title' must be a string, got {type(title).__name__}", lineno)
    return did, title, text


def _n_empty(batch: pa.RecordBatch) -> int:
    """Documents whose title and text are both blank (allowed, e.g. Cranfield 471 and 995)."""
    blank = [pc.equal(pc.utf8_trim_whitespace(batch.column(c)), "") for c in ("title", "text")]
    return int(pc.sum(pc.and_(*blank)).as_py() or 0)


class _Fallback(Exception):
    """The fast path met something it does not handle; use the checked path."""


def _write_fast(src: Path, writer: pa.ipc.RecordBatchFileWriter) -> tuple[list[np.ndarray], int, None]:
    opts = pajson.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="ignore")
    hashes, empty = [], 0
    try:
        reader = pajson.open_json(str(src), read_options=pajson.ReadOptions(block_size=8 << 20), parse_options=opts)
        for batch in progress(reader, unit=" batches", desc=f"{src.name} -> Arrow", leave=False):
            if batch.column("_id").null_count or batch.column("text").null_count:
                raise _Fallback("missing '_id' or 'text'")
            batch.validate(full=True)  # UTF-8 validity
            ids = batch.column("_id")
            if pc.any(pc.equal(pc.utf8_trim_whitespace(ids), "")).as_py():
                raise _Fallback("empty id")
            title = pc.fill_null(batch.column("title"), "")
            batch = pa.record_batch([ids, title, batch.column("text")], schema=_SCHEMA)
            empty += _n_empty(batch)
            writer.write_batch(batch)
            hashes.append(hash_ids(ids))
    except (pa.ArrowException, UnicodeDecodeError) as err:
        raise _Fallback(str(err)) from None
    return hashes, empty, None


def _write_checked(src: Path, writer: pa.ipc.RecordBatchFileWriter, batch_rows: int = 50_000):
    hashes, lines, empty = [], [], 0
    buf: tuple[list, list, list] = ([], [], [])
    buf_lines: list[int] = []

    def flush():
        nonlocal empty
        if buf[0]:
            batch = pa.record_batch([pa.array(c, pa.string()) for c in buf], schema=_SCHEMA)
            empty += _n_empty(batch)
            writer.write_batch(batch)
            hashes.append(hash_ids(batch.column("_id")))
            lines.append(np.asarray(buf_lines, dtype=np.int64))
            for c in buf:
                c.clear()
            buf_lines.clear()

    for lineno, obj in progress(
        iter_jsonl(src), unit=" docs", unit_scale=True, desc=f"{src.name} -> Arrow (checked)", leave=False
    ):
        for c, v in zip(buf, _doc_fields(src, lineno, obj)):
            c.append(v)
        buf_lines.append(lineno)
        if len(buf_lines) >= batch_rows:
            flush()
    flush()
    return hashes, empty, (np.concatenate(lines) if lines else np.empty(0, np.int64))


def _check_duplicates(src: Path, ids: pa.ChunkedArray, order: np.ndarray, sorted_h: np.ndarray, lines) -> None:
    """Raise on a repeated id (``lines`` given) or :class:`_Fallback` to find the lines."""
    same = np.nonzero(sorted_h[1:] == sorted_h[:-1])[0]
    if not same.size:
        return
    # groups of equal hashes: compare every pair inside (collisions of distinct ids are allowed)
    starts = same[np.r_[True, np.diff(same) > 1]]
    for s in starts:
        e = s + 1
        while e < len(sorted_h) and sorted_h[e] == sorted_h[s]:
            e += 1
        rows = sorted(int(r) for r in order[s:e])
        vals = [ids[r].as_py() for r in rows]
        for i in range(len(rows)):
            for k in range(i + 1, len(rows)):
                if vals[i] == vals[k]:
                    if lines is None:
                        raise _Fallback("duplicate id")
                    raise DataError(
                        src, f"duplicate document id {vals[i]!r} (first on line {lines[rows[i]]})", int(lines[rows[k]])
                    )


def _convert(src: Path, dst_dir: Path) -> dict:
    """Write ``corpus.arrow``, ``id_hash.npy``, ``id_row.npy`` and ``meta.json`` into ``dst_dir``."""
    t0 = time.perf_counter()
    arrow_path = dst_dir / "corpus.arrow"
    for attempt, write in (("fast", _write_fast), ("checked", _write_checked)):
        try:
            with pa.OSFile(str(arrow_path), "wb") as sink, pa.ipc.new_file(sink, _SCHEMA) as writer:
                hashes, empty, lines = write(src, writer)
            h = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
            if not h.size:
                raise DataError(src, "file is empty: no documents")
            order = np.argsort(h, kind="stable")
            sorted_h = h[order]
            with pa.memory_map(str(arrow_path), "r") as mm:
                ids = pa.ipc.open_file(mm).read_all().column("_id")
                _check_duplicates(src, ids, order, sorted_h, lines)
                del ids
            break
        except _Fallback as why:
            _log.debug("%s: fast conversion abandoned (%s); checking line by line", src, why)
    np.save(dst_dir / "id_hash.npy", sorted_h)
    np.save(dst_dir / "id_row.npy", order.astype(np.int32 if len(order) < 2**31 else np.int64))
    meta = {
        "format": _FORMAT,
        "source": str(src),
        "n": int(len(h)),
        "empty_documents": empty,
        "path": attempt,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    (dst_dir / "meta.json").write_text(json.dumps(meta))
    return meta


class Corpus:
    """Read-only, memory-mapped view of a BEIR ``corpus.jsonl``.

    ``len(corpus)`` passages; ``corpus.ids`` (Arrow string array); ``rows_of(ids)`` maps ids
    to row numbers; ``texts(rows)`` returns ``title + " " + text`` per row.
    """

    def __init__(self, arrow_dir: Path, source: Path):
        self.source, self._dir = source, arrow_dir
        self.meta = json.loads((arrow_dir / "meta.json").read_text())
        self._mm = pa.memory_map(str(arrow_dir / "corpus.arrow"), "r")
        self.table: pa.Table = pa.ipc.open_file(self._mm).read_all()
        self._hash = np.load(arrow_dir / "id_hash.npy", mmap_mode="r")
        self._row = np.load(arrow_dir / "id_row.npy", mmap_mode="r")
        # first row of each record batch; ``take`` works per batch, because Arrow's take on a
        # chunked column concatenates the whole column first (a copy of the corpus into RAM)
        self._starts = np.cumsum([0] + [len(c) for c in self.table.column("_id").chunks])

    @classmethod
    def open(cls, path: str | Path, cache_dir: str | Path | None = None) -> Corpus:
        """Open ``corpus.jsonl`` (or a BEIR folder holding it), converting it once to Arrow."""
        src = Path(path)
        if src.is_dir():
            src = src / "corpus.jsonl"
        if not src.exists():
            raise DataError(src, "file not found")
        # keyed by the real file; errors name the path as given (a hub cache entry, not its blob)
        real = src.resolve()
        src = src.absolute()
        st = real.stat()
        key = hashlib.sha256(f"{_FORMAT}|{real}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
        root = Path(cache_dir) if cache_dir else cache_root() / "corpus"
        final = root / key
        if not (final / "meta.json").exists():
            with atomic_dir(final) as tmp:  # another process that won the race keeps its identical copy
                meta = _convert(src, tmp)
                _log.info("converted %s: %d documents in %.1f s", src, meta["n"], meta["seconds"])
        return cls(final, src)

    def __len__(self) -> int:
        return self.table.num_rows

    def checksum(self) -> str:
        """``xxh3_128:<hex>`` of the source file's bytes, computed once per conversion (the cache entry is keyed
        by the file's path, size and modification time, as the conversion itself is) and kept beside it."""
        kept = self._dir / "checksum.txt"
        try:
            return kept.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            digest = file_checksum(self.source)
            atomic_write_text(kept, digest + "\n")  # two processes at once write the same text
            return digest

    @property
    def ids(self) -> pa.ChunkedArray:
        return self.table.column("_id")

    @property
    def empty_documents(self) -> int:
        """Number of documents whose title and text are both blank."""
        return int(self.meta.get("empty_documents", 0))

    def take(self, column: str, rows: Sequence[int] | np.ndarray) -> pa.Array:
        """Values of ``column`` (``_id``, ``title`` or ``text``) at ``rows``, touching only their batches."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        chunks = self.table.column(column).chunks
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row out of range 0..{len(self) - 1}")
        if not rows.size:
            return pa.array([], type=pa.string())
        which = np.searchsorted(self._starts, rows, side="right") - 1
        if (which == which[0]).all():
            return chunks[which[0]].take(_indices(rows - self._starts[which[0]]))
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.unique(which[order]), side="left").tolist() + [len(rows)]
        pieces = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            c = int(which[order[a]])
            pieces.append(chunks[c].take(_indices(rows[order[a:b]] - self._starts[c])))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return pa.concat_arrays(pieces).take(_indices(inverse))

    def id_at(self, row: int) -> str:
        return self.table.column("_id")[int(row)].as_py()

    def rows_of(self, ids: Sequence[str], missing: str = "raise") -> np.ndarray:
        """Row numbers of ``ids`` (``int64[len(ids)]``); unknown ids raise, or give -1 with ``missing='ignore'``."""
        arr = as_string_array(ids)
        h = hash_ids(arr)
        pos = np.searchsorted(self._hash, h)
        pos_c = np.minimum(pos, len(self._hash) - 1)
        rows = np.where(self._hash[pos_c] == h, self._row[pos_c], -1).astype(np.int64)
        found = np.nonzero(rows >= 0)[0]
        if found.size:  # guard against 64-bit hash collisions, vectorised
            got = self.take("_id", rows[found])
            ok = np.asarray(pc.equal(got, arr.take(_indices(found))).to_pylist(), dtype=bool)
            col = self.ids
            for i in found[~ok]:
                j, rows[i] = pos_c[i], -1
                while j < len(self._hash) and self._hash[j] == h[i]:
                    if col[int(self._row[j])].as_py() == arr[int(i)].as_py():
                        rows[i] = self._row[j]
                        break
                    j += 1
        if missing == "raise" and (rows < 0).any():
            bad = [arr[int(i)].as_py() for i in np.nonzero(rows < 0)[0][:5]]
            raise DataError(self.source, f"{int((rows < 0).sum())} unknown document id(s), e.g. {bad}")
        return rows

    @staticmethod
    def _join(titles: list[str], texts: list[str]) -> list[str]:
        return [f"{t} {x}".strip() if t else x for t, x in zip(titles, texts)]

    def texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """``title + " " + text`` (or just text when there is no title) for each row."""
        return self._join(self.take("title", rows).to_pylist(), self.take("text", rows).to_pylist())

    def iter_batches(self, batch_size: int = 10_000) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Yield ``(rows, texts)`` over the whole corpus in order (zero-copy slices)."""
        n = len(self)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            sub = self.table.slice(start, stop - start)
            yield np.arange(start, stop), self._join(sub.column("title").to_pylist(), sub.column("text").to_pylist())
