"""A memory-mapped corpus: ``corpus.jsonl`` converted once to an Arrow IPC file and mapped.

Opening a 2M-passage corpus maps the Arrow file (no copy into RAM) and loads two numpy
arrays for id lookup (sorted 64-bit id hashes and their rows, 16 bytes a passage). The
conversion is cached under ``$SYCL_CACHE`` (default ``~/.cache/sycl``), keyed by the
file's absolute path, size and modification time, and written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa

from sycl.io.beir import iter_jsonl
from sycl.io.errors import DataError

_SCHEMA = pa.schema([("_id", pa.string()), ("title", pa.string()), ("text", pa.string())])
_FORMAT = "corpus-v1"


def cache_root() -> Path:
    """Root of sycl's on-disk caches (``$SYCL_CACHE`` or ``~/.cache/sycl``)."""
    return Path(os.environ.get("SYCL_CACHE", Path.home() / ".cache" / "sycl"))


def hash_ids(ids: Sequence[str]) -> np.ndarray:
    """64-bit hashes of string ids (blake2b), as ``uint64[len(ids)]``."""
    out = np.empty(len(ids), dtype=np.uint64)
    for i, s in enumerate(ids):
        out[i] = int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
    return out


def _doc_fields(path: Path, lineno: int, obj: dict) -> tuple[str, str, str]:
    if "_id" not in obj:
        raise DataError(path, "missing field '_id'", lineno)
    did = obj["_id"]
    if isinstance(did, int) and not isinstance(did, bool):
        did = str(did)
    if not isinstance(did, str) or not did.strip():
        raise DataError(path, "field '_id' must be a non-empty string", lineno)
    if "text" not in obj:
        raise DataError(path, "missing field 'text'", lineno)
    text, title = obj["text"], obj.get("title") or ""
    if not isinstance(text, str):
        raise DataError(path, f"field 'text' must be a string, got {type(text).__name__}", lineno)
    if not isinstance(title, str):
        raise DataError(path, f"field 'title' must be a string, got {type(title).__name__}", lineno)
    if not text.strip() and not title.strip():
        raise DataError(path, f"document {did!r} has empty 'text' and 'title'", lineno)
    return did, title, text


def _convert(src: Path, dst_dir: Path, batch_rows: int = 50_000) -> None:
    ids: list[str] = []
    lines: list[int] = []
    buf: tuple[list, list, list] = ([], [], [])
    with pa.OSFile(str(dst_dir / "corpus.arrow"), "wb") as sink, pa.ipc.new_file(sink, _SCHEMA) as writer:
        def flush():
            if buf[0]:
                writer.write_batch(pa.record_batch([pa.array(c, pa.string()) for c in buf], schema=_SCHEMA))
                for c in buf:
                    c.clear()

        for lineno, obj in iter_jsonl(src):
            did, title, text = _doc_fields(src, lineno, obj)
            ids.append(did)
            lines.append(lineno)
            buf[0].append(did)
            buf[1].append(title)
            buf[2].append(text)
            if len(buf[0]) >= batch_rows:
                flush()
        flush()
    if not ids:
        raise DataError(src, "file is empty: no documents")
    hashes = hash_ids(ids)
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    dup = np.nonzero(sorted_h[1:] == sorted_h[:-1])[0]
    for j in dup:
        a, b = int(order[j]), int(order[j + 1])
        if ids[a] == ids[b]:
            first, second = sorted((a, b))
            raise DataError(src, f"duplicate document id {ids[a]!r} (first on line {lines[first]})", lines[second])
    np.save(dst_dir / "id_hash.npy", sorted_h)
    np.save(dst_dir / "id_row.npy", order.astype(np.int64))
    (dst_dir / "meta.json").write_text(json.dumps({"format": _FORMAT, "source": str(src), "n": len(ids)}))


class Corpus:
    """Read-only, memory-mapped view of a BEIR ``corpus.jsonl``.

    ``len(corpus)`` passages; ``corpus.ids`` (Arrow string array); ``rows_of(ids)`` maps ids
    to row numbers; ``texts(rows)`` returns ``title + " " + text`` per row.
    """

    def __init__(self, arrow_dir: Path, source: Path):
        self.source = source
        self._mm = pa.memory_map(str(arrow_dir / "corpus.arrow"), "r")
        self.table: pa.Table = pa.ipc.open_file(self._mm).read_all()
        self._hash = np.load(arrow_dir / "id_hash.npy", mmap_mode="r")
        self._row = np.load(arrow_dir / "id_row.npy", mmap_mode="r")

    @classmethod
    def open(cls, path: str | Path, cache_dir: str | Path | None = None) -> "Corpus":
        """Open ``corpus.jsonl`` (or a BEIR folder holding it), converting it once to Arrow."""
        src = Path(path)
        if src.is_dir():
            src = src / "corpus.jsonl"
        if not src.exists():
            raise DataError(src, "file not found")
        src = src.resolve()
        st = src.stat()
        key = hashlib.sha256(f"{_FORMAT}|{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
        root = Path(cache_dir) if cache_dir else cache_root() / "corpus"
        final = root / key
        if not (final / "meta.json").exists():
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
            try:
                _convert(src, tmp)
                try:
                    os.replace(tmp, final)
                except OSError:  # another process won the race; its copy is identical
                    shutil.rmtree(tmp, ignore_errors=True)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return cls(final, src)

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def ids(self) -> pa.ChunkedArray:
        return self.table.column("_id")

    def id_at(self, row: int) -> str:
        return self.table.column("_id")[int(row)].as_py()

    def rows_of(self, ids: Sequence[str], missing: str = "raise") -> np.ndarray:
        """Row numbers of ``ids`` (``int64``); unknown ids raise, or give -1 with ``missing='ignore'``."""
        h = hash_ids(ids)
        pos = np.searchsorted(self._hash, h)
        pos_c = np.minimum(pos, len(self._hash) - 1)
        rows = np.where(self._hash[pos_c] == h, self._row[pos_c], -1).astype(np.int64)
        col = self.table.column("_id")
        for i in np.nonzero(rows >= 0)[0]:  # guard against 64-bit hash collisions
            if col[int(rows[i])].as_py() != ids[i]:
                j = pos_c[i]
                rows[i] = -1
                while j < len(self._hash) and self._hash[j] == h[i]:
                    if col[int(self._row[j])].as_py() == ids[i]:
                        rows[i] = self._row[j]
                        break
                    j += 1
        if missing == "raise" and (rows < 0).any():
            bad = [ids[i] for i in np.nonzero(rows < 0)[0][:5]]
            raise DataError(self.source, f"{int((rows < 0).sum())} unknown document id(s), e.g. {bad}")
        return rows

    def texts(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """``title + " " + text`` (or just text when there is no title) for each row."""
        sub = self.table.take(pa.array(np.asarray(rows, dtype=np.int64)))
        titles = sub.column("title").to_pylist()
        texts = sub.column("text").to_pylist()
        return [f"{t} {x}".strip() if t else x for t, x in zip(titles, texts)]

    def iter_batches(self, batch_size: int = 10_000) -> Iterator[tuple[np.ndarray, list[str]]]:
        """Yield ``(rows, texts)`` over the whole corpus in order."""
        n = len(self)
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            yield rows, self.texts(rows)
