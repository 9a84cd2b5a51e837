"""The collapse mechanism of REFERENCE.md ("Measured here"), made exact on fixed score matrices.

Cosine-like scores at temperature 0.05, 16 queries x 4 passages with in-batch negatives. A *correct*
prediction ranks each query's own passages first (cosine 0.8/0.6/0.4/0.4 vs 0.1 for other queries'
passages); a *flat* one scores everything 0.3. With the reference targets ``softmax(labels)`` the
list-wise losses prefer the flat prediction: training pulls the model towards collapse. Matching the
target temperature to the score temperature, or a loss without a target distribution, reverses it.
"""

from __future__ import annotations

import pytest
import torch

import sycl.losses as losses

Q, K = 16, 4
LABELS = torch.tensor([[2.0, 1.0, 0.0, 0.0]] * Q)


def _correct() -> torch.Tensor:
    scores = torch.full((Q, Q * K), 0.1)
    for i in range(Q):
        scores[i, i * K : (i + 1) * K] = torch.tensor([0.8, 0.6, 0.4, 0.4])
    return scores


FLAT = torch.full((Q, Q * K), 0.3)


@pytest.mark.parametrize(
    "name,options", [("ws2", {}), ("kl", {}), ("wasserstein1d", {}), ("wasserstein1d", {"in_batch": "lowest"})]
)
def test_reference_targets_prefer_flat_predictions(name, options):
    loss = losses.get(name, temperature=0.05, **options)
    assert float(loss(FLAT, LABELS)) < float(loss(_correct(), LABELS))


@pytest.mark.parametrize(
    "name,options",
    [
        ("ws2", {"label_temperature": 0.05}),
        ("kl", {"label_temperature": 0.05}),
        ("kl", {"label_temperature": 0.1}),
        ("wasserstein1d", {"in_batch": "lowest", "label_temperature": 0.1}),
        ("lambdaloss", {}),
        ("infonce", {}),
        ("kl", {"infonce_weight": 1.0, "in_batch": "lowest", "label_temperature": 0.1}),
    ],
)
def test_sharp_targets_prefer_correct_predictions(name, options):
    loss = losses.get(name, temperature=0.05, **options)
    assert float(loss(_correct(), LABELS)) < float(loss(FLAT, LABELS))


def test_diagnostics_flag_the_mismatch():
    d = losses.diagnostics(_correct(), LABELS, 0.05)
    assert d["own_group_prob"] > 0.99
    assert d["target_own_group_mass"] < 0.2  # reference targets put >80% of their mass elsewhere
    assert d["target_entropy"] > 10 * d["prediction_entropy"]
