"""Collapse guard: notice when training flattens the predictions or the embedding space.

What it watches follows the loss in use (:func:`signal_for`):

* InfoNCE (contrastive): ``positive_prob``, the ``softmax(scores / temperature)`` mass on each query's
  positive, against its chance level ``1 / N`` over the batch's ``N`` passages. It is what the loss
  raises; a temperature that leaves cosine scores flat (1.0 on a cosine model) keeps it near chance.
* list-wise losses: ``own_group_prob``, the mass on the query's own ``k`` passages, against its chance
  level ``k / N`` (``1 / Q`` with in-batch negatives). A collapsing model drifts towards it.
* all losses: ``passage_mean_cos``, the mean pairwise cosine of the batch's passage embeddings
  (off-diagonal); when every passage maps to the same direction it approaches 1.

The guard warns when the predictions are flat -- the watched probability below ``min_over_chance``
times its chance level *and* the predicted distribution's entropy above ``max_flatness`` of its
maximum ``log N`` -- or when the watched probability falls by more than ``max_prob_drop`` of its
value at the first check, or when the passages' mean cosine
rises above ``max_passage_mean_cos`` or by more than ``max_cos_rise`` above its first value (a slow
collapse starts far from both absolute bounds). The bounds were set on recorded runs
(``tests/training/guard_logs``, replayed by ``tests/training/test_guard_calibration.py``). Its advice
names the knob of the loss in use; with ``stop_on_collapse`` it asks the trainer to stop after
``patience`` consecutive warnings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sycl.log import get_logger
from sycl.training.config import GuardConfig

_log = get_logger(__name__)


@dataclass(frozen=True)
class Signal:
    """The probability the guard watches for one kind of loss, its chance level and the advice."""

    statistic: str  # a key of batch_statistics
    contrastive: bool  # chance 1 / N (one positive) rather than k / N (the own group)
    advice: str

    def chance(self, n_columns: int, k: int) -> float:
        return (1.0 if self.contrastive else float(k)) / n_columns


CONTRASTIVE = Signal(
    "positive_prob",
    True,
    "InfoNCE is not separating the positive from the batch: lower loss.temperature (0.05 suits a cosine "
    "model; at 1.0 cosine scores stay nearly flat) or lower train.lr",
)
LISTWISE = Signal(
    "own_group_prob",
    False,
    "The predictions are flattening or the embeddings converge: sharpen the target (a smaller "
    "loss.label_temperature), set loss.in_batch to lowest or exclude, or lower train.lr",
)


def signal_for(loss_name: str) -> Signal:
    """What the guard watches for the registered loss ``loss_name`` (a recipe's loss, not its name)."""
    return CONTRASTIVE if loss_name == "infonce" else LISTWISE


def passage_mean_cos(p: torch.Tensor) -> float:
    """Mean cosine over distinct pairs of rows of ``p [N, d]`` (0.0 when N < 2)."""
    n = p.shape[0]
    if n < 2:
        return 0.0
    u = torch.nn.functional.normalize(p.detach().double(), dim=-1)
    s = u.sum(dim=0)
    return float(((s @ s) - (u * u).sum()) / (n * (n - 1)))


def batch_statistics(
    q: torch.Tensor,
    p: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    label_temperature: float = 1.0,
    in_batch: str = "zero",
) -> dict[str, float]:
    """The diagnostics of ``scores [Q, N]`` (:func:`sycl.losses.diagnostics`) plus ``passage_mean_cos``."""
    from sycl.losses import diagnostics

    stats = diagnostics(
        scores.detach().float(), labels, temperature, label_temperature=label_temperature, in_batch=in_batch
    )
    stats["passage_mean_cos"] = passage_mean_cos(p)
    return stats


class CollapseGuard:
    """Checks :func:`batch_statistics` against the bounds of a :class:`GuardConfig` for one loss."""

    def __init__(self, config: GuardConfig, loss_name: str = "wasserstein1d"):
        self.config = config
        self.signal = signal_for(loss_name)
        self.strikes = 0
        self.warnings = 0
        self.first: dict[str, float] | None = None  # statistics at the first check (the drift baseline)

    def due(self, step: int) -> bool:
        return self.config.every > 0 and step % self.config.every == 0

    def problems(self, stats: dict[str, float], n_columns: int, k: int) -> list[str]:
        """What is wrong with one check's statistics (empty when nothing is); updates the drift baseline."""
        cfg, name = self.config, self.signal.statistic
        value, cos = stats[name], stats["passage_mean_cos"]
        found = []
        if n_columns > k and cfg.min_over_chance is not None:
            chance = self.signal.chance(n_columns, k)
            flatness = stats["prediction_entropy"] / math.log(n_columns)
            if value < cfg.min_over_chance * chance and flatness > cfg.max_flatness:
                found.append(
                    f"{name} {value:.3f} is {value / chance:.2f} x its chance level {chance:.3f} "
                    f"(bound {cfg.min_over_chance:g} x) and the predictions are flat (entropy "
                    f"{flatness:.3f} of its maximum)"
                )
        if cfg.max_passage_mean_cos is not None and cos > cfg.max_passage_mean_cos:
            found.append(f"passage_mean_cos {cos:.3f} > {cfg.max_passage_mean_cos:.3f}")
        if self.first is None:
            self.first = {name: value, "passage_mean_cos": cos}
            return found
        v0, c0 = self.first[name], self.first["passage_mean_cos"]
        if cfg.max_prob_drop is not None and value < (1 - cfg.max_prob_drop) * v0:
            found.append(f"{name} {value:.3f} fell more than {cfg.max_prob_drop:.0%} from {v0:.3f} at the first check")
        if cfg.max_cos_rise is not None and cos > c0 + cfg.max_cos_rise:
            found.append(
                f"passage_mean_cos {cos:.3f} rose more than {cfg.max_cos_rise} above {c0:.3f} at the first check"
            )
        return found

    def check(self, step: int, stats: dict[str, float], n_columns: int, k: int) -> str | None:
        """Return a message when the batch looks collapsed (and log it), else ``None``.

        ``n_columns``: passages scored per query (``Q * k`` with in-batch negatives); ``k``: own passages."""
        found = self.problems(stats, n_columns, k)
        if not found:
            self.strikes = 0
            return None
        self.strikes += 1
        self.warnings += 1
        msg = f"possible collapse at step {step}: {'; '.join(found)}. {self.signal.advice}"
        _log.warning(msg)
        return msg

    def replay(self, records) -> list[str | None]:
        """Check each ``training_log.jsonl`` record that carries the watched statistic and the batch
        shape (``batch_queries``, ``group_size``), in order; the message of each (``None``: silent)."""
        out = []
        for rec in records:
            if self.signal.statistic in rec and "batch_queries" in rec:
                k = rec["group_size"]
                out.append(self.check(rec["step"], rec, rec["batch_queries"] * k, k))
        return out

    @property
    def should_stop(self) -> bool:
        return self.config.stop_on_collapse and self.strikes >= self.config.patience

    def stop_reason(self, step: int, warning: str | None) -> str | None:
        """Why training ends after the check of ``step`` (``guard.stop_on_collapse``), or ``None``."""
        if not self.should_stop:
            return None
        return (
            f"training stopped at step {step}: the collapse guard fired "
            f"{self.strikes} times in a row (guard.stop_on_collapse); last: {warning}"
        )
