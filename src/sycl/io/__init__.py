"""Readers, writers and validation for the hand-off formats of every stage (BEIR, TREC)."""
from sycl.io.atomic import atomic_open, atomic_write_json, atomic_write_text
from sycl.io.errors import DataError
from sycl.io.beir import (
    iter_jsonl,
    iter_qrels,
    read_queries,
    read_qrels,
    write_corpus,
    write_queries,
    write_qrels,
    qrels_path,
    list_splits,
)
from sycl.io.trec import read_run, write_run

__all__ = [
    "DataError",
    "atomic_open",
    "atomic_write_json",
    "atomic_write_text",
    "iter_jsonl",
    "iter_qrels",
    "read_queries",
    "read_qrels",
    "write_corpus",
    "write_queries",
    "write_qrels",
    "qrels_path",
    "list_splits",
    "read_run",
    "write_run",
]
