"""Atomic output: write to a temporary sibling, fsync, then rename over the target.

An interrupted command therefore never leaves a half-written file under the final name.

Temporary names carry their owner: ``.NAME.<host>-<pid>.<random>[.tmp]`` (``host``: 6 hex digits
of a hash of this machine's name). A process killed before its rename (``kill -9``, out of
memory, power loss) leaves one behind; the next write of ``NAME`` into the same folder removes
every such leftover whose host is this machine and whose process no longer exists. Names of
other machines (a shared network folder), of live processes, and anything not in this exact
pattern are left alone. Files of sycl before owner names (``.NAME.XXXXXXXX.tmp``, 8 random
characters) carry no owner: they are removed once unmodified for a day (``LEGACY_AGE_S``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sycl.io.errors import DataError

_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
LEGACY_AGE_S = 24 * 3600


def temp_prefix(name: str) -> str:
    """``.NAME.<host>-<pid>.``: how this process's temporary files and folders for ``NAME`` begin."""
    return f".{name}.{_HOST}-{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return True  # 0 is no process's id; never treat our own names as stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or an id this system cannot have): not ours to judge
    return True


def remove_stale(folder: str | Path, name: str = "*") -> list[Path]:
    """Remove temporaries ``.NAME.<host>-<pid>.*`` in ``folder`` whose process on this host has ended.

    ``name`` is a glob pattern (``"*"``: every name). Returns what was removed. A leftover
    folder is removed with its contents, a symbolic link as a link (never what it points at).
    """
    folder = Path(folder)
    owned = re.compile(rf"^\.(?:.+)\.{_HOST}-(\d+)\.[a-z0-9_]{{8}}(?:\.tmp)?$")  # tempfile: 8 random characters
    removed = []
    for entry in folder.glob(f".{name}.{_HOST}-*"):
        m = owned.match(entry.name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        removed += _remove(entry)
    if name != "*":  # leftovers of earlier versions, named .NAME.XXXXXXXX.tmp by tempfile.mkstemp
        for entry in folder.glob(f".{name}.{'[a-z0-9_]' * 8}.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and not entry.is_symlink() and time.time() - entry.stat().st_mtime > LEGACY_AGE_S:
                    removed += _remove(entry)
    return removed


def _remove(entry: Path) -> list[Path]:
    with contextlib.suppress(FileNotFoundError):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        return [entry]
    return []


def make_temp_dir(folder: str | Path, name: str) -> Path:
    """A new temporary folder ``.NAME.<host>-<pid>.XXXX`` in ``folder`` (after removing stale ones of ``NAME``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale(folder, glob.escape(name))
    return Path(tempfile.mkdtemp(prefix=temp_prefix(name), dir=folder))


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Build a folder at a temporary name beside ``target`` (yielded), renamed to ``target`` on a clean exit.

    On an exception the temporary folder is removed and ``target`` left as it was. When ``target``
    exists at the rename: with ``replace`` it is removed first (use only for a folder sycl itself
    names, such as a checkpoint); without, the folder that is there (another process's, finished
    first) is kept and this one discarded. Leftovers of killed builders are removed first.
    """
    target = Path(target)
    tmp = make_temp_dir(target.parent, target.name)
    try:
        yield tmp
        if replace and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)  # onto nothing or an empty folder only
        except OSError:
            if replace or not target.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process published first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(path: str | Path) -> Path:
    """``path`` as a :class:`Path` when it can be an output folder: an existing folder, or a new one whose
    nearest existing parent is a folder. An existing file there is a :class:`DataError` (raised before any
    work, instead of a ``FileExistsError`` once the outputs are written)."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.is_dir():
            return path
        if p.exists():
            where = "is an existing file" if p == path else f"lies under {p}, an existing file"
            raise DataError(path, f"the output folder {where}; give a folder (it is created when missing)")
    return path


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open ``.NAME.<host>-<pid>.XXXX.tmp`` beside ``path``; on clean exit fsync and rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched; leftovers of
    killed writers of the same name are removed first (see the module docstring).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, glob.escape(path.name))
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs get the usual permissions
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | Path, obj: Any, indent: int = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=False) + "\n")
