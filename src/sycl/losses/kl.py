"""kl: ListNet-style KL divergence between the target and the predicted distribution, per query.

Inputs: ``scores [Q, N]`` raw similarities and ``labels [Q, k]`` graded labels, ``N == k`` or
``N == Q * k`` (layout in :mod:`sycl.losses.targets`).

Computes ``mean_i KL(T_i || P_i) = mean_i sum_j T_ij (log T_ij - log P_ij)`` with
``P = softmax(scores / temperature)`` and ``T = softmax(labels / label_temperature)`` row-wise, labels
expanded block-diagonally (reference: 0 on other queries' passages). Terms with ``T_ij == 0`` count 0.
Up to the target's entropy (a constant) this is ListNet's top-one cross-entropy.

Source: Cao et al. 2007 ("Learning to Rank: From Pairwise Approach to Listwise Approach", ListNet);
the reference SyCL code's ``kl`` loss (``KL(softmax(L) || softmax(S / tau))``, block-diagonal labels).
The reduction here is the mean over queries of each row's KL (torch's ``batchmean``).

Options: ``temperature`` (default 1.0) and the shared ``label_temperature`` (default 1.0) and
``in_batch`` (default ``"zero"``), see :class:`sycl.losses.targets.TargetConfig`. Matching the two
temperatures (e.g. cosine scores, ``temperature=0.05``, ``label_temperature=0.1``) keeps the target
as sharp as the predictions; the reference's ``softmax(labels)`` with sharp scores pulls predictions
flat (``../shared/REFERENCE.md``, "Measured here": nDCG@10 0.315 -> 0.12 with the defaults, 0.310 with
``label_temperature=0.1``).
"""

from __future__ import annotations

import torch

from sycl.losses.targets import TargetedLoss


class KLLoss(TargetedLoss):
    """``mean_i KL(softmax(L_i / t) || softmax(S_i / tau))``; returns a scalar."""

    name = "kl"

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        s, lab = self.target.arrange(scores, labels)
        log_p = torch.log_softmax(s / self.temperature, dim=1)
        log_t = torch.log_softmax(lab / self.target.label_temperature, dim=1)
        t = log_t.exp()
        terms = torch.where(t > 0, t * (log_t - log_p), torch.zeros_like(t))
        return terms.sum(dim=1).mean()
