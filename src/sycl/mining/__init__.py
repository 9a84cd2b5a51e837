"""Hard-negative mining: BM25 (bm25s + PyStemmer) or dense top-k, judged positives excluded."""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "BM25Index": "sycl.mining.bm25",
    "mine_negatives": "sycl.mining.negatives",
    "mine": "sycl.mining.negatives",
    "MiningConfig": "sycl.mining.config",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
