"""Relevance levels of a synthetic ranking context: label, name and definition.

The labels 3/2/1/0 are those of the released SyCL data (its ``qrels/train.tsv``). The paper's own
prompt and level wording are not public, so the names and definitions here are sycl's choice:
the TREC Deep Learning passage-judging definitions (the graded relevance scale of the TREC DL
track's assessor guidelines, as also used by the UMBRELA judging prompt), not the paper's text.
A configuration may replace them with any list of distinct integer labels, ordered from most to
least relevant.
"""

from __future__ import annotations

from pydantic import field_validator

from sycl.config import StrictModel


class RelevanceLevel(StrictModel):
    """One level: the integer ``label`` written to qrels, a short ``name``, a ``definition``."""

    label: int
    name: str
    definition: str

    @field_validator("name", "definition")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()


TREC_DL_LEVELS: tuple[RelevanceLevel, ...] = (
    RelevanceLevel(
        label=3,
        name="perfectly relevant",
        definition="the passage is dedicated to the query and contains the exact answer",
    ),
    RelevanceLevel(
        label=2,
        name="highly relevant",
        definition="the passage has some answer for the query, but the answer may be a bit unclear "
        "or hidden among extraneous information",
    ),
    RelevanceLevel(label=1, name="related", definition="the passage seems related to the query but does not answer it"),
    RelevanceLevel(label=0, name="irrelevant", definition="the passage has nothing to do with the query"),
)


def default_levels() -> list[RelevanceLevel]:
    """A fresh copy of the four TREC DL levels, most relevant first."""
    return [lv.model_copy() for lv in TREC_DL_LEVELS]


def check_levels(levels: list[RelevanceLevel]) -> list[RelevanceLevel]:
    """Validate a level list (non-empty, distinct labels) and return it sorted most relevant first."""
    if not levels:
        raise ValueError("at least one relevance level is required")
    labels = [lv.label for lv in levels]
    if len(set(labels)) != len(labels):
        raise ValueError(f"relevance labels must be distinct, got {labels}")
    return sorted(levels, key=lambda lv: -lv.label)
