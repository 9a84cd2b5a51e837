"""On-disk embedding cache, keyed by what determines the vectors, never by a file name.

A key is the SHA-256 of: the model's weights (every tensor of the state dict: name, dtype,
shape, bytes), its tokenizer, its encoding settings (pooling, normalisation, prefixes, max
lengths), the autocast dtype, the kind of text (query/passage), and the texts themselves in
order. Change any weight and the key changes, so stale vectors cannot be reused.

Entries are ``.npy`` files (float32, or float16 when stored at half precision: ``[n, d]``)
opened memory-mapped. They are written shard by shard to a partial file in the same folder,
with a progress record of the shards done, and renamed into place when complete: an
interrupted run never leaves a half-written entry under a valid key, and the next run of the
same key resumes at the first shard not recorded as done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from sycl.io.corpus import cache_root

_FORMAT = "embeddings-v1"


def model_fingerprint(model) -> str:
    """SHA-256 (hex) of a :class:`~sycl.modeling.BiEncoder`'s weights and tokenizer.

    Hashes every tensor's bytes (about 1 GB/s), so weights changed in memory, for example
    by training, give a different fingerprint.
    """
    h = hashlib.sha256()
    h.update(type(model.transformer).__name__.encode())
    for name, tensor in sorted(model.transformer.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    tok = model.tokenizer
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tok.get_vocab().items())).encode())
    h.update(f"{tok.padding_side}|{tok.truncation_side}".encode())
    return h.hexdigest()


def texts_fingerprint(batches: Iterable[list[str]]) -> tuple[str, int]:
    """SHA-256 (hex) of a sequence of texts given in batches, and their count."""
    h, n = hashlib.sha256(), 0
    for texts in batches:
        for t in texts:
            b = t.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        n += len(texts)
    return h.hexdigest(), n


def entry_key(model_fp: str, settings: dict, kind: str, dtype: str, texts_fp: str, **extra) -> str:
    """The cache key (hex) of one set of vectors (``extra``: e.g. ``storage="fp16"``; none for float32)."""
    blob = json.dumps(
        {
            "format": _FORMAT,
            "model": model_fp,
            "settings": settings,
            "kind": kind,
            "dtype": dtype,
            "texts": texts_fp,
            **extra,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class EmbeddingCache:
    """A folder of ``<key>.npy`` embedding matrices (default ``$SYCL_CACHE/embeddings``)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else cache_root() / "embeddings"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def load(self, key: str) -> np.ndarray | None:
        """The cached matrix for ``key``, memory-mapped read-only, or ``None``."""
        p = self.path(key)
        if not p.exists():
            return None
        try:
            return np.load(p, mmap_mode="r")
        except (ValueError, OSError):  # unreadable entry: treat as a miss, it will be rewritten
            return None

    def partial_paths(self, key: str) -> tuple[Path, Path]:
        """``(vectors, progress)`` of an entry being written: a fixed name, so a killed run finds it."""
        final = self.path(key)
        return final.with_name(f".{key}.partial.npy"), final.with_name(f".{key}.partial.json")

    @contextlib.contextmanager
    def writer(self, key: str, n: int, dim: int, meta: dict | None = None, dtype=np.float32) -> Iterator[PartialEntry]:
        """Yield a :class:`PartialEntry` (a writable memory-mapped ``dtype [n, dim]`` and the shards
        already written); it becomes the entry on clean exit.

        The partial file and its progress record keep their names across runs: after a crash or a
        kill, the next ``writer`` of the same key with the same shape reopens them, and the shards
        recorded as done are skipped. Any other error leaves them for the next run too.
        """
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp, progress = self.partial_paths(key)
        dtype = np.dtype(dtype)
        done: set[int] = set()
        arr = None
        if tmp.exists() and progress.exists():
            try:
                arr = np.lib.format.open_memmap(tmp, mode="r+")
                record = json.loads(progress.read_text())
                if arr.shape != (n, dim) or arr.dtype != dtype or record.get("key") != key:
                    arr = None
                else:
                    done = set(record["done"])
            except (ValueError, OSError, KeyError):
                arr = None
        if arr is None:
            with contextlib.suppress(FileNotFoundError):
                progress.unlink()
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, dim))
        entry = PartialEntry(arr, done, progress, key)
        yield entry
        arr.flush()
        del arr, entry.vectors
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        with contextlib.suppress(FileNotFoundError):
            progress.unlink()
        if meta is not None:
            side = final.with_suffix(".json")
            with open(side.with_name(f".{side.name}.tmp"), "w", encoding="utf-8") as fh:
                json.dump({"key": key, "n": n, "dim": dim, "storage": dtype.name, **meta}, fh, indent=2)
            os.replace(side.with_name(f".{side.name}.tmp"), side)


class PartialEntry:
    """An entry being written: ``vectors`` (memory-mapped) and ``done``, the shard numbers already
    written (by this run or a killed one). :meth:`mark` records a shard as done, durably."""

    def __init__(self, vectors: np.ndarray, done: set[int], progress: Path, key: str):
        self.vectors, self.done, self._progress, self._key = vectors, done, progress, key

    def mark(self, shard: int) -> None:
        self.vectors.flush()  # the shard's vectors reach the file before the record says so
        self.done.add(shard)
        tmp = self._progress.with_name(self._progress.name + ".tmp")
        tmp.write_text(json.dumps({"key": self._key, "done": sorted(self.done)}))
        os.replace(tmp, self._progress)
