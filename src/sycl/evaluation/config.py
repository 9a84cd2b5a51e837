"""Settings of ``sycl evaluate`` (importable without torch: the command line derives its flags here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sycl.kernels.options import (
    DEFAULT_ENCODE_BACKEND,
    ENCODE_BACKEND_HELP,
    EncodeBackend,
    Precision,
    SearchPrecision,
)
from sycl.modeling.config import EncodingConfig

DEFAULT_MEASURES = ("nDCG@10", "RR@10", "R@100", "R@1000", "AP@1000")


class EvaluationConfig(EncodingConfig):
    """Settings of an evaluation (``None`` encoder fields keep the model's own)."""

    split: str = Field(default="test", description="qrels split of data sets given directly (suites set their own)")
    k: int = Field(default=1000, ge=1, description="documents retrieved per query (run depth)")
    measures: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MEASURES),
        description="ir-measures names (default: nDCG@10 RR@10 R@100 R@1000 AP@1000)",
    )
    relevance_level: int | None = Field(
        default=None,
        ge=1,
        description="label counted as relevant by binary measures (overrides every suite entry's level)",
    )
    ignore_identical_ids: bool | None = Field(
        default=None,
        description="drop a retrieved document whose id equals the query id, for every data set "
        "(default: as each suite entry says: on for BEIR's ArguAna and Quora, off elsewhere and for data sets "
        "given directly; the paper suite never drops)",
    )
    batch_size: int | None = Field(
        default=None, ge=1, description="texts per encoding batch (default: 16 on CPU, 128 on GPU)"
    )
    precision: Precision | None = Field(
        default=None,
        description="encoding autocast (default: the suite entry's, else auto; auto: bf16 on GPUs and on CPUs "
        "where it measured faster than fp32, see sycl info; else fp32; the paper suite: fp32)",
    )
    encode_backend: EncodeBackend | None = Field(
        default=None,
        description=f"default: the suite entry's, else {DEFAULT_ENCODE_BACKEND} (the paper suite: torch, as the "
        f"reference); {ENCODE_BACKEND_HELP}",
    )
    search_precision: SearchPrecision | None = Field(
        default=None,
        description="default: the suite entry's, else auto (the paper suite: fp32); auto: the path measured fastest on this "
        "CPU (sycl info); fp32: exact; int8 or bf16: candidates selected in "
        "reduced precision, final scores and order recomputed in fp32 (a path "
        "that measured slower than fp32 is warned about, or refused when it "
        "would take hours)",
    )
    vector_storage: Literal["fp32", "fp16"] = Field(
        default="fp32", description="precision of the cached corpus vectors on disk (fp16: half the disk and I/O)"
    )
    index: str = Field(default="exact", description="'exact', or 'faiss:<factory>' e.g. faiss:HNSW32")
    cache: bool = Field(default=True, description="read and write the embedding cache")
    cache_dir: str | None = Field(default=None, description="embedding cache folder (default $SYCL_CACHE/embeddings)")
    doc_block: int = Field(default=32768, ge=1, description="documents scored per search block")
    strict: bool = Field(default=False, description="fail when any judged document is missing from the corpus")
    show_progress: bool = Field(default=True, description="progress bars")
