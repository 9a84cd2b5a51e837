"""ws2 against an independent Frechet-distance computation (scipy matrix square roots), and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import torch

import sycl.losses as losses
from sycl.losses.targets import expand_labels
from sycl.losses.ws2 import EIGENVALUE_EPS

EPS = EIGENVALUE_EPS


def frechet_reference(scores: np.ndarray, labels: np.ndarray, tau: float, label_tau: float = 1.0) -> float:
    """Independent ws2: N x N covariances, scipy sqrtm of Sigma_X Sigma_Y, reference bookkeeping of 1e-15.

    The reference adds 1e-15 to each of the Q eigenvalues of the Q x Q product; ``Sigma_X Sigma_Y`` has
    N eigenvalues (the same nonzero ones, padded with zeros), so ``tr sqrtm(Sigma_X Sigma_Y + eps I_N)``
    counts ``sqrt(eps)`` for ``N - Q`` more (or fewer) zero eigenvalues than the reference does.
    """
    q, n = scores.shape
    k = labels.shape[1]
    lab = np.zeros((q, n))
    if n == k:
        lab[:] = labels
    else:
        for i in range(q):
            lab[i, i * k : (i + 1) * k] = labels[i]
    p = scipy.special.softmax(scores / tau, axis=1)
    t = scipy.special.softmax(lab / label_tau, axis=1)
    if q >= 2:
        sigma_x = np.cov(p, rowvar=False, ddof=1)
        sigma_y = np.cov(t, rowvar=False, ddof=1)
    else:
        sigma_x = sigma_y = np.zeros((n, n))
    root = scipy.linalg.sqrtm(sigma_x @ sigma_y + EPS * np.eye(n))
    s = np.trace(root).real - (n - q) * np.sqrt(EPS)
    mu = p.mean(axis=0) - t.mean(axis=0)
    return float(np.trace(sigma_x) + np.trace(sigma_y) - 2 * s + mu @ mu)


SHAPES = [
    (1, 4, False),
    (1, 1, False),
    (2, 3, False),
    (2, 3, True),
    (5, 4, False),
    (5, 4, True),
    (16, 4, True),
    (8, 7, True),
    (12, 3, False),
    (3, 1, True),
]


@pytest.mark.parametrize("q,k,in_batch", SHAPES)
@pytest.mark.parametrize("tau", [1.0, 0.05])
def test_ws2_matches_frechet_distance_with_sqrtm(q, k, in_batch, tau):
    rng = np.random.default_rng(q * 100 + k + int(in_batch))
    n = q * k if in_batch else k
    scores = rng.normal(scale=0.3 if tau < 1 else 3.0, size=(q, n))
    labels = rng.integers(0, 4, size=(q, k)).astype(float)
    got = losses.get("ws2", temperature=tau)(torch.tensor(scores), torch.tensor(labels))
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(frechet_reference(scores, labels, tau), abs=1e-8)


def test_ws2_label_temperature_matches_reference_formula():
    rng = np.random.default_rng(7)
    scores, labels = rng.normal(size=(6, 18)), rng.integers(0, 4, size=(6, 3)).astype(float)
    got = losses.get("ws2", label_temperature=0.3)(torch.tensor(scores), torch.tensor(labels))
    assert float(got) == pytest.approx(frechet_reference(scores, labels, 1.0, 0.3), abs=1e-8)


def test_ws2_exclude_equals_own_block_only():
    torch.manual_seed(0)
    q, k = 6, 4
    scores, labels = torch.randn(q, q * k, dtype=torch.float64), torch.randint(0, 4, (q, k))
    own = torch.stack([scores[i, i * k : (i + 1) * k] for i in range(q)])
    excluded = losses.get("ws2", in_batch="exclude")(scores, labels)
    assert float(excluded) == pytest.approx(float(losses.get("ws2")(own, labels)), abs=1e-12)
    assert float(excluded) != pytest.approx(float(losses.get("ws2")(scores, labels)), abs=1e-6)


def test_ws2_is_invariant_to_permuting_query_rows_of_the_predictions():
    """The documented batch-level property: swapping predictions between queries costs nothing."""
    torch.manual_seed(1)
    q, k = 8, 4
    scores, labels = torch.randn(q, q * k, dtype=torch.float64), torch.randint(0, 4, (q, k))
    perm = torch.randperm(q)
    assert not torch.equal(perm, torch.arange(q))
    ws2 = losses.get("ws2")
    assert float(ws2(scores[perm], labels)) == pytest.approx(float(ws2(scores, labels)), abs=1e-12)
    # A per-query loss does notice the swap.
    kl = losses.get("kl")
    assert float(kl(scores[perm], labels)) != pytest.approx(float(kl(scores, labels)), rel=1e-3)


def _plain_ws2(scores: torch.Tensor, labels: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """The reference recipe written with plain autograd through complex eigenvalues."""
    s = scores.double()
    lab = expand_labels(labels.double(), s.shape[1])
    x, y = torch.softmax(s / tau, 1).T, torch.softmax(lab, 1).T
    q = s.shape[0]
    f = 1.0 / (q - 1) if q >= 2 else 1.0
    mx, my = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    cx, cy = (x - mx) * f**0.5, (y - my) * f**0.5
    m = (cx.T @ cy) @ (cy.T @ cx)
    s_tr = torch.sqrt(torch.linalg.eigvals(m) + EPS).abs().sum()
    return torch.trace(cx @ cx.T) + torch.trace(cy @ cy.T) - 2 * s_tr + ((mx - my) ** 2).sum()


@pytest.mark.parametrize(
    "q,k,in_batch,equal",
    [
        (4, 3, True, False),
        (6, 8, False, False),
        (3, 5, True, False),
        (16, 4, True, False),
        (32, 2, False, False),
        (16, 4, False, True),
        (2, 3, True, True),
        (1, 4, False, False),
    ],
)
def test_ws2_gradient_equals_autograd_through_eigenvalues(q, k, in_batch, equal):
    """The analytic backward equals the reference's autograd through eigvals, also with repeated eigenvalues."""
    torch.manual_seed(q + k)
    n = q * k if in_batch else k
    labels = torch.full((q, k), 2.0, dtype=torch.float64) if equal else torch.randint(0, 4, (q, k)).double()
    a = torch.randn(q, n, dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    value = losses.get("ws2")(a, labels)
    plain = _plain_ws2(b, labels)
    assert float(value.detach()) == pytest.approx(float(plain.detach()), abs=1e-12)
    value.backward()
    plain.backward()
    assert float((a.grad - b.grad).abs().max()) <= 1e-5 * float(b.grad.abs().max()) + 1e-15


def test_ws2_gradcheck():
    torch.manual_seed(3)
    labels = torch.randint(0, 4, (3, 2)).double()
    scores = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: losses.get("ws2")(s, labels), (scores,), eps=1e-6, atol=1e-6)


def test_ws2_gradient_finite_with_repeated_zero_eigenvalues():
    """Q much larger than k: the Q x Q product has many zero eigenvalues; gradients stay finite."""
    torch.manual_seed(4)
    q, k = 32, 2
    scores = torch.randn(q, k, dtype=torch.float64, requires_grad=True)
    losses.get("ws2")(scores, torch.randint(0, 4, (q, k))).backward()
    assert torch.isfinite(scores.grad).all() and scores.grad.abs().sum() > 0


def test_ws2_reproduces_target_mass_on_other_queries():
    """REFERENCE.md: 64 gathered queries, k = 4, labels 3/2/1/0 -> ~89% of target mass off the own group."""
    labels = torch.tensor([[3.0, 2.0, 1.0, 0.0]]).repeat(64, 1)
    t = torch.softmax(expand_labels(labels, 256), dim=1)
    own = sum(t[i, i * 4 : (i + 1) * 4].sum() for i in range(64)) / 64
    assert 1 - float(own) == pytest.approx(0.89, abs=0.01)
