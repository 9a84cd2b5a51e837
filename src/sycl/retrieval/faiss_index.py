"""Optional search through a ``faiss`` index (``pip install sycl-ir[faiss]``), for large corpora.

``factory`` is a faiss index-factory string with inner-product metric: ``Flat`` (exact),
``HNSW32`` (graph, approximate), ``IVF4096,Flat`` (inverted lists, approximate; trained
on up to 256 vectors per list sampled from the corpus). Results use the same total order
as :func:`sycl.retrieval.search.exact_search` (score descending, row ascending).
"""

from __future__ import annotations

import numpy as np
import torch

from sycl.io.errors import DataError
from sycl.retrieval.search import TopK, select_top


def faiss_search(
    queries: np.ndarray,
    docs: np.ndarray,
    k: int,
    factory: str = "Flat",
    *,
    exclude: np.ndarray | None = None,
    row_offset: int = 0,
    add_block: int = 262_144,
    nprobe: int = 32,
    seed: int = 0,
) -> TopK:
    """Top-``k`` by inner product with a faiss index built from ``docs [N, dim]`` (float32)."""
    try:
        import faiss
    except ImportError:
        raise DataError(None, "faiss is not installed: pip install 'sycl-ir[faiss]' (or faiss-gpu)") from None
    n, dim = docs.shape
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        raise DataError(None, f"bad faiss index factory string {factory!r}: {err}") from None
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        nlist = getattr(faiss.extract_index_ivf(index), "nlist", 1024) if "IVF" in factory else 1024
        sample = np.sort(rng.choice(n, size=min(n, 256 * nlist), replace=False))
        index.train(np.ascontiguousarray(docs[sample], dtype=np.float32))
    for s in range(0, n, add_block):
        index.add(np.ascontiguousarray(docs[s : s + add_block], dtype=np.float32))
    if "IVF" in factory:
        faiss.extract_index_ivf(index).nprobe = nprobe
    extra = 1 if exclude is not None else 0
    depth = min(n, k + extra)
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), depth)
    rows = rows.astype(np.int64)
    valid = rows >= 0
    rows = np.where(valid, rows + row_offset, -1)
    scores = np.where(valid, scores, -np.inf).astype(np.float32)
    if exclude is not None:
        drop = rows == np.asarray(exclude, dtype=np.int64)[:, None]
        scores[drop], rows[drop] = -np.inf, -1
    s, r = select_top(torch.from_numpy(scores), torch.from_numpy(rows), k)
    s, r = s.numpy(), r.numpy()
    r[np.isneginf(s)] = -1
    out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    out_r = np.full((len(queries), k), -1, dtype=np.int64)
    out_s[:, : s.shape[1]], out_r[:, : r.shape[1]] = s, r
    return TopK(out_s, out_r)
