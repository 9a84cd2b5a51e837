"""Declarative data sources and training-set settings (the ``data:`` section of an experiment).

A :class:`SourceConfig` names one ranking-context source -- a corpus, its queries and a qrels
file -- and how its judgements are turned into training passages, in this order:

1. **filter**: ``query_subset`` keeps the listed queries; ``min_score`` (inclusive) and
   ``max_score`` (exclusive) keep judgements whose label lies in ``[min_score, max_score)``;
2. **select**, per query and at most one of: ``group_random_k`` (k random passages, drawn again
   every epoch), ``group_top_k`` (the k highest labels), ``group_bottom_k`` (the k lowest),
   ``group_first_k`` (the first k in file order); ties keep file order;
3. **relabel**: ``score_transform`` replaces every label by a constant (e.g. real positives
   relabelled 3, BM25 negatives relabelled 1), or rounds fractional labels down (``floor``) or up
   (``ceil``) to integer levels (useful for averaged judgements or reranker scores; integer
   labels are unchanged).

Sources combine into one training set (:class:`DataConfig`): a query (by id) appears once,
with the union of its passages from all sources. Document ids are namespaced by corpus: two
sources that read the same corpus file share its passages, different corpora never clash even
when their ids do. A (query, passage) pair judged twice keeps its highest label in a
multi-level set; a binary set rejects a pair that would be both positive and negative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from sycl.config import StrictModel

SELECTORS = ("group_random_k", "group_top_k", "group_bottom_k", "group_first_k")


class SourceConfig(StrictModel):
    """One source of (query, passage, label) judgements; see the module docstring for the order of steps."""

    name: str | None = Field(default=None, description="label used in logs and namespaced ids (default: source<i>)")
    path: str | None = Field(default=None, description="BEIR folder, hf://datasets/... path or BEIR name")
    corpus: str | None = Field(default=None, description="corpus.jsonl or a folder holding it (default: path)")
    queries: str | None = Field(default=None, description="queries.jsonl / .tsv (default: path/queries.jsonl)")
    qrels: str = Field(
        default="train", description="a split name of path/qrels/ or a qrels file (TSV, TREC, grouped JSONL)"
    )
    query_subset: str | None = Field(
        default=None, description="file of query ids to keep (one per line, or a queries file)"
    )
    min_score: float | None = None
    max_score: float | None = None
    score_transform: float | Literal["floor", "ceil"] | None = None
    group_random_k: int | None = Field(default=None, gt=0)
    group_top_k: int | None = Field(default=None, gt=0)
    group_bottom_k: int | None = Field(default=None, gt=0)
    group_first_k: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        chosen = [s for s in SELECTORS if getattr(self, s) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose at most one of {', '.join(SELECTORS)}; got {', '.join(chosen)}")
        if self.path is None and (self.corpus is None or self.queries is None or not _looks_like_file(self.qrels)):
            raise ValueError("give 'path' (a BEIR folder), or all of 'corpus', 'queries' and a 'qrels' file")
        if self.min_score is not None and self.max_score is not None and self.min_score >= self.max_score:
            raise ValueError(
                f"min_score ({self.min_score}) must be below max_score ({self.max_score}); "
                "min_score is inclusive, max_score exclusive"
            )
        return self

    @property
    def selector(self) -> tuple[str, int] | None:
        """``(kind, k)`` of the per-query selection, e.g. ``("random", 2)``, or ``None``."""
        for s in SELECTORS:
            k = getattr(self, s)
            if k is not None:
                return s.split("_")[1], int(k)
        return None


def _looks_like_file(value: str) -> bool:
    return Path(value).suffix in (".tsv", ".txt", ".jsonl", ".json", ".trec", ".qrels") or Path(value).is_file()


class DataConfig(StrictModel):
    """How sources become training groups (``format``, ``group_size``, selection strategy)."""

    sources: list[SourceConfig] = Field(min_length=1)
    format: Literal["multilevel", "binary"] = Field(
        default="multilevel",
        description="multilevel: group_size graded passages; binary: one positive first + group_size-1 negatives",
    )
    group_size: int = Field(default=4, gt=0)
    passage_selection_strategy: Literal["random", "most_relevant", "least_relevant"] = "random"
    positive_threshold: float = Field(default=1.0, description="binary sets: label >= threshold is a positive")
