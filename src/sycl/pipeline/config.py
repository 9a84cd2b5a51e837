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
the stage's own model when the file is loaded, so a typo fails before anything runs; the runner
checks that every local input exists before the first stage (:mod:`sycl.pipeline.inputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, model_validator

from sycl.config import StrictModel, load
from sycl.evaluation.config import EvaluationConfig
from sycl.generation.config import GenerationConfig
from sycl.mining.config import MiningConfig
from sycl.training.config import ExperimentConfig

M = TypeVar("M", bound=StrictModel)

STAGES = ("generate", "holdout", "mine", "train", "evaluate", "report")


class HoldoutConfig(StrictModel):
    """Split the generated queries: ``fraction`` of them become a held-out ``test`` split."""

    fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int | None = Field(default=None, description="default: the run's seed")


class EvaluateConfig(EvaluationConfig):
    """Which data sets every trained model (and optionally the base model) is evaluated on, and how
    (every other field is a ``sycl evaluate`` setting, :class:`~sycl.evaluation.config.EvaluationConfig`)."""

    datasets: list[str] = Field(min_length=1, description="suites, BEIR folders, hf:// paths or BEIR names")
    base_model: bool = Field(default=True, description="also evaluate the untrained base model")

    def evaluation(self) -> EvaluationConfig:
        """The settings of the evaluation itself."""
        return EvaluationConfig.model_validate(self.model_dump(exclude={"datasets", "base_model"}, exclude_unset=True))


class RunConfig(StrictModel):
    """A whole experiment; see the module docstring. Sections are validated when the file is read, with
    the run paths still as placeholders (``{data}``); the runner substitutes them stage by stage."""

    name: str = Field(default="sycl-run", description="name of the run")
    out: str | None = Field(default=None, description="run directory (default: runs/<name>)")
    seed: int = Field(default=13, description="seed of every stage that does not set its own")
    generate: GenerationConfig | None = None
    holdout: HoldoutConfig | None = None
    mine: MiningConfig | None = None
    train: dict[str, ExperimentConfig] = Field(default_factory=dict)
    evaluate: EvaluateConfig | None = None
    report: bool = True

    @model_validator(mode="before")
    @classmethod
    def _name_models(cls, data):
        """Each ``train`` entry is an experiment named by its key."""
        if isinstance(data, dict) and isinstance(data.get("train"), dict):
            data = {
                **data,
                "train": {
                    name: ({"name": name, **exp} if isinstance(exp, dict) else exp)
                    for name, exp in data["train"].items()
                },
            }
        return data

    @model_validator(mode="after")
    def _check_sections(self) -> RunConfig:
        if self.holdout is not None and self.generate is None:
            raise ValueError("holdout: needs a generate: section (it splits the generated queries)")
        return self

    def run_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / self.name


def resolve(section: M, paths: dict[str, str], defaults: dict | None = None, fixed: dict | None = None) -> M:
    """A copy of a validated section with the run paths put in for their placeholders; ``defaults`` fill
    the fields the file left unset (e.g. the run's seed), ``fixed`` replace fields (e.g. the output)."""
    data = substitute(section.model_dump(mode="json", exclude_unset=True), paths)
    for key, value in (defaults or {}).items():
        data.setdefault(key, value)
    data.update(fixed or {})
    return type(section).model_validate(data)


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


def load_run_config(path: str | Path | None, overrides: list[str] | dict | None = None) -> RunConfig:
    """Read and validate a ``sycl run`` experiment file (dotted ``key=value`` overrides first)."""
    return load(RunConfig, path, overrides)
