"""Settings of the retriever: how texts become vectors, and the numeric precision of its matrix products.

Importable without torch: the command line derives its flags from these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sycl.config import StrictModel
from sycl.embedded import EMBEDDED_ENCODER


class EncodingConfig(StrictModel):
    """How texts become vectors. ``None`` fields are read from the model directory when it has them."""

    pooling: Literal["mean", "cls", "last"] | None = Field(default=None, description="token pooling")
    normalize: bool | None = Field(default=None, description="L2-normalise the embeddings")
    similarity: Literal["dot", "cosine"] | None = Field(default=None, description="score function")
    query_prefix: str | None = Field(default=None, description="text put before every query")
    passage_prefix: str | None = Field(default=None, description="text put before every passage")
    max_query_length: int | None = Field(default=None, gt=0, description="query tokens kept")
    max_passage_length: int | None = Field(default=None, gt=0, description="passage tokens kept")

    def overrides(self) -> dict:
        """The encoding fields that are set (not ``None``)."""
        return {k: getattr(self, k) for k in EncodingConfig.model_fields if getattr(self, k) is not None}


class EncoderConfig(EncodingConfig):
    """A model (directory, hub name or sentence-transformers folder) and its :class:`EncodingConfig`."""

    model: str = Field(
        default=EMBEDDED_ENCODER,
        description="a sycl or sentence-transformers folder, a Hugging "
        "Face model name, or the embedded all-MiniLM-L6-v2",
    )
