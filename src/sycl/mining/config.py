"""Settings of ``sycl mine`` and of the ``mine:`` section of a ``sycl run`` file (importable without torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sycl.config import StrictModel
from sycl.kernels.options import DEFAULT_ENCODE_BACKEND, ENCODE_BACKEND_HELP, EncodeBackend, Precision


class MiningConfig(StrictModel):
    """Which documents become hard negatives: the top ``k`` of BM25 or a dense model, minus the positives."""

    dataset: str = Field(description="BEIR folder, hf://datasets/<owner>/<name>, or BEIR name")
    split: str = Field(default="train", description="qrels split whose judged queries are mined")
    k: int = Field(default=1000, gt=0, description="negatives per query")
    model: str | None = Field(
        default=None,
        description="dense mining with this model (sycl/sentence-transformers folder or hub name); default BM25",
    )
    format: Literal["jsonl", "tsv"] | None = Field(
        default=None, description="output format (default: from the file suffix: .tsv -> tsv, else grouped jsonl)"
    )
    positive_label: int = Field(default=1, description="judgements with label >= this are positives")
    ignore_identical_ids: bool = Field(
        default=False,
        description="skip the document whose id equals the query id (BEIR's rule for ArguAna and Quora, "
        "where queries are corpus documents; off by default, as in the reference toolkit)",
    )
    k1: float = Field(default=0.9, gt=0, description="BM25 term-frequency saturation")
    b: float = Field(default=0.4, ge=0, le=1, description="BM25 length normalisation")
    batch_size: int | None = Field(
        default=None, ge=1, description="encoding batch size (dense; default: 16 on CPU, 128 on GPU)"
    )
    precision: Precision = Field(default="auto", description="encoding autocast (dense)")
    encode_backend: EncodeBackend = Field(default=DEFAULT_ENCODE_BACKEND, description=ENCODE_BACKEND_HELP)
    cache: bool = Field(default=True, description="use the embedding cache (dense)")
