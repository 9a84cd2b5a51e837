"""Registry names, option validation and the diagnostics helper."""

from __future__ import annotations

import pytest
import torch

import sycl.losses as losses


def test_available_names():
    assert losses.available() == ["infonce", "kl", "lambdaloss", "wasserstein1d", "ws2"]
    for name in losses.available():
        loss = losses.get(name)
        assert isinstance(loss, torch.nn.Module) and loss.temperature == 1.0


def test_unknown_loss_lists_available():
    with pytest.raises(ValueError, match=r"unknown loss 'ws3'; available: infonce, kl, lambdaloss, wasserstein1d, ws2"):
        losses.get("ws3")


def test_unknown_option_is_named_with_accepted_ones():
    with pytest.raises(ValueError, match=r"loss 'ws2' has no option 'temprature'; its options are: temperature"):
        losses.get("ws2", temprature=0.05)
    with pytest.raises(ValueError, match="no option 'label_temperature'"):
        losses.get("lambdaloss", label_temperature=0.1)
    with pytest.raises(ValueError, match="no option 'infonce_weight'"):
        losses.get("infonce", infonce_weight=1.0)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"temperature": 0}, "'temperature' must be a finite number > 0"),
        ({"temperature": float("nan")}, "'temperature' must be a finite number > 0"),
        ({"temperature": "0.05"}, "'temperature' must be a number"),
        ({"label_temperature": -1}, "'label_temperature' must be a finite number > 0"),
        ({"in_batch": "drop"}, "'in_batch' must be one of 'zero', 'lowest', 'exclude'"),
        ({"infonce_weight": -0.5}, "'infonce_weight' must be a finite number >= 0"),
        ({"infonce_temperature": 0.05}, "'infonce_temperature' needs infonce_weight > 0"),
    ],
)
def test_bad_option_values(options, match):
    with pytest.raises(ValueError, match=match):
        losses.get("kl", **options)


def test_options_of():
    assert losses.options_of("kl") == [
        "temperature",
        "label_temperature",
        "in_batch",
        "infonce_weight",
        "infonce_temperature",
    ]
    assert losses.options_of("infonce") == ["temperature", "positive"]


def test_diagnostics_own_group_probability():
    labels = torch.tensor([[3, 0], [2, 1]])
    scores = torch.tensor([[5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 10.0, 10.0]])
    d = losses.diagnostics(scores, labels, temperature=1.0)
    assert d["own_group_prob"] == pytest.approx(0.75, abs=1e-4)  # row 0: 1/2, row 1: ~1
    assert d["top1_own"] == pytest.approx(1.0)  # row 0 ties: argmax picks column 0 (own)
    assert d["best_label"] == pytest.approx(2.5)
    assert d["top1_label"] == pytest.approx(2.5)
    assert losses.diagnostics(scores[:, :2], labels, 1.0)["own_group_prob"] == pytest.approx(1.0)
    # targets: softmax([3,0,0,0]) own mass and softmax([0,0,2,1]) own mass
    t0 = torch.softmax(torch.tensor([3.0, 0, 0, 0]), 0)[:2].sum()
    t1 = torch.softmax(torch.tensor([0.0, 0, 2, 1]), 0)[2:].sum()
    assert d["target_own_group_mass"] == pytest.approx(float(t0 + t1) / 2, abs=1e-6)
    assert losses.diagnostics(scores, labels, 1.0, in_batch="exclude")["target_own_group_mass"] == 1.0


def test_diagnostics_detects_flattening():
    torch.manual_seed(0)
    q, k = 16, 4
    labels = torch.tensor([[3, 2, 1, 0]] * q)
    sharp = torch.full((q, q * k), -1.0)
    for i in range(q):
        sharp[i, i * k : (i + 1) * k] = torch.tensor([1.0, 0.8, 0.5, 0.3])
    flat = torch.zeros(q, q * k)
    d_sharp = losses.diagnostics(sharp, labels, 0.05)
    d_flat = losses.diagnostics(flat, labels, 0.05)
    assert d_sharp["own_group_prob"] > 0.99 and d_flat["own_group_prob"] == pytest.approx(k / (q * k))
    assert d_flat["prediction_entropy"] > d_sharp["prediction_entropy"]
    assert d_sharp["top1_label"] == 3.0
    assert d_sharp["target_entropy"] > d_sharp["prediction_entropy"]
