"""Finite scalar losses and finite gradients on degenerate inputs, for every loss and target option."""

from __future__ import annotations

import itertools

import pytest
import torch

import sycl.losses as losses

CONFIGS = (
    [("infonce", {}), ("infonce", {"positive": "max"})]
    + [
        (name, {"in_batch": mode, **({"label_temperature": t} if name != "lambdaloss" else {})})
        for name, mode, t in itertools.product(
            ["ws2", "kl", "wasserstein1d", "lambdaloss"], ["zero", "lowest", "exclude"], [1.0, 0.05]
        )
        if not (name == "lambdaloss" and t != 1.0)
    ]
    + [("kl", {"infonce_weight": 0.5, "temperature": 0.05})]
)

CASES = {
    "equal_labels": (lambda: torch.randn(4, 12), lambda: torch.full((4, 3), 2.0)),
    "all_zero_labels": (lambda: torch.randn(4, 12), lambda: torch.zeros(4, 3)),
    "k_is_1_in_batch": (lambda: torch.randn(5, 5), lambda: torch.randint(0, 4, (5, 1)).float()),
    "k_is_1_own_only": (lambda: torch.randn(5, 1), lambda: torch.randint(0, 4, (5, 1)).float()),
    "q_is_1": (lambda: torch.randn(1, 4), lambda: torch.tensor([[3.0, 2.0, 1.0, 0.0]])),
    "q_is_1_k_is_1": (lambda: torch.randn(1, 1), lambda: torch.tensor([[3.0]])),
    "huge_scores": (lambda: 1e4 * torch.randn(4, 12), lambda: torch.randint(0, 4, (4, 3)).float()),
    "huge_equal_scores": (lambda: torch.full((4, 12), 1e4), lambda: torch.randint(0, 4, (4, 3)).float()),
    "int_labels_own_only": (lambda: torch.randn(6, 4), lambda: torch.randint(0, 4, (6, 4))),
    "bf16_scores": (lambda: torch.randn(4, 12).bfloat16(), lambda: torch.randint(0, 4, (4, 3))),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{o}" for n, o in CONFIGS])
def test_loss_and_gradient_are_finite(name, options, case):
    torch.manual_seed(0)
    make_scores, make_labels = CASES[case]
    scores = make_scores().requires_grad_(True)
    labels = make_labels()
    options = {"temperature": 0.05, **options}
    loss = losses.get(name, **options)(scores, labels)
    assert loss.dim() == 0
    assert torch.isfinite(loss)
    loss.backward()
    assert scores.grad is not None and torch.isfinite(scores.grad.float()).all()


def test_equal_labels_give_zero_listwise_loss_where_level_based():
    scores = torch.randn(3, 9, requires_grad=True)
    labels = torch.full((3, 3), 1.0)
    for name in ("wasserstein1d", "lambdaloss"):
        loss = losses.get(name, in_batch="exclude")(scores, labels)
        assert float(loss.detach()) == 0.0
