"""The experiment file of ``sycl train``: model, data, loss, optimisation and collapse guard.

```yaml
name: scifact-w1d
model: {model: "embedded:all-MiniLM-L6-v2", max_query_length: 64, max_passage_length: 256}
data:
  sources:
    - {path: ../shared/datasets/scifact, qrels: train, score_transform: 3}
  format: multilevel          # or binary (one positive first, for InfoNCE)
  group_size: 4
loss: {name: wasserstein1d, temperature: 0.05, label_temperature: 0.1, in_batch: lowest}
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

from pydantic import Field, PrivateAttr, model_validator

from sycl.config import StrictModel, load
from sycl.data.config import DataConfig
from sycl.kernels.options import Precision
from sycl.losses.options import InBatchMode
from sycl.modeling.config import EncoderConfig

# The default recipe when an experiment has no ``loss`` section, chosen by the issue-7 sweep
# (docs/RESULTS.md): the per-query 1-D Wasserstein over relevance levels at cosine / 0.05, target
# sharpened to softmax(labels / 0.1), other queries' passages one level below the query's lowest.
# It was the best list-wise recipe on both collections and the only one ahead of InfoNCE on graded
# Cranfield, level with it on SciFact, with no collapse warning. A ``loss`` section or ``--loss``
# replaces it; options left out there take the loss's own defaults (temperature 1, label
# temperature 1, in-batch label 0: the reference's), so ``--loss ws2`` is the paper's loss.
DEFAULT_RECIPE = {"name": "wasserstein1d", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"}


class LossConfig(StrictModel):
    """Which loss and its options; ``None`` leaves an option at the loss's own default.

    A section without ``name`` adjusts :data:`DEFAULT_RECIPE` (its options fill the ones left
    out); a section with a ``name`` starts from that loss's own defaults (temperature 1, label
    temperature 1, in-batch label 0: the reference's), so ``--loss ws2`` is the paper's loss.

    ``temperature`` divides the raw similarities (``softmax(scores / temperature)``);
    ``label_temperature`` sharpens (< 1) or flattens (> 1) the target ``softmax(labels / t)``;
    ``in_batch`` says how other queries' passages enter the target (``zero``: label 0, the
    reference; ``lowest``: one level below the query's own lowest passage; ``exclude``: left out);
    ``infonce_weight`` adds ``w * InfoNCE`` to a list-wise loss. ``options`` passes any further
    option of the chosen loss (e.g. ``mu`` of ``lambdaloss``). See :mod:`sycl.losses.targets`.
    """

    name: str = Field(
        default=DEFAULT_RECIPE["name"],
        description="a loss of the registry: infonce, ws2 (the "
        "paper's), kl, wasserstein1d, lambdaloss (sycl.losses.available())",
    )
    temperature: float | None = Field(
        default=None, gt=0, description="scores are divided by it (default: the loss's own, 1.0)"
    )
    label_temperature: float | None = Field(default=None, gt=0, description="target softmax(labels / t)")
    in_batch: InBatchMode | None = Field(default=None, description="how other queries' passages enter the target")
    infonce_weight: float | None = Field(default=None, ge=0, description="adds w * InfoNCE to a list-wise loss")
    options: dict[str, Any] = Field(default_factory=dict, description="further options of the chosen loss")
    _module: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _recipe(cls, value):
        """``loss: ws2`` is ``{name: ws2}``; a section without ``name`` adjusts the default recipe."""
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "name" not in value:
            return {**DEFAULT_RECIPE, **value}
        return value

    def loss_options(self) -> dict[str, Any]:
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

    def build(self):
        """The ``nn.Module`` of :func:`sycl.losses.get` for these settings (``ValueError`` on bad options).

        Built once, when the settings are validated, and returned from then on."""
        if self._module is None:
            from sycl import losses

            opts = self.loss_options()
            if self.name == "infonce":  # a contrastive loss has no target: drop the list-wise options quietly
                opts = {k: v for k, v in opts.items() if k in losses.options_of("infonce")}
            self._module = losses.get(self.name, **opts)
        return self._module

    @model_validator(mode="after")
    def _check_loss(self) -> LossConfig:
        self._module = None
        self.build()  # unknown names / options raise ValueError naming them
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
    schedule: Literal["linear", "cosine", "constant"] = Field(default="linear", description="learning-rate schedule")
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
        "gradient, another random stream; sycl.kernels.fast_dropout): auto = on where the "
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

    @model_validator(mode="after")
    def _check_grad_cache(self) -> TrainConfig:
        if self.grad_cache and self.deepspeed:
            raise ValueError(
                "train.grad_cache and train.deepspeed cannot be combined (DeepSpeed owns the backward pass)"
            )
        return self


class GuardConfig(StrictModel):
    """Collapse guard: every ``every`` steps check the batch's own-group probability and passage spread.

    ``min_own_group_prob``: warn when the mean softmax mass on each query's own passages falls
    below it (``None``: twice the chance level ``2 k / N`` of the batch). ``max_passage_mean_cos``:
    warn when the mean pairwise cosine of the batch's passage embeddings rises above it.
    Two drift bounds compare with the first check of the run: ``max_own_group_drop`` warns when the
    own-group probability has fallen by more than that fraction of its first value, and
    ``max_cos_rise`` when the passages' mean cosine has risen by more than that above its first
    value (measured on Cranfield: the collapsing reference ``kl`` went 0.51 -> 0.22 and 0.40 -> 0.77
    while InfoNCE stayed within 0.40-0.55 and +0.02). ``None`` turns a bound off.
    ``stop_on_collapse`` stops training after ``patience`` consecutive warnings.
    """

    every: int = Field(default=10, ge=0, description="0 disables the guard")
    min_own_group_prob: float | None = Field(default=None, ge=0, le=1)
    max_passage_mean_cos: float | None = Field(default=0.9, ge=-1, le=1)
    max_own_group_drop: float | None = Field(default=0.5, gt=0, lt=1)
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
