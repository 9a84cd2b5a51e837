"""Score/label layout and target distributions shared by the list-wise losses.

Layout contract (every loss in :mod:`sycl.losses`):

* ``scores``: ``[Q, N]`` raw similarity scores (not divided by any temperature).
* ``labels``: ``[Q, k]`` graded labels (float or int), passage ``j`` of query ``i``.
* ``N == k``: each query is scored against its own ``k`` passages only; column ``j`` is passage ``j``.
* ``N == Q * k``: in-batch negatives; passage ``j`` of query ``i`` sits at column ``i * k + j`` for
  every row, so a query's own passages form the diagonal block ``[i*k, (i+1)*k)`` and the other
  queries' passages fill the rest of the row. (With ``Q == 1`` both cases coincide.)

How other queries' passages (the *in-batch* columns) enter the target, option ``in_batch``:

* ``"zero"`` (the reference behaviour): the labels are expanded block-diagonally and every in-batch
  column gets label 0, the same level as an own level-0 passage. With ``softmax(labels)`` targets and
  ``Q * k`` columns this puts most of each row's target mass on other queries' passages (with 16
  queries, k = 4 and labels 3/2/1/0 about 76%; with 64 queries about 89%).
* ``"lowest"``: every in-batch column of row ``i`` gets the label ``min_j labels[i, j] - 1``, one level
  strictly below query ``i``'s own lowest passage. Own passages then always outrank in-batch ones; with
  target temperature ``t`` an in-batch passage weighs ``exp(-1/t)`` times the query's lowest own passage.
* ``"exclude"``: in-batch columns are removed from both the prediction softmax and the target: the
  loss sees only the own block ``scores[i, i*k:(i+1)*k]`` (gathered to ``[Q, k]``), exactly as if the
  trainer had passed ``N == k``, and those columns receive zero gradient.

With ``N == k`` there are no in-batch columns and ``in_batch`` has no effect.

Target temperature, option ``label_temperature`` ``t``: targets are ``softmax(labels / t)`` row-wise.
``t = 1`` is the reference's ``softmax(labels)`` (labels 3/2/1/0 as logits: a level-3 passage gets only
``e`` times the mass of a level-2 one, a flat target). Smaller ``t`` sharpens the target towards the most
relevant passages (``t = 0.1``: each level is worth ``e^10`` times the next); larger ``t`` flattens it.
Choose it relative to the score scale: cosine scores divided by 0.05 span about +-20, so targets with
``t = 1`` are far flatter than what the model predicts.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

import torch
from torch import nn

from sycl.losses.options import InBatchMode, choice, positive_float

IN_BATCH_MODES = typing.get_args(InBatchMode)


def check_inputs(scores: torch.Tensor, labels: torch.Tensor, loss: str = "loss") -> tuple[int, int, int]:
    """Validate the layout and return ``(Q, N, k)``; ``ValueError`` names the shapes on mismatch."""
    if not isinstance(scores, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise ValueError(f"{loss}: scores and labels must be tensors")
    if scores.dim() != 2 or labels.dim() != 2:
        raise ValueError(
            f"{loss}: scores must be [Q, N] and labels [Q, k]; got {tuple(scores.shape)} and {tuple(labels.shape)}"
        )
    q, n = scores.shape
    q2, k = labels.shape
    if q != q2:
        raise ValueError(f"{loss}: scores have {q} query rows but labels have {q2}")
    if q == 0 or k == 0:
        raise ValueError(f"{loss}: empty batch (scores {tuple(scores.shape)}, labels {tuple(labels.shape)})")
    if n != k and n != q * k:
        raise ValueError(
            f"{loss}: scores have {n} columns; expected k = {k} (own passages) or Q * k = {q * k} (in-batch negatives)"
        )
    if not scores.is_floating_point():
        raise ValueError(f"{loss}: scores must be a floating-point tensor, got {scores.dtype}")
    if not bool(torch.isfinite(labels.float()).all()):
        raise ValueError(f"{loss}: labels contain NaN or inf")
    return q, n, k


def working_dtype(scores: torch.Tensor) -> torch.dtype:
    """float64 for float64 scores, else float32 (bf16/fp16 scores from autocast are upcast)."""
    return torch.float64 if scores.dtype == torch.float64 else torch.float32


def own_columns(q: int, k: int, n: int, device: torch.device | None = None) -> torch.Tensor:
    """``[Q, k]`` column index of each query's own passages: ``i * k + j`` if ``N == Q * k`` else ``j``."""
    j = torch.arange(k, device=device)
    if n == k:
        return j.expand(q, k)
    return torch.arange(q, device=device)[:, None] * k + j[None, :]


def expand_labels(labels: torch.Tensor, n_columns: int, fill: float | torch.Tensor = 0.0) -> torch.Tensor:
    """Block-diagonal expansion ``[Q, k] -> [Q, n_columns]``.

    Row ``i`` holds ``labels[i]`` at columns ``i*k .. i*k+k-1`` and ``fill`` elsewhere (a number, or a
    ``[Q]`` tensor of one fill value per row). With ``n_columns == k`` the labels are returned unchanged.
    """
    q, k = labels.shape
    if n_columns == k:
        return labels
    if n_columns != q * k:
        raise ValueError(f"cannot expand labels {tuple(labels.shape)} to {n_columns} columns (need k or Q * k)")
    fill_t = torch.as_tensor(fill, dtype=labels.dtype, device=labels.device)
    out = (
        fill_t.reshape(-1, 1).expand(q, n_columns).clone()
        if fill_t.dim()
        else torch.full((q, n_columns), float(fill_t), dtype=labels.dtype, device=labels.device)
    )
    out.scatter_(1, own_columns(q, k, n_columns, labels.device), labels)
    return out


def in_batch_fill(labels: torch.Tensor, mode: str) -> torch.Tensor:
    """``[Q]`` label given to row ``i``'s in-batch columns: 0 (``"zero"``) or ``min_j labels[i, j] - 1`` (``"lowest"``)."""
    if mode == "zero":
        return torch.zeros(labels.shape[0], dtype=labels.dtype, device=labels.device)
    if mode == "lowest":
        return labels.min(dim=1).values - 1.0
    raise ValueError(f"no fill value for in_batch={mode!r}")


@dataclass(frozen=True)
class TargetConfig:
    """How a list-wise loss turns ``labels`` into its target (see the module docstring).

    ``label_temperature``: targets ``softmax(labels / t)``; ``in_batch``: ``"zero"``, ``"lowest"`` or
    ``"exclude"``. ``TargetConfig()`` is the reference behaviour.
    """

    label_temperature: float = 1.0
    in_batch: str = "zero"
    loss: str = "loss"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "label_temperature", positive_float(self.loss, "label_temperature", self.label_temperature)
        )
        object.__setattr__(self, "in_batch", choice(self.loss, "in_batch", self.in_batch, IN_BATCH_MODES))

    def arrange(self, scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores_view, labels_view)``, both ``[Q, M]`` in the working dtype, aligned column by column.

        ``M == N`` for ``"zero"``/``"lowest"`` (labels expanded block-diagonally) and ``M == k`` for
        ``"exclude"`` or when ``N == k``.
        """
        q, n, k = check_inputs(scores, labels, self.loss)
        dtype = working_dtype(scores)
        scores = scores.to(dtype)
        labels = labels.to(device=scores.device, dtype=dtype)
        if n == k:
            return scores, labels
        if self.in_batch == "exclude":
            return scores.gather(1, own_columns(q, k, n, scores.device)), labels
        return scores, expand_labels(labels, n, in_batch_fill(labels, self.in_batch))

    def distribution(self, labels_view: torch.Tensor) -> torch.Tensor:
        """Target distribution ``softmax(labels_view / label_temperature)`` row-wise, ``[Q, M]``."""
        return torch.softmax(labels_view / self.label_temperature, dim=1)

    def options(self) -> dict:
        """The options as passed to :func:`sycl.losses.get` (for logs and ``repr``)."""
        return {"label_temperature": self.label_temperature, "in_batch": self.in_batch}


class TargetedLoss(nn.Module):
    """Base of the list-wise losses that compare ``softmax(scores / temperature)`` with a :class:`TargetConfig`
    target (``kl``, ``wasserstein1d``, ``ws2``): the shared options, their validation and ``repr``."""

    name = "loss"

    def __init__(self, *, temperature: float = 1.0, label_temperature: float = 1.0, in_batch: str = "zero") -> None:
        super().__init__()
        self.temperature = positive_float(self.name, "temperature", temperature)
        self.target = TargetConfig(label_temperature, in_batch, self.name)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, label_temperature={self.target.label_temperature}, "
            f"in_batch={self.target.in_batch!r}"
        )


def target_settings(loss: nn.Module) -> dict:
    """``temperature``, ``label_temperature`` and ``in_batch`` of a built loss, as the collapse guard reads them.

    A loss without a target (InfoNCE) reports the reference target (:class:`TargetConfig` defaults);
    a combination reports its first term's."""
    terms = getattr(loss, "terms", None)
    if terms is not None:
        loss = next(iter(terms.values()))
    target = getattr(loss, "target", None) or TargetConfig()
    return {
        "temperature": float(loss.temperature),
        "label_temperature": target.label_temperature,
        "in_batch": target.in_batch,
    }
