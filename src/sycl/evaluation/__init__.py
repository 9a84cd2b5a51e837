"""Evaluation: encoding with an embedding cache, exact blocked search, trec_eval measures, suites."""
from sycl.retrieval.cache import EmbeddingCache, model_fingerprint
from sycl.retrieval.encoding import CorpusTexts, ListTexts, encode
from sycl.evaluation.metrics import DEFAULT_MEASURES, compute_metrics
from sycl.evaluation.evaluate import EvaluationConfig, evaluate
from sycl.retrieval.search import TopK, exact_search, merge_topk
from sycl.evaluation.suites import DatasetEntry, available_suites, load_suite

__all__ = ["evaluate", "EvaluationConfig", "EmbeddingCache", "model_fingerprint", "encode", "ListTexts", "CorpusTexts",
           "compute_metrics", "DEFAULT_MEASURES", "exact_search", "merge_topk", "TopK", "DatasetEntry",
           "available_suites", "load_suite"]
