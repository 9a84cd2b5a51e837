"""lambdaloss: NDCG-Loss2++ of the LambdaLoss framework, per query, on the full score matrix.

Inputs: ``scores [Q, N]`` raw similarities and ``labels [Q, k]`` graded labels, ``N == k`` or
``N == Q * k`` (layout in :mod:`sycl.losses.targets`).

What it computes, for each query's row of ``s = scores / temperature`` (in-batch passages labelled per
``in_batch``: 0, the query's lowest own label minus one, or excluded):

    l_i = - sum_{a, b : y_a > y_b} (rho_ab + mu * delta_ab) |G_a - G_b| log2 sigmoid(s_a - s_b)

* gains ``G_a = (2^g_a - 1) / maxDCG`` with ``g = y`` for non-negative labels; a row whose lowest label
  is negative (``in_batch="lowest"`` below an own level 0) is shifted so its lowest label is 0, keeping
  every gain >= 0. ``maxDCG`` is the DCG of the ideal order of the row, so ``G`` sums to NDCG terms.
* ``r_a`` is passage ``a``'s rank (1 = best) under the current scores, ``D_r = log2(1 + r)``.
* LambdaRank weight ``rho_ab = |1/D_{r_a} - 1/D_{r_b}|``; NDCG-Loss2 weight
  ``delta_ab = |1/D_{|r_a - r_b|} - 1/D_{|r_a - r_b| + 1}|``; ``mu`` (default 10) mixes them.

The loss is the mean of ``l_i`` over queries. Ranks and weights carry no gradient; the gradient flows
through ``log2 sigmoid`` (computed as a stable log-sigmoid, finite for huge scores). Pairs with equal
labels do not contribute, so all-equal labels give a loss of 0. Only pairs that involve an own passage
can differ in label, so the cost is ``O(Q * k * N)`` rather than ``O(Q * N^2)``.

Source: Wang, Li, Golbandi, Bendersky, Najork 2018, "The LambdaLoss Framework for Ranking Metric
Optimization" (CIKM), NDCG-Loss2++ (their eq. for ``delta_ij`` and the ``mu``-weighted sum with the
LambdaRank weights); as implemented for PyTorch by allRank (Pobrotyn et al. 2020).

Why it might beat ``ws2``: it is a per-query loss tied to the metric being evaluated (a bound on NDCG
loss), it uses the graded labels through gains (a level-3 passage above a level-1 one matters more
than level 1 above level 0), and it is scale-free with respect to the target: there is no target
distribution whose flatness can pull sharp predictions flat, the failure measured for ``ws2``/``kl``
with ``softmax(labels)`` targets. It only asks that more relevant passages score higher than less
relevant ones, own or in-batch.

Options: ``temperature`` (default 1.0), ``in_batch`` (default ``"zero"``), ``mu`` (default 10.0).
There is no ``label_temperature``: labels enter through gains, not a softmax.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sycl.losses.options import non_negative_float, positive_float
from sycl.losses.targets import TargetConfig, own_columns

_GAIN_EPS = 1e-10


def _pairs(s, g, inv_d, r, rows, cols, mu, row_keep=None):
    """Summed NDCG-Loss2++ terms over pairs (a in ``rows``, b in ``cols``) with ``g_a > g_b``: ``[Q]``."""
    take = lambda x, idx: x.gather(1, idx)  # noqa: E731
    s_a, s_b = take(s, rows)[:, :, None], take(s, cols)[:, None, :]
    g_a, g_b = take(g, rows)[:, :, None], take(g, cols)[:, None, :]
    d_a, d_b = take(inv_d, rows)[:, :, None], take(inv_d, cols)[:, None, :]
    r_a, r_b = take(r, rows)[:, :, None], take(r, cols)[:, None, :]
    mask = g_a > g_b
    if row_keep is not None:
        mask = mask & row_keep[:, :, None]
    dr = (r_a - r_b).abs().clamp_min(1.0)
    delta = (1.0 / torch.log2(1.0 + dr) - 1.0 / torch.log2(2.0 + dr)).abs()
    rho = (d_a - d_b).abs()
    weight = (rho + mu * delta) * (g_a - g_b).abs()
    weight = torch.where(mask, weight, torch.zeros_like(weight))
    return -(weight * nn.functional.logsigmoid(s_a - s_b)).sum(dim=(1, 2)) / math.log(2.0)


class LambdaLoss(nn.Module):
    """NDCG-Loss2++ (LambdaLoss framework) averaged over queries; returns a scalar."""

    name = "lambdaloss"

    def __init__(self, *, temperature: float = 1.0, in_batch: str = "zero", mu: float = 10.0) -> None:
        super().__init__()
        self.temperature = positive_float(self.name, "temperature", temperature)
        self.target = TargetConfig(1.0, in_batch, self.name)
        self.mu = non_negative_float(self.name, "mu", mu)

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        k = labels.shape[1] if labels.dim() == 2 else 0
        s, y = self.target.arrange(scores, labels)
        s = s / self.temperature
        q, m = s.shape
        y = y - y.min(dim=1, keepdim=True).values.clamp_max(0.0)
        gain = torch.pow(2.0, y) - 1.0
        positions = torch.arange(1, m + 1, device=s.device, dtype=s.dtype)
        ideal = (gain.sort(dim=1, descending=True).values / torch.log2(1.0 + positions)).sum(dim=1)
        g = gain / ideal.clamp_min(_GAIN_EPS)[:, None]
        with torch.no_grad():
            order = s.argsort(dim=1, descending=True)
            r = torch.empty_like(s).scatter_(1, order, positions.expand(q, m).contiguous())
            inv_d = 1.0 / torch.log2(1.0 + r)
        own = own_columns(q, k, m, s.device)
        loss = _pairs(s, g, inv_d, r, own, torch.arange(m, device=s.device).expand(q, m), self.mu)
        if m != k:  # in-batch passages ranked above own ones (only when their label is higher)
            everyone = torch.arange(m, device=s.device).expand(q, m)
            not_own = torch.ones(q, m, dtype=torch.bool, device=s.device).scatter_(1, own, False)
            loss = loss + _pairs(s, g, inv_d, r, everyone, own, self.mu, row_keep=not_own)
        return loss.mean()

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, in_batch={self.target.in_batch!r}, mu={self.mu}"
