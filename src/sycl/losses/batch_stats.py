"""Cheap batch statistics for logging and the trainer's collapse guard (no gradient).

``diagnostics(scores [Q, N], labels [Q, k], temperature)`` returns plain floats:

* ``own_group_prob``: mean over queries of the ``softmax(scores / temperature)`` mass on the query's
  own ``k`` passages (1.0 when ``N == k``). Collapse shows as this falling towards ``k / N``
  (measured here: 0.34 -> 0.07 while ``ws2`` destroyed retrieval).
* ``positive_prob``: mean over queries of the ``softmax(scores / temperature)`` mass on the query's
  best own passage (highest label, the first of ties: a binary group's positive). What InfoNCE raises;
  chance is ``1 / N``.
* ``top1_own``: share of queries whose highest-scored column is one of their own passages.
* ``top1_label``: mean label of each query's highest-scored own passage; ``best_label``: mean of each
  query's highest own label (``top1_label == best_label`` when every query ranks a best passage first).
* ``prediction_entropy`` / ``target_entropy`` (nats, mean over queries) of the predicted distribution
  and of the target ``softmax(labels / label_temperature)`` laid out per ``in_batch`` (the options of
  :class:`sycl.losses.targets.TargetConfig`; defaults are the reference's); ``target_own_group_mass``:
  the target's mass on own passages. A target far flatter than the prediction is the mismatch that
  pulls predictions flat.
* ``score_std``: mean over queries of the standard deviation of ``scores / temperature`` in a row.
"""

from __future__ import annotations

import torch

from sycl.losses.options import positive_float
from sycl.losses.targets import TargetConfig, check_inputs, own_columns


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -torch.where(p > 0, p * p.log(), torch.zeros_like(p)).sum(dim=1)


@torch.no_grad()
def diagnostics(
    scores: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 1.0,
    *,
    label_temperature: float = 1.0,
    in_batch: str = "zero",
) -> dict[str, float]:
    """Batch statistics of ``scores [Q, N]`` against ``labels [Q, k]`` (see the module docstring)."""
    temperature = positive_float("diagnostics", "temperature", temperature)
    q, n, k = check_inputs(scores, labels, "diagnostics")
    s = scores.detach().double() / temperature
    lab = labels.detach().to(device=s.device, dtype=torch.float64)
    own = own_columns(q, k, n, s.device)
    p = torch.softmax(s, dim=1)
    own_prob = p.gather(1, own).sum(dim=1)
    best_col = own.gather(1, lab.argmax(dim=1)[:, None]).squeeze(1)  # argmax: first maximal label
    positive_prob = p.gather(1, best_col[:, None]).squeeze(1)
    top1_own = (s.argmax(dim=1)[:, None] == own).any(dim=1).double()
    best_own = s.gather(1, own).argmax(dim=1)
    top1_label = lab.gather(1, best_own[:, None]).squeeze(1)

    spec = TargetConfig(label_temperature, in_batch, "diagnostics")
    _, lab_view = spec.arrange(s, lab)
    t = spec.distribution(lab_view)
    if lab_view.shape[1] == n:
        t_own = t.gather(1, own).sum(dim=1)
    else:  # "exclude": the target lives on own passages only
        t_own = torch.ones(q, dtype=t.dtype, device=t.device)
    std = s.std(dim=1, unbiased=False)
    return {
        "own_group_prob": float(own_prob.mean()),
        "positive_prob": float(positive_prob.mean()),
        "top1_own": float(top1_own.mean()),
        "top1_label": float(top1_label.mean()),
        "best_label": float(lab.max(dim=1).values.mean()),
        "prediction_entropy": float(_entropy(p).mean()),
        "target_entropy": float(_entropy(t).mean()),
        "target_own_group_mass": float(t_own.mean()),
        "score_std": float(std.mean()),
    }
