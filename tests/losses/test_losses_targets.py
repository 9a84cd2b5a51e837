"""Block-diagonal layout and the target options (label_temperature, in_batch)."""

from __future__ import annotations

import pytest
import torch

import sycl.losses as losses
from sycl.losses.targets import TargetConfig, expand_labels, own_columns


def test_expand_labels_block_diagonal_layout():
    labels = torch.tensor([[3.0, 2.0], [1.0, 0.0], [2.0, 2.0]])
    out = expand_labels(labels, 6, fill=-5.0)
    assert out.tolist() == [
        [3, 2, -5, -5, -5, -5],
        [-5, -5, 1, 0, -5, -5],
        [-5, -5, -5, -5, 2, 2],
    ]
    assert torch.equal(expand_labels(labels, 2), labels)
    assert own_columns(3, 2, 6).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert own_columns(3, 2, 2).tolist() == [[0, 1], [0, 1], [0, 1]]
    with pytest.raises(ValueError, match="cannot expand"):
        expand_labels(labels, 5)


def test_per_row_fill_values():
    labels = torch.tensor([[3.0, 1.0], [2.0, 2.0]])
    out = expand_labels(labels, 4, fill=torch.tensor([7.0, 8.0]))
    assert out.tolist() == [[3, 1, 7, 7], [8, 8, 2, 2]]


def test_in_batch_zero_and_lowest_targets():
    labels = torch.tensor([[3.0, 1.0], [2.0, 2.0]])
    scores = torch.zeros(2, 4)
    _, zero = TargetConfig(in_batch="zero").arrange(scores, labels)
    _, lowest = TargetConfig(in_batch="lowest").arrange(scores, labels)
    assert zero.tolist() == [[3, 1, 0, 0], [0, 0, 2, 2]]
    # min(own labels) - 1: row 0 -> 0, row 1 -> 1
    assert lowest.tolist() == [[3, 1, 0, 0], [1, 1, 2, 2]]
    t = TargetConfig(in_batch="lowest").distribution(lowest)
    # every in-batch passage weighs exp(-1) times the query's lowest own passage
    assert float(t[1, 0] / t[1, 2]) == pytest.approx(torch.e**-1)


def test_in_batch_exclude_gathers_own_block():
    scores = torch.arange(12.0).reshape(2, 6)
    labels = torch.tensor([[3, 2, 1], [0, 1, 2]])
    s, lab = TargetConfig(in_batch="exclude").arrange(scores, labels)
    assert s.tolist() == [[0, 1, 2], [9, 10, 11]]
    assert lab.tolist() == [[3, 2, 1], [0, 1, 2]]


def test_label_temperature_sharpens_target():
    lab = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    flat = TargetConfig(label_temperature=1.0).distribution(lab)
    sharp = TargetConfig(label_temperature=0.1).distribution(lab)
    assert torch.allclose(flat, torch.softmax(lab, 1))
    assert torch.allclose(sharp, torch.softmax(lab / 0.1, 1))
    assert float(sharp[0, 0]) > 0.9999 > float(flat[0, 0])


@pytest.mark.parametrize("name", ["kl", "ws2", "wasserstein1d", "lambdaloss"])
def test_exclude_gives_zero_gradient_to_other_queries_columns(name):
    torch.manual_seed(0)
    q, k = 4, 3
    scores = torch.randn(q, q * k, requires_grad=True)
    losses.get(name, in_batch="exclude")(scores, torch.randint(0, 4, (q, k))).backward()
    own = torch.zeros(q, q * k, dtype=torch.bool).scatter_(1, own_columns(q, k, q * k), True)
    assert torch.all(scores.grad[~own] == 0)
    assert scores.grad[own].abs().sum() > 0


@pytest.mark.parametrize("name", ["kl", "ws2", "wasserstein1d", "lambdaloss"])
def test_in_batch_option_changes_the_loss(name):
    torch.manual_seed(1)
    q, k = 4, 3
    scores = torch.randn(q, q * k, dtype=torch.float64)
    labels = torch.tensor([[3, 2, 0], [2, 1, 0], [3, 0, 0], [1, 1, 0]])
    values = {mode: float(losses.get(name, in_batch=mode)(scores, labels)) for mode in ("zero", "lowest", "exclude")}
    assert len({round(v, 9) for v in values.values()}) == 3, values


@pytest.mark.parametrize("name", ["kl", "ws2", "wasserstein1d"])
def test_label_temperature_changes_the_loss_and_defaults_to_reference(name):
    torch.manual_seed(2)
    scores, labels = torch.randn(3, 9, dtype=torch.float64), torch.randint(0, 4, (3, 3))
    default = float(losses.get(name)(scores, labels))
    assert float(losses.get(name, label_temperature=1.0, in_batch="zero")(scores, labels)) == default
    assert float(losses.get(name, label_temperature=0.1)(scores, labels)) != pytest.approx(default, rel=1e-6)


def test_in_batch_has_no_effect_without_in_batch_columns():
    torch.manual_seed(3)
    scores, labels = torch.randn(3, 4), torch.randint(0, 4, (3, 4))
    values = [float(losses.get("kl", in_batch=m)(scores, labels)) for m in ("zero", "lowest", "exclude")]
    assert values[0] == values[1] == values[2]


def test_bad_layout_is_rejected_with_shapes():
    kl = losses.get("kl")
    with pytest.raises(ValueError, match="expected k = 3"):
        kl(torch.zeros(2, 5), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="2 query rows but labels have 3"):
        kl(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="NaN"):
        kl(torch.zeros(2, 3), torch.tensor([[1.0, float("nan"), 0.0]] * 2))
