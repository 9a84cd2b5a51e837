"""Settings of ``sycl report`` (importable without matplotlib: the command line derives its flags here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sycl.config import StrictModel

DEFAULT_MEASURE = "nDCG@10"


class ReportConfig(StrictModel):
    """What the report shows; the run directories are given separately."""

    out: str | None = Field(default=None, description="output folder (default RUN_DIR/report; required with several)")
    title: str | None = Field(default=None, description="page title")
    measure: str = Field(default=DEFAULT_MEASURE, description="headline measure of the chart and summary")
    samples: int = Field(default=3, ge=0, description="sample ranking contexts shown per generated set")
    max_chars: int = Field(default=320, gt=0, description="characters shown per passage")


class PushConfig(StrictModel):
    """Where ``sycl push`` uploads a model directory or a BEIR folder (the folder is given separately)."""

    repo: str = Field(
        pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", description="hub repository to create or update, owner/name"
    )
    repo_type: Literal["model", "dataset"] = Field(
        default="model", description="model: the model files and card; dataset: the BEIR files and a dataset card"
    )
    revision: str | None = Field(
        default=None, description="branch to commit to, created from the default branch when absent (default: main)"
    )
    private: bool = Field(default=False, description="create the repository private (an existing one keeps its own)")
    license: str | None = Field(
        default=None,
        description="licence in a dataset card's metadata (default: the source queries' licence when their hub "
        "card states one)",
    )
    commit_message: str | None = Field(default=None, description="commit message (default: Upload with SyCL)")
