"""The experiment file of ``sycl run``: one file for generate -> holdout -> mine -> train -> evaluate -> report.

```yaml
name: scifact-synthetic
out: runs/scifact-synthetic          # the run directory (default runs/<name>)
seed: 13
generate:                            # the settings of `sycl generate` (sycl.generation.GenerationConfig)
  queries: ../shared/datasets/scifact
  split: train
  backend: embedded
holdout: {fraction: 0.2}             # keep 20% of the generated queries for a synthetic test split
mine:                                # optional: BM25 negatives written to {run}/mined/negatives.jsonl
  dataset: ../shared/datasets/scifact
  split: train
  k: 100
train:                               # one entry per model; each is a `sycl train` experiment
  ws2:
    data: {sources: [{path: "{data}"}], group_size: 4}
    loss: ws2
  infonce:
    data: {sources: [{path: "{data}"}], format: binary, positive_threshold: 2, group_size: 3}
    loss: infonce
evaluate:
  datasets: ["{heldout}", ../shared/datasets/scifact]
  base_model: true                   # also evaluate the untrained base model
report: true
```

Strings may name run paths with ``{run}``, ``{data}`` (the generated set), ``{heldout}``
(its held-out part) and ``{negatives}`` (the mined negatives). Every section is validated by
the stage's own model when the file is loaded, so a typo fails before anything runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from sycl.config import StrictModel, load

STAGES = ("generate", "holdout", "mine", "train", "evaluate", "report")


class HoldoutConfig(StrictModel):
    """Split the generated queries: ``fraction`` of them become a held-out ``test`` split."""

    fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int | None = Field(default=None, description="default: the run's seed")


class MineConfig(StrictModel):
    """Settings of ``sycl mine`` for the run (output: ``{run}/mined/negatives.jsonl``)."""

    dataset: str
    split: str = "train"
    k: int = Field(default=100, gt=0)
    model: str | None = Field(default=None, description="dense model; default BM25")


class EvaluateConfig(StrictModel):
    """Which data sets every trained model (and optionally the base model) is evaluated on."""

    datasets: list[str] = Field(min_length=1)
    split: str = "test"
    base_model: bool = True
    settings: dict[str, Any] = Field(default_factory=dict, description="further `sycl evaluate` settings")


class RunConfig(StrictModel):
    """A whole experiment; see the module docstring."""

    name: str = "sycl-run"
    out: str | None = None
    seed: int = 13
    generate: dict[str, Any] | None = None
    holdout: HoldoutConfig | None = None
    mine: MineConfig | None = None
    train: dict[str, dict[str, Any]] = Field(default_factory=dict)
    evaluate: EvaluateConfig | None = None
    report: bool = True

    @model_validator(mode="after")
    def _check_sections(self) -> "RunConfig":
        from sycl.generation.config import GenerationConfig
        from sycl.training.config import ExperimentConfig

        if self.holdout is not None and self.generate is None:
            raise ValueError("holdout: needs a generate: section (it splits the generated queries)")
        if self.generate is not None:
            GenerationConfig.model_validate(substitute(self.generate, _placeholder_paths()))
        for name, exp in self.train.items():
            try:
                ExperimentConfig.model_validate({"name": name, **substitute(exp, _placeholder_paths())})
            except Exception as err:
                raise ValueError(f"train.{name}: {err}") from None
        return self

    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name


def _placeholder_paths() -> dict[str, str]:
    return {k: f"/{k}" for k in ("run", "data", "heldout", "negatives")}


def substitute(obj: Any, paths: dict[str, str]) -> Any:
    """Replace ``{run}``, ``{data}``, ``{heldout}``, ``{negatives}`` in every string of ``obj``."""
    if isinstance(obj, str):
        for key, value in paths.items():
            obj = obj.replace("{" + key + "}", str(value))
        return obj
    if isinstance(obj, dict):
        return {k: substitute(v, paths) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substitute(v, paths) for v in obj]
    return obj


def load_run_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Read and validate a ``sycl run`` experiment file (dotted ``key=value`` overrides first)."""
    return load(RunConfig, path, overrides)
