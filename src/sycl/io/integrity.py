"""Integrity of cache entries: xxh3-128 checksums of arrays and files, and one writer per entry.

Used by the embedding cache (:mod:`sycl.retrieval.cache`) and the OpenVINO model cache
(:mod:`sycl.kernels.openvino_encoder`). xxh3-128 streams at ~9 GB/s over bytes in memory on one
core (sha256: ~0.8 GB/s), so verifying an entry on every load costs little against rebuilding it.
The lock is an OS file lock (``flock``), which the kernel releases when its holder dies, even by
SIGKILL: a killed writer never blocks the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xxhash
from filelock import FileLock, Timeout

from sycl.log import get_logger

_log = get_logger(__name__)
HASH_BLOCK = 64 << 20  # bytes hashed per call: a memory-mapped array or a file is read a block at a time


def checksum(array: np.ndarray) -> str:
    """``xxh3_128:<hex>`` of the bytes of a C-contiguous array (memory-mapped ones read in 64 MiB blocks)."""
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    h = xxhash.xxh3_128()
    for s in range(0, flat.size, HASH_BLOCK):
        h.update(flat[s : s + HASH_BLOCK])
    return f"xxh3_128:{h.hexdigest()}"


def file_checksum(path: str | Path) -> str:
    """``xxh3_128:<hex>`` of a file's bytes, read in 64 MiB blocks."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while block := fh.read(HASH_BLOCK):
            h.update(block)
    return f"xxh3_128:{h.hexdigest()}"


@contextlib.contextmanager
def exclusive(lock_file: str | Path, what: str) -> Iterator[None]:
    """Hold the OS file lock ``lock_file`` for the body; ``what`` (e.g. ``the embedding cache entry X``) is
    logged when another process holds it and this one waits."""
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _log.info("waiting for another process writing %s", what)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
