"""Evaluation: encoding with an embedding cache, exact blocked search, trec_eval measures, suites."""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "EmbeddingCache": "sycl.retrieval.cache",
    "model_fingerprint": "sycl.retrieval.cache",
    "CorpusTexts": "sycl.retrieval.encoding",
    "ListTexts": "sycl.retrieval.encoding",
    "encode": "sycl.retrieval.encoding",
    "DEFAULT_MEASURES": "sycl.evaluation.config",
    "compute_metrics": "sycl.evaluation.metrics",
    "EvaluationConfig": "sycl.evaluation.config",
    "evaluate": "sycl.evaluation.evaluator",
    "TopK": "sycl.retrieval.search",
    "exact_search": "sycl.retrieval.search",
    "merge_topk": "sycl.retrieval.search",
    "DatasetEntry": "sycl.evaluation.suites",
    "available_suites": "sycl.evaluation.suites",
    "load_suite": "sycl.evaluation.suites",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
