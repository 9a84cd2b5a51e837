"""The experiment file of ``sycl train``: model, data, loss, optimisation and collapse guard.

```yaml
name: scifact-w1d
model: {model: "embedded:all-MiniLM-L6-v2", max_query_length: 64, max_passage_length: 256}
data:
  sources:
    - {path: ../shared/datasets/scifact, qrels: train, score_transform: 3}
  format: multilevel          # or binary (one positive first, for InfoNCE)
  group_size: 4
loss: {name: graded}          # sycl's default recipe; or infonce, ws2 (the paper's), kl, ...
train: {epochs: 1, batch_size: 16, lr: 2.0e-5, precision: auto, in_batch_negatives: true}
guard: {every: 10, stop_on_collapse: false}
```

Every section forbids unknown keys; errors name the key path (``train.lr``). ``loss`` options
are checked against :func:`sycl.losses.get` when the file is loaded, so a typo fails before
any model is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sycl.config import StrictModel, load
from sycl.data.config import DataConfig
from sycl.kernels.options import Precision
from sycl.losses.options import InBatchMode
from sycl.losses.recipes import DEFAULT_RECIPE, default_temperature, names, resolve
from sycl.modeling.config import EncoderConfig


class LossConfig(StrictModel):
    """Which loss or recipe, and its options; ``None`` leaves an option at the recipe's or loss's default.

    ``name`` is a recipe of :mod:`sycl.losses.recipes` (``graded``, the default: ``wasserstein1d``
    with ``label_temperature 0.1`` and ``in_batch lowest``) or a bare loss of the registry
    (``infonce``, ``ws2``, ``kl``, ``wasserstein1d``, ``lambdaloss``) at its own defaults (label
    temperature 1, in-batch label 0: the reference's). Options given here override either.
    ``temperature`` left out follows the model's similarity: 0.05 for cosine, 1.0 for dot
    (:func:`sycl.losses.recipes.default_temperature`); the paper's configs give their 1.0 explicitly.

    ``temperature`` divides the raw similarities (``softmax(scores / temperature)``);
    ``label_temperature`` sharpens (< 1) or flattens (> 1) the target ``softmax(labels / t)``;
    ``in_batch`` says how other queries' passages enter the target (``zero``: label 0, the
    reference; ``lowest``: one level below the query's own lowest passage; ``exclude``: left out);
    ``infonce_weight`` adds ``w * InfoNCE`` to a list-wise loss. ``options`` passes any further
    option of the chosen loss (e.g. ``mu`` of ``lambdaloss``). An option the loss does not take is
    an error naming both. See :mod:`sycl.losses.targets`.
    """

    name: str = Field(
        default=DEFAULT_RECIPE,
        description="a recipe (graded: sycl's default) or a bare loss: infonce, ws2 (the paper's), kl, "
        "wasserstein1d, lambdaloss (sycl.losses.recipes.names())",
    )
    temperature: float | None = Field(
        default=None, gt=0, description="scores are divided by it (default: 0.05 for cosine models, 1.0 for dot)"
    )
    label_temperature: float | None = Field(default=None, gt=0, description="target softmax(labels / t)")
    in_batch: InBatchMode | None = Field(default=None, description="how other queries' passages enter the target")
    infonce_weight: float | None = Field(default=None, ge=0, description="adds w * InfoNCE to a list-wise loss")
    options: dict[str, Any] = Field(default_factory=dict, description="further options of the chosen loss")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value):
        """``loss: ws2`` is ``{name: ws2}``."""
        return {"name": value} if isinstance(value, str) else value

    @property
    def loss_name(self) -> str:
        """The registered loss under the recipe (the name itself for a bare loss)."""
        return resolve(self.name)[0]

    def explicit_options(self) -> dict[str, Any]:
        """The options set in this section (not the recipe's, not the defaults)."""
        opts = {
            k: v
            for k, v in (
                ("temperature", self.temperature),
                ("label_temperature", self.label_temperature),
                ("in_batch", self.in_batch),
                ("infonce_weight", self.infonce_weight),
            )
            if v is not None
        }
        opts.update(self.options)
        return opts

    def resolved_options(self, similarity: str | None = None) -> dict[str, Any]:
        """Every option the loss is built with: the temperature default for ``similarity``, the
        recipe's options, then this section's."""
        _, recipe_options = resolve(self.name)
        return {"temperature": default_temperature(similarity), **recipe_options, **self.explicit_options()}

    def build(self, similarity: str | None = None):
        """The ``nn.Module`` of :func:`sycl.losses.get` for these settings and a model of ``similarity``
        (``ValueError`` naming the loss and the option on unknown names or options)."""
        from sycl import losses

        if self.name not in names():
            raise ValueError(f"unknown loss or recipe {self.name!r}; available: {', '.join(names())}")
        return losses.get(self.loss_name, **self.resolved_options(similarity))

    @model_validator(mode="after")
    def _check_loss(self) -> LossConfig:
        self.build()  # unknown names / options raise ValueError naming them, before any model is read
        return self


class TrainConfig(StrictModel):
    """Optimisation settings; ``batch_size`` is queries per process per micro-batch."""

    epochs: int = Field(default=1, gt=0, description="passes over the training queries")
    max_steps: int | None = Field(default=None, gt=0, description="stop after this many optimiser steps")
    batch_size: int = Field(default=16, gt=0, description="queries per process per micro-batch")
    gradient_accumulation: int = Field(default=1, gt=0, description="micro-batches per optimiser step")
    lr: float = Field(default=2e-5, gt=0, description="peak learning rate (AdamW)")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay (not on biases and norms)")
    warmup_ratio: float = Field(default=0.05, ge=0, le=1, description="share of the steps spent warming up")
    schedule: Literal["linear", "cosine", "constant", "warmup_decay"] = Field(
        default="linear",
        description="learning-rate schedule: linear/cosine/constant (linear warm-up from 0), or "
        "warmup_decay: DeepSpeed's WarmupDecayLR, the paper's (sycl.training.schedules)",
    )
    warmup_type: Literal["log", "linear"] = Field(
        default="log", description="warm-up curve of schedule warmup_decay (log: DeepSpeed's default)"
    )
    warmup_min_lr: float = Field(default=0.0, ge=0, description="starting rate of schedule warmup_decay")
    max_grad_norm: float | None = Field(default=1.0, gt=0, description="gradient clipping (None: off)")
    seed: int = Field(default=42, description="seed of data order, sampling and initialisation")
    precision: Precision = Field(default="auto", description="autocast of the forward pass (auto: measured per device)")
    in_batch_negatives: bool = Field(
        default=True, description="score every query against every passage of the (gathered) batch"
    )
    chunk_size: int | None = Field(
        default=None,
        ge=0,
        description="texts per encoder call within a batch, "
        "length-sorted (None: 8 on CPU, whole batch on GPU; 0: whole batch)",
    )
    fast_dropout: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="draw dropout masks four per 64-bit random number (same distribution and "
        "gradient, another random stream; sycl.kernels.fast_dropout) and compute training "
        "attention eagerly in the autocast dtype: auto = on where the "
        "kernel probe measured it faster than torch's dropout on this CPU, off on GPUs",
    )
    grad_cache: int | None = Field(
        default=None,
        gt=0,
        description="gradient caching: embed the batch without a "
        "graph, take the loss gradient w.r.t. the embeddings, re-encode this many texts at a "
        "time with a graph (same gradients as the whole batch, one chunk's activations; "
        "None: off)",
    )
    log_every: int = Field(default=10, gt=0, description="steps between training_log.jsonl records")
    save_every: int = Field(default=500, ge=0, description="checkpoint every N steps (0: never)")
    save_total_limit: int = Field(default=1, gt=0, description="checkpoints kept while training")
    keep_checkpoints: bool = Field(default=False, description="keep checkpoints after the final model is saved")
    deepspeed: str | None = Field(default=None, description="DeepSpeed JSON config (ZeRO); needs the deepspeed extra")
    threads: int | None = Field(
        default=None,
        gt=0,
        description="torch CPU threads per process (default: torch's); "
        "1 avoids thread hand-off stalls on a machine shared with other jobs",
    )

    # live tracking (sycl.training.trackers); training_log.jsonl is always written
    report_to: list[Literal["tensorboard", "wandb", "mlflow", "none"]] = Field(
        default_factory=lambda: ["none"],
        description="trackers that receive training_log.jsonl's records as they are written, the config and "
        "sycl run's evaluation: tensorboard, wandb, mlflow (each an extra: pip install 'sycl-ir[wandb]'), or none",
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_tracker(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("report_to")
    @classmethod
    def _none_alone(cls, value: list[str]) -> list[str]:
        if "none" in value and len(set(value)) > 1:
            raise ValueError("'none' cannot be combined with a tracker")
        return value or ["none"]

    @model_validator(mode="after")
    def _check_grad_cache(self) -> TrainConfig:
        if self.grad_cache and self.deepspeed:
            raise ValueError(
                "train.grad_cache and train.deepspeed cannot be combined (DeepSpeed owns the backward pass)"
            )
        return self


class GuardConfig(StrictModel):
    """Collapse guard: every ``every`` steps check the probability the loss raises and the passages' spread.

    The watched probability follows the loss (:mod:`sycl.training.guard`): the mass on the positive
    for InfoNCE (chance ``1 / N``), on the query's own group for list-wise losses (chance ``k / N``).
    ``min_over_chance`` and ``max_flatness``: warn when it is below this multiple of its chance level
    while the predicted distribution's entropy is above this share of its maximum ``log N`` (flat
    predictions; a healthy run on confusable data can sit near chance with peaked predictions).
    ``max_passage_mean_cos``: warn when the mean pairwise cosine of the batch's passage embeddings
    rises above it. Two drift bounds compare with the first check of the run: ``max_prob_drop`` warns
    when the watched probability has fallen by more than that fraction of its first value, and
    ``max_cos_rise`` when the passages' mean cosine has risen by more than that above its first value.
    The defaults were set on recorded runs (tests/training/guard_logs). ``None`` turns a bound off.
    ``stop_on_collapse`` stops training after ``patience`` consecutive warnings.
    """

    every: int = Field(default=10, ge=0, description="0 disables the guard")
    min_over_chance: float | None = Field(default=2.0, ge=0, description="watched probability / its chance level")
    max_flatness: float = Field(default=0.98, gt=0, le=1, description="prediction entropy / log N")
    max_passage_mean_cos: float | None = Field(default=0.9, ge=-1, le=1)
    max_prob_drop: float | None = Field(default=0.5, gt=0, lt=1)
    max_cos_rise: float | None = Field(default=0.25, gt=0, le=2)
    stop_on_collapse: bool = False
    patience: int = Field(default=2, gt=0)


class ExperimentConfig(StrictModel):
    """A complete training experiment (see the module docstring)."""

    name: str = "sycl"
    model: EncoderConfig = Field(default_factory=EncoderConfig)
    data: DataConfig = Field(description="the training sources and how they become groups")
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    out: str | None = Field(default=None, description="output model directory (default: runs/models/<name>)")

    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path("runs") / "models" / self.name


def load_experiment(path: str | Path | None, overrides: list[str] | dict | None = None) -> ExperimentConfig:
    """Read an experiment file with dotted ``key=value`` overrides applied first."""
    return load(ExperimentConfig, path, overrides)
