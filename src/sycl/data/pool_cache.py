"""On-disk form of a loaded passage pool: ``$SYCL_CACHE/pool/<key>/``, memory-mapped when read.

A pool is a few flat arrays per source, grouped by global query index (see
:mod:`sycl.data.pool_build`): ``s<i>.indptr.npy`` (int64 ``[n_queries + 1]``),
``s<i>.passage.npy`` (int32 or int64 global passage index) and ``s<i>.score.npy`` (float32 label
before relabelling), plus ``queries.arrow`` (ids and texts of the global queries), the
epoch-independent groups when there are any (``groups.<name>.npy``), the merged unselected groups
of a large pool once computed (``unselected.<name>.npy``) and ``meta.json``. The key hashes every
source spec and the path, size and modification time of every file read (corpus, queries,
qrels, query subset). The folder is built under a temporary name and renamed into place when
complete: an error or a kill during conversion never leaves a half-written cache under the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from sycl.io.atomic import atomic_dir
from sycl.io.corpus import cache_root

_FORMAT = "pool-v3"
SOURCE_ARRAYS = ("indptr", "passage", "score")


def _stat(path: Path) -> list:
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def cache_folder(specs_and_files: list[tuple[dict, list[Path]]]) -> Path:
    """The cache folder for ``[(spec as JSON-able dict, [files it reads]), ...]``."""
    parts = [_FORMAT] + [[spec, [_stat(f) for f in files]] for spec, files in specs_and_files]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache_root() / "pool" / key


@contextlib.contextmanager
def building(folder: Path | None) -> Iterator[Path]:
    """A temporary folder next to ``folder`` (or in the system's temp folder when ``None``) to build a
    pool in; on a clean exit it is renamed to ``folder`` (removed when ``None``), on an error it is removed."""
    if folder is not None:
        with atomic_dir(folder) as tmp:  # another process that wrote the same cache first keeps its copy
            yield tmp
        return
    tmp = Path(tempfile.mkdtemp(prefix="sycl-pool-"))
    try:
        yield tmp
    finally:  # not cached: what was mapped stays readable after the files are removed
        shutil.rmtree(tmp, ignore_errors=True)


def write_meta(folder: Path, n_sources: int, query_ids: pa.Array, query_texts: pa.Array) -> None:
    """Save the query table and ``meta.json`` of a built pool folder."""
    table = pa.table({"_id": query_ids, "text": query_texts})
    with pa.OSFile(str(folder / "queries.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table, max_chunksize=max(1, table.num_rows))
    (folder / "meta.json").write_text(json.dumps({"format": _FORMAT, "sources": n_sources, "queries": len(query_ids)}))


def write_groups(folder: Path, prefix: str, groups: dict[str, np.ndarray]) -> None:
    """Save grouped arrays as ``<prefix>.<name>.npy``, each through a temporary name."""
    for name, arr in groups.items():
        final = folder / f"{prefix}.{name}.npy"
        tmp = folder / f".{prefix}.{name}.{os.getpid()}.npy"
        np.save(tmp, arr)
        os.replace(tmp, final)


def read_groups(folder: Path, prefix: str, names) -> dict[str, np.ndarray] | None:
    """Memory-mapped ``<prefix>.<name>.npy`` arrays, or ``None`` when any is missing."""
    paths = {name: folder / f"{prefix}.{name}.npy" for name in names}
    if not all(p.exists() for p in paths.values()):
        return None
    return {name: np.load(p, mmap_mode="r") for name, p in paths.items()}


def read(folder: Path) -> tuple[list[tuple[np.ndarray, ...]], pa.Array, pa.Array]:
    """Map a pool folder: per-source ``(indptr, passage, score)`` (read-only memory maps), query ids, texts."""
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != _FORMAT:
        raise ValueError(f"unknown pool cache format {meta.get('format')!r}")
    arrays = [
        tuple(np.load(folder / f"s{i}.{name}.npy", mmap_mode="r") for name in SOURCE_ARRAYS)
        for i in range(meta["sources"])
    ]
    table = pa.ipc.open_file(pa.memory_map(str(folder / "queries.arrow"), "r")).read_all()
    ids, texts = table.column("_id"), table.column("text")
    ids = ids.chunk(0) if ids.num_chunks == 1 else ids.combine_chunks()
    texts = texts.chunk(0) if texts.num_chunks == 1 else texts.combine_chunks()
    return arrays, ids, texts
