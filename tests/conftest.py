"""Shared fixtures: tiny BEIR folders written per test, the real collections when present.

Every test runs offline (``HF_HUB_OFFLINE=1``, set before anything imports
``huggingface_hub``) and with ``SYCL_CACHE`` in a per-session temporary folder, so no test
reads or writes the user's caches.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from topics import TOPICS

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT / ".." / "shared" / "datasets"

LEVEL_WORDS = {3: "answers exactly", 2: "partly answers", 1: "is related to", 0: "has nothing to do with"}


@pytest.fixture(scope="session", autouse=True)
def _sycl_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYCL_CACHE", str(tmp_path_factory.mktemp("sycl-cache")))
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


def write_beir(
    root: Path, docs: list[Mapping], queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, Mapping[str, int]]]
) -> Path:
    """Write a BEIR folder (plain writes: fixtures, not code under test)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(dict(d), ensure_ascii=False) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    for split, q in qrels.items():
        with open(root / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for qid, dd in q.items():
                for did, rel in dd.items():
                    fh.write(f"{qid}\t{did}\t{rel}\n")
    return root


@pytest.fixture
def tiny_beir(tmp_path) -> Callable[..., Path]:
    """Factory writing a small graded BEIR folder under ``tmp_path`` and returning its path.

    ``tiny_beir(name="tiny", n_queries=3, levels=(3, 2, 1, 0), splits=("test",), extra_docs=2)``
    writes queries ``q0..``, one passage per (query, level) with id ``q{i}-l{level}`` and
    label ``level`` in every split, plus ``extra_docs`` unjudged passages ``x0..``.
    Pass ``docs``/``queries``/``qrels`` to write exactly those instead.
    """

    def make(
        name: str = "tiny",
        n_queries: int = 3,
        levels=(3, 2, 1, 0),
        splits=("test",),
        extra_docs: int = 2,
        docs=None,
        queries=None,
        qrels=None,
    ) -> Path:
        if queries is None:
            queries = {f"q{i}": f"how do {TOPICS[i % 8]} work {i}" for i in range(n_queries)}
        if docs is None:
            docs = []
            for i, qid in enumerate(queries):
                for lev in levels:
                    docs.append(
                        {
                            "_id": f"{qid}-l{lev}",
                            "title": f"T {qid} {lev}",
                            "text": f"This passage {LEVEL_WORDS.get(lev, 'judged')} {queries[qid]}.",
                        }
                    )
            docs += [
                {"_id": f"x{j}", "title": "", "text": f"unjudged filler passage number {j}"} for j in range(extra_docs)
            ]
        if qrels is None:
            qrels = {s: {qid: {f"{qid}-l{lev}": lev for lev in levels} for qid in queries} for s in splits}
        return write_beir(tmp_path / name, docs, queries, qrels)

    return make


@pytest.fixture
def logged():
    """Records logged under ``sycl`` while the test runs (the ``sycl`` logger does not propagate to caplog)."""
    records, handler, logger = [], logging.Handler(), logging.getLogger("sycl")
    handler.emit = records.append
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def shared_datasets() -> Path:
    """Path of the real collections (``../shared/datasets``: scifact, cranfield, cisi); skips when absent."""
    path = SHARED_DATASETS.resolve()
    if not path.is_dir():
        pytest.skip(f"real collections not found at {path}")
    return path


@pytest.fixture
def beir_writer() -> Callable[..., Path]:
    """``write_beir`` as a fixture: ``beir_writer(root, docs, queries, {split: qrels})`` -> root.

    Prefer this to ``from conftest import write_beir``: with several ``conftest.py`` files in
    the tree, the module named ``conftest`` is whichever pytest imported first.
    """
    return write_beir


def _round_trip(path: Path, model):
    """Read the record at ``path`` with ``model``; its dump must equal the file's JSON. Returns the record."""
    from sycl.io.records import read_record

    record = read_record(path, model)
    assert record.model_dump(mode="json") == json.loads(Path(path).read_text(encoding="utf-8")), path
    return record


@pytest.fixture
def record_round_trip() -> Callable:
    """``record_round_trip(path, Model)``: the file written by a real writer reads back and dumps to the same JSON."""
    return _round_trip
