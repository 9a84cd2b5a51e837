"""On-disk cache of a loaded passage pool: ``$SYCL_CACHE/pool/<key>/``, memory-mapped when read.

Loading 500k queries and 2M judgements (parse, filter, map ids to rows) takes seconds; the
result is a few flat arrays, so it is saved once and mapped afterwards: per source
``s<i>.query.npy`` (int64 global query index), ``s<i>.passage.npy`` (int64 global passage
index), ``s<i>.score.npy`` (float64 label before relabelling), plus ``queries.arrow`` (ids and
texts of the global queries) and ``meta.json``. The key hashes every source spec and the path,
size and modification time of every file read (corpus, queries, qrels, query subset), and the
folder is written to a temporary name and renamed into place.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from sycl.io.corpus import cache_root

_FORMAT = "pool-v2"


def _stat(path: Path) -> list:
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def cache_folder(specs_and_files: list[tuple[dict, list[Path]]]) -> Path:
    """The cache folder for ``[(spec as JSON-able dict, [files it reads]), ...]``."""
    parts = [_FORMAT] + [[spec, [_stat(f) for f in files]] for spec, files in specs_and_files]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache_root() / "pool" / key


def write(folder: Path, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]], query_ids: pa.Array,
          query_texts: pa.Array, groups: dict[str, np.ndarray] | None = None) -> None:
    """Save per-source ``(query, passage, score)`` arrays, the query table and, when the grouping does
    not change per epoch, the grouped arrays (``groups.<name>.npy``) atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for i, (q, p, s) in enumerate(arrays):
            np.save(tmp / f"s{i}.query.npy", np.asarray(q, dtype=np.int64))
            np.save(tmp / f"s{i}.passage.npy", np.asarray(p, dtype=np.int64))
            np.save(tmp / f"s{i}.score.npy", np.asarray(s, dtype=np.float64))
        for name, arr in (groups or {}).items():
            np.save(tmp / f"groups.{name}.npy", arr)
        table = pa.table({"_id": query_ids, "text": query_texts})
        with pa.OSFile(str(tmp / "queries.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=max(1, table.num_rows))
        (tmp / "meta.json").write_text(json.dumps({"format": _FORMAT, "sources": len(arrays), "queries": len(query_ids),
                                                   "groups": sorted(groups or {})}))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process wrote the same cache first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read(folder: Path) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], pa.Array, pa.Array, dict]:
    """Map a cache folder: per-source arrays (read-only memory maps), the query ids and texts, the groups."""
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != _FORMAT:
        raise ValueError(f"unknown pool cache format {meta.get('format')!r}")
    arrays = [tuple(np.load(folder / f"s{i}.{name}.npy", mmap_mode="r") for name in ("query", "passage", "score"))
              for i in range(meta["sources"])]
    table = pa.ipc.open_file(pa.memory_map(str(folder / "queries.arrow"), "r")).read_all()
    ids, texts = table.column("_id"), table.column("text")
    ids = ids.chunk(0) if ids.num_chunks == 1 else ids.combine_chunks()
    texts = texts.chunk(0) if texts.num_chunks == 1 else texts.combine_chunks()
    groups = {name: np.load(folder / f"groups.{name}.npy", mmap_mode="r") for name in meta.get("groups", [])}
    return arrays, ids, texts, groups
