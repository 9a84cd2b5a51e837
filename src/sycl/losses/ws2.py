"""ws2: the reference SyCL Wasserstein loss (Gaussian 2-Wasserstein between batches of distributions).

Inputs: ``scores [Q, N]`` raw similarities and ``labels [Q, k]`` graded labels, ``N == k`` or
``N == Q * k`` (layout in :mod:`sycl.losses.targets`).

What it computes, in float64, exactly as the reference SyCL code (arXiv 2503.23239) does:

1. ``P = softmax(S / temperature)`` and ``T = softmax(L)`` row-wise, ``L`` the labels expanded
   block-diagonally to ``[Q, N]`` with 0 on other queries' passages.
2. Each query row is one sample of an N-dimensional random vector: ``X = P^T``, ``Y = T^T`` (``[N, Q]``),
   means ``mu_X``, ``mu_Y`` over the Q samples, ``f = 1/(Q-1)`` (1 when ``Q < 2``),
   ``C_X = (X - mu_X) sqrt(f)``, ``C_Y = (Y - mu_Y) sqrt(f)``, ``Sigma_X = C_X C_X^T``, ``Sigma_Y = C_Y C_Y^T``.
3. ``M = (C_X^T C_Y)(C_Y^T C_X)`` (``[Q, Q]``), ``s = sum_i |sqrt(eig_i(M) + 1e-15)|`` over the complex
   eigenvalues: ``tr((Sigma_X Sigma_Y)^(1/2))`` computed in Q x Q instead of N x N. The constant 1e-15
   adds ``sqrt(1e-15) ~ 3.2e-8`` per zero eigenvalue, so ``s`` exceeds the true trace by about that much.
4. ``loss = tr(Sigma_X) + tr(Sigma_Y) - 2 s + ||mu_X - mu_Y||^2``.

This is the closed-form Frechet distance between a Gaussian fitted to the batch of predicted
distributions and one fitted to the batch of target distributions. It is a *batch-level* statistic:
it never pairs query ``i``'s prediction with query ``i``'s target, so it is invariant to permuting the
query rows of ``P`` (a model that gives query 1 the prediction meant for query 2 and vice versa loses
nothing), and its value depends on batch composition and on how many queries are gathered across
devices. With ``softmax(labels)`` targets and in-batch negatives most target mass sits on other queries'
passages (about 89% with 64 queries and k = 4), and with sharp scores (cosine / 0.05) training can drive
the loss towards 0 while retrieval collapses (measured here: nDCG@10 0.315 -> 0.08); with cosine / 1.0
it stays level with InfoNCE. See ``../shared/REFERENCE.md``.

Precision: everything here runs in float64, scores included (the reference toolkit applies the
prediction softmax at the scores' own precision and converts to float64 afterwards; the two agree
exactly for float64 scores and to float32 rounding of ``P``, about 1e-7, for float32 scores).

Options: ``temperature`` (score temperature, default 1.0), and the shared target options
``label_temperature`` (default 1.0) and ``in_batch`` (default ``"zero"``) of
:class:`sycl.losses.targets.TargetConfig`. With no options given the loss is the reference's exactly.
``in_batch="exclude"`` gives the reference's no-in-batch setting (the own ``[Q, k]`` block, where
dimension ``j`` is each query's ``j``-th passage).

Gradients: the forward value comes from the complex eigenvalues as in the reference; the backward
uses the analytic gradient of the same quantity, ``d s / d K = K (K^T K + 1e-15 I)^(-1/2)`` with
``K = C_X^T C_Y`` (via a symmetric eigendecomposition of ``K^T K``). It equals the reference's autograd
gradient through ``eigvals`` (tested to 1e-5 relative, repeated zero eigenvalues included, e.g. equal
labels or ``Q > k``) and is finite by construction: no eigenvector of a non-symmetric eigensolver is
differentiated.
A NaN or inf loss must stop training; the trainer checks, this module does not.
"""

from __future__ import annotations

import torch

from sycl.losses.targets import TargetedLoss

EIGENVALUE_EPS = 1e-15


class _TraceSqrtProduct(torch.autograd.Function):
    """``s = sum_i |sqrt(eig_i((C_X^T C_Y)(C_Y^T C_X)) + 1e-15)|`` with a stable analytic backward."""

    @staticmethod
    def forward(ctx, c_x: torch.Tensor, c_y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        m = (c_x.T @ c_y) @ (c_y.T @ c_x)
        eig = torch.linalg.eigvals(m)
        ctx.save_for_backward(c_x, c_y)
        return torch.sqrt(eig + EIGENVALUE_EPS).abs().sum()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        c_x, c_y = ctx.saved_tensors
        k = c_x.T @ c_y  # [Q, Q]
        w, v = torch.linalg.eigh(k.T @ k)
        inv_sqrt = (w.clamp_min(0.0) + EIGENVALUE_EPS).rsqrt()
        g = k @ ((v * inv_sqrt) @ v.T)  # d s / d K
        return grad_out * (c_y @ g.T), grad_out * (c_x @ g)


def ws2_distance(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The reference's batch 2-Wasserstein between row distributions ``p`` and ``t`` (both ``[Q, M]``, float64)."""
    q = p.shape[0]
    x, y = p.T, t.T  # [M, Q]: one column per query
    mu_x = x.mean(dim=1, keepdim=True)
    mu_y = y.mean(dim=1, keepdim=True)
    f = 1.0 / (q - 1) if q >= 2 else 1.0
    c_x = (x - mu_x) * f**0.5
    c_y = (y - mu_y) * f**0.5
    trace_x = (c_x * c_x).sum()  # tr(C_X C_X^T)
    trace_y = (c_y * c_y).sum()
    s = _TraceSqrtProduct.apply(c_x, c_y)
    return trace_x + trace_y - 2.0 * s + ((mu_x - mu_y) ** 2).sum()


class WS2Loss(TargetedLoss):
    """Reference SyCL Wasserstein loss (batch-level Gaussian 2-Wasserstein); returns a float64 scalar."""

    name = "ws2"

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        s, lab = self.target.arrange(scores.to(torch.float64), labels)
        p = torch.softmax(s / self.temperature, dim=1)
        t = self.target.distribution(lab)
        return ws2_distance(p, t)
