"""Weighted sum of losses on the same ``(scores, labels)``: how InfoNCE is added to a list-wise loss.

The one way to build it is ``sycl.losses.get(name, infonce_weight=w, ...)``: for ``w > 0`` it returns
``CombinedLoss({name: loss, "infonce": InfoNCELoss(...)}, {name: 1.0, "infonce": w})``, i.e.

    loss = listwise(scores, labels) + w * infonce(scores, labels)

The InfoNCE term uses ``positive="max"`` (each query's highest-labelled own passage, first of ties, so
it works for graded groups in random order and equals ``"first"`` for binary groups with the positive
first) and the list-wise loss's ``temperature`` unless ``infonce_temperature`` is given (useful when the
list-wise loss runs at temperature 1 on cosine scores while InfoNCE wants about 0.05).

Inputs and layout as for every loss (:mod:`sycl.losses.targets`). After each forward the detached
value of each term is kept in ``last_terms`` (name -> 0-dim tensor) for logging.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class CombinedLoss(nn.Module):
    """``sum_name weight[name] * loss[name](scores, labels)``; returns a scalar (float64 if any term is)."""

    name = "combined"

    def __init__(self, losses: Mapping[str, nn.Module], weights: Mapping[str, float]) -> None:
        super().__init__()
        if set(losses) != set(weights) or not losses:
            raise ValueError(
                f"combined loss: losses {sorted(losses)} and weights {sorted(weights)} must name the same terms"
            )
        self.terms = nn.ModuleDict(dict(losses))
        self.weights = {name: float(weights[name]) for name in losses}
        self.temperature = getattr(next(iter(self.terms.values())), "temperature", 1.0)
        self.last_terms: dict[str, torch.Tensor] = {}

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = None
        terms = {}
        for name, loss in self.terms.items():
            value = loss(scores, labels)
            terms[name] = value.detach()
            weighted = self.weights[name] * value
            total = weighted if total is None else total.to(torch.promote_types(total.dtype, weighted.dtype)) + weighted
        self.last_terms = terms
        return total

    def extra_repr(self) -> str:
        return "weights=" + ", ".join(f"{n}: {w}" for n, w in self.weights.items())
