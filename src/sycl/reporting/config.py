"""Settings of ``sycl report`` (importable without matplotlib: the command line derives its flags here)."""

from __future__ import annotations

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
