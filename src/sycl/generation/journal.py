"""An append-only JSONL journal of finished work: what makes ``sycl generate`` resumable.

One line per finished unit of work (a query's ranking context, done or failed), keyed by
``query id + prompt hash + sample index``. Each line is handed to the kernel with a single
``write`` as soon as the unit finishes, so a ``kill -9`` loses only the requests still in
flight; ``fsync`` runs in batches (every ``fsync_every`` lines or ``fsync_seconds``) to bound
what a power loss could take. On open, a torn last line (no trailing newline) is dropped and
cut off the file; a malformed line elsewhere is a :class:`DataError`. A lock file keeps two
processes from appending to the same journal.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sycl.io.errors import DataError


def _scan(path: Path) -> Iterator[tuple[int, int, dict | None]]:
    """Yield ``(line_number, start_offset, record)``; a final line without newline yields ``None``."""
    offset = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            offset += len(raw)
            if not raw.endswith(b"\n"):
                yield lineno, offset - len(raw), None  # torn: the good part ends where it starts
                return
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise DataError(
                    path, f"corrupt journal line ({err}); remove it or the journal to regenerate", lineno
                ) from None
            if not isinstance(rec, dict) or "key" not in rec:
                raise DataError(path, "journal line without a 'key'", lineno)
            yield lineno, offset - len(raw), rec


def read_journal(path: str | Path) -> Iterator[dict]:
    """Stream the complete records of a journal in order (a torn last line is skipped)."""
    for _, rec in index_journal(path):
        yield rec


def index_journal(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Like :func:`read_journal`, with each record's byte offset for :func:`read_records_at`."""
    path = Path(path)
    if not path.exists():
        return
    for _, start, rec in _scan(path):
        if rec is not None:
            yield start, rec


def read_records_at(path: str | Path, offsets: Iterator[int]) -> Iterator[dict]:
    """The records that start at ``offsets`` (from :func:`index_journal`), in the order asked."""
    with open(path, "rb") as fh:
        for offset in offsets:
            fh.seek(offset)
            yield json.loads(fh.readline())


class Journal:
    """Append-only record of finished units.

    ``status`` maps each key to the status of its latest record (``"done"`` or ``"failed"``);
    the records themselves stay on disk and are streamed by :func:`read_journal`.
    """

    def __init__(self, path: str | Path, fsync_every: int = 256, fsync_seconds: float = 1.0):
        self.path = Path(path)
        self.fsync_every = fsync_every
        self.fsync_seconds = fsync_seconds
        self.status: dict[str, str] = {}
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def open(self) -> Journal:
        """Lock, load existing records, cut a torn tail, and open for appending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise DataError(self.path, "journal is locked by another running 'sycl generate' on this folder") from None
        good_end = None
        if self.path.exists():
            for _, start, rec in _scan(self.path):
                if rec is None:
                    good_end = start
                else:
                    self.status[rec["key"]] = str(rec.get("status", "done"))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if good_end is not None:  # a torn last line from a killed run: cut it off
            os.ftruncate(self._fd, good_end)
            os.fsync(self._fd)
        return self

    def __enter__(self) -> Journal:
        return self.open() if self._fd is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    def append(self, record: dict) -> None:
        """Write one record (must carry ``key``) as one line; fsync in batches."""
        if self._fd is None:
            raise RuntimeError("journal is not open")
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.status[record["key"]] = str(record.get("status", "done"))
        self._unsynced += 1
        now = time.monotonic()
        if self._unsynced >= self.fsync_every or now - self._last_sync >= self.fsync_seconds:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
