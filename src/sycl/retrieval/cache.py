"""On-disk embedding cache, keyed by what determines the vectors, never by a file name.

A key is the SHA-256 of: the model's weights (every tensor of the state dict: name, dtype,
shape, bytes), its tokenizer, its encoding settings (pooling, normalisation, prefixes, max
lengths), the autocast dtype, the kind of text (query/passage), and the texts themselves in
order. Change any weight and the key changes, so stale vectors cannot be reused.

Entries are ``.npy`` files (float32 ``[n, d]``) opened memory-mapped. They are written to a
temporary file in the same folder and renamed into place when complete, so an interrupted
run never leaves a half-written entry under a valid key.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

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


def entry_key(model_fp: str, settings: dict, kind: str, dtype: str, texts_fp: str) -> str:
    """The cache key (hex) of one set of vectors."""
    blob = json.dumps({"format": _FORMAT, "model": model_fp, "settings": settings, "kind": kind,
                       "dtype": dtype, "texts": texts_fp}, sort_keys=True)
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

    @contextlib.contextmanager
    def writer(self, key: str, n: int, dim: int, meta: dict | None = None) -> Iterator[np.ndarray]:
        """Yield a writable memory-mapped ``float32 [n, dim]``; it becomes the entry on clean exit."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".npy", dir=final.parent)
        os.close(fd)
        try:
            arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
            yield arr
            arr.flush()
            del arr
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            if meta is not None:
                side = final.with_suffix(".json")
                with open(side.with_name(f".{side.name}.tmp"), "w", encoding="utf-8") as fh:
                    json.dump({"key": key, "n": n, "dim": dim, **meta}, fh, indent=2)
                os.replace(side.with_name(f".{side.name}.tmp"), side)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
