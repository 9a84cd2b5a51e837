"""Hold out a share of a BEIR data set's queries as a test split (``sycl run``'s ``holdout:`` stage)."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from sycl.io.atomic import atomic_write_json
from sycl.io.beir import read_qrels, read_queries, write_qrels, write_queries
from sycl.io.errors import DataError


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def split_holdout(generated: Path, out: Path, fraction: float, seed: int) -> None:
    """Split a generated set by query: ``out/train`` (its ``train`` qrels) and ``out/test``.

    Both share the full generated corpus, so the test queries are searched among every
    generated passage, the training queries' ones included.
    """
    queries = read_queries(generated / "queries.jsonl")
    qrels = read_qrels(generated / "qrels" / "train.tsv")
    ids = sorted(q for q in queries if q in qrels)
    rng = random.Random(seed)
    rng.shuffle(ids)
    n_test = max(1, round(len(ids) * fraction))
    if n_test >= len(ids):
        raise DataError(generated, f"cannot hold out {fraction:.0%} of {len(ids)} queries and keep some for training")
    test, train = set(ids[:n_test]), set(ids[n_test:])
    for part, keep, split in (("train", train, "train"), ("test", test, "test")):
        d = out / part
        _link_or_copy(generated / "corpus.jsonl", d / "corpus.jsonl")
        write_queries(d / "queries.jsonl", {q: t for q, t in queries.items() if q in keep})
        write_qrels(d / "qrels" / f"{split}.tsv", {q: qrels[q] for q in qrels if q in keep})
    atomic_write_json(
        out / "split.json", {"seed": seed, "fraction": fraction, "train": sorted(train), "test": sorted(test)}
    )
