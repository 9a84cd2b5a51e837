"""Hard-negative mining: BM25 (bm25s + PyStemmer) or dense top-k, judged positives excluded."""
from sycl.mining.bm25 import BM25Index
from sycl.mining.negatives import mine_negatives

__all__ = ["BM25Index", "mine_negatives"]
