"""Fixtures of the data tests: small graded BEIR folders built with the shared ``beir_writer``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def graded_beir(tmp_path, beir_writer) -> Callable[..., Path]:
    """Factory: ``graded_beir(name="g", n_queries=4, levels=(3, 2, 1, 0), prefix="")`` -> a BEIR folder.

    Queries ``q0..`` with text ``query <prefix><i>``; one passage per (query, level) with id
    ``d<i>-<level>``, text ``<prefix>doc <i> level <level>`` and label ``level`` in split ``train``,
    in the order of ``levels``.
    """

    def make(name: str = "g", n_queries: int = 4, levels=(3, 2, 1, 0), prefix: str = "") -> Path:
        queries = {f"q{i}": f"query {prefix}{i}" for i in range(n_queries)}
        docs = [
            {"_id": f"d{i}-{lev}", "text": f"{prefix}doc {i} level {lev}"} for i in range(n_queries) for lev in levels
        ]
        qrels = {"train": {f"q{i}": {f"d{i}-{lev}": lev for lev in levels} for i in range(n_queries)}}
        return beir_writer(tmp_path / name, docs, queries, qrels)

    return make
