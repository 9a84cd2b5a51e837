"""Collapse guard: notice when list-wise training flattens the predictions or the embedding space.

Two batch statistics, cheap enough to compute every few steps:

* ``own_group_prob``: mean over queries of the ``softmax(scores / temperature)`` mass on the
  query's own passages, over the whole in-batch score matrix (:func:`sycl.losses.batch_stats.diagnostics`).
  A collapsing model drifts towards the chance level ``k / N`` (measured here: 0.34 -> 0.07
  while ws2 destroyed retrieval).
* ``passage_mean_cos``: mean pairwise cosine similarity of the batch's passage embeddings
  (off-diagonal). When every passage maps to the same direction it approaches 1.

The guard warns when the first falls below ``min_own_group_prob`` (default: twice the chance
level) or by more than ``max_own_group_drop`` of its value at the first check, or when the second
rises above ``max_passage_mean_cos`` or by more than ``max_cos_rise`` above its first value (a
slow collapse starts far from both absolute bounds); with ``stop_on_collapse`` it asks the
trainer to stop after ``patience`` consecutive warnings.
"""

from __future__ import annotations

import torch

from sycl.log import get_logger
from sycl.training.config import GuardConfig

_log = get_logger(__name__)


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
    """``own_group_prob`` (and the other diagnostics) on ``scores [Q, Q*k]`` plus ``passage_mean_cos``."""
    from sycl.losses import diagnostics

    stats = diagnostics(
        scores.detach().float(), labels, temperature, label_temperature=label_temperature, in_batch=in_batch
    )
    stats["passage_mean_cos"] = passage_mean_cos(p)
    return stats


class CollapseGuard:
    """Checks :func:`batch_statistics` against the bounds of a :class:`GuardConfig`."""

    def __init__(self, config: GuardConfig):
        self.config = config
        self.strikes = 0
        self.warnings = 0
        self.first: dict[str, float] | None = None  # statistics at the first check (the drift baseline)

    def due(self, step: int) -> bool:
        return self.config.every > 0 and step % self.config.every == 0

    def check(self, step: int, stats: dict[str, float], n_queries: int, k: int) -> str | None:
        """Return a message when the batch looks collapsed (and log it), else ``None``."""
        cfg = self.config
        problems = []
        if n_queries > 1:
            bound = cfg.min_own_group_prob if cfg.min_own_group_prob is not None else min(1.0, 2.0 / n_queries)
            if stats["own_group_prob"] < bound:
                problems.append(
                    f"own_group_prob {stats['own_group_prob']:.3f} < {bound:.3f} (chance level {1.0 / n_queries:.3f})"
                )
        if cfg.max_passage_mean_cos is not None and stats["passage_mean_cos"] > cfg.max_passage_mean_cos:
            problems.append(f"passage_mean_cos {stats['passage_mean_cos']:.3f} > {cfg.max_passage_mean_cos:.3f}")
        if self.first is None:
            self.first = {k: stats[k] for k in ("own_group_prob", "passage_mean_cos")}
        else:
            p0, c0 = self.first["own_group_prob"], self.first["passage_mean_cos"]
            if cfg.max_own_group_drop is not None and stats["own_group_prob"] < (1 - cfg.max_own_group_drop) * p0:
                problems.append(
                    f"own_group_prob {stats['own_group_prob']:.3f} fell more than "
                    f"{cfg.max_own_group_drop:.0%} from {p0:.3f} at the first check"
                )
            if cfg.max_cos_rise is not None and stats["passage_mean_cos"] > c0 + cfg.max_cos_rise:
                problems.append(
                    f"passage_mean_cos {stats['passage_mean_cos']:.3f} rose more than "
                    f"{cfg.max_cos_rise} above {c0:.3f} at the first check"
                )
        if not problems:
            self.strikes = 0
            return None
        self.strikes += 1
        self.warnings += 1
        msg = (
            f"possible collapse at step {step}: {'; '.join(problems)}. The predictions are flattening or the "
            "embeddings converge; consider a smaller label_temperature, in_batch: lowest or exclude, a larger "
            "temperature, or the infonce loss"
        )
        _log.warning(msg)
        return msg

    @property
    def should_stop(self) -> bool:
        return self.config.stop_on_collapse and self.strikes >= self.config.patience
