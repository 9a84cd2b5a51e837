"""Readers, writers and validation for the hand-off formats of every stage (BEIR, TREC)."""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "atomic_open": "sycl.io.atomic",
    "atomic_write_json": "sycl.io.atomic",
    "atomic_write_text": "sycl.io.atomic",
    "DataError": "sycl.io.errors",
    "read_run": "sycl.io.trec",
    "write_run": "sycl.io.trec",
    "iter_jsonl": "sycl.io.beir",
    "iter_qrels": "sycl.io.beir",
    "read_queries": "sycl.io.beir",
    "read_qrels": "sycl.io.beir",
    "write_corpus": "sycl.io.beir",
    "write_queries": "sycl.io.beir",
    "write_qrels": "sycl.io.beir",
    "qrels_path": "sycl.io.beir",
    "list_splits": "sycl.io.beir",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
