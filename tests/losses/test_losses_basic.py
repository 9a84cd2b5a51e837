"""infonce and kl against direct formulas; the InfoNCE mix-in."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import sycl.losses as losses


@pytest.mark.parametrize("q,k,in_batch", [(4, 3, True), (4, 3, False), (1, 5, False), (6, 1, True)])
def test_infonce_is_cross_entropy_on_first_passage(q, k, in_batch):
    torch.manual_seed(q * k)
    n = q * k if in_batch else k
    scores, labels = torch.randn(q, n), torch.randint(0, 4, (q, k))
    target = torch.arange(q) * k if in_batch else torch.zeros(q, dtype=torch.long)
    got = losses.get("infonce", temperature=0.05)(scores, labels)
    assert torch.allclose(got, F.cross_entropy(scores / 0.05, target), atol=1e-6)


def test_infonce_positive_max_uses_best_label_first_of_ties():
    scores = torch.randn(2, 6)
    labels = torch.tensor([[1, 3, 3], [2, 0, 1]])
    got = losses.get("infonce", positive="max")(scores, labels)
    assert torch.allclose(got, F.cross_entropy(scores, torch.tensor([1, 3])))


@pytest.mark.parametrize("in_batch", [True, False])
def test_kl_equals_direct_formula(in_batch):
    torch.manual_seed(5)
    q, k = 5, 4
    n = q * k if in_batch else k
    scores, labels = torch.randn(q, n, dtype=torch.float64), torch.randint(0, 4, (q, k)).double()
    lab = torch.zeros(q, n, dtype=torch.float64)
    for i in range(q):
        lab[i, (i * k if in_batch else 0) : (i * k if in_batch else 0) + k] = labels[i]
    t, p = torch.softmax(lab / 0.5, 1), torch.softmax(scores / 0.2, 1)
    expected = (t * (t.log() - p.log())).sum(1).mean()
    got = losses.get("kl", temperature=0.2, label_temperature=0.5)(scores, labels)
    assert float(got) == pytest.approx(float(expected), abs=1e-12)
    # torch's own KL with batchmean agrees
    assert float(got) == pytest.approx(float(F.kl_div(p.log(), t, reduction="batchmean")), abs=1e-12)


def test_infonce_weight_adds_weighted_infonce():
    torch.manual_seed(6)
    scores, labels = torch.randn(4, 12), torch.randint(0, 4, (4, 3))
    combo = losses.get("kl", temperature=0.1, infonce_weight=0.5)
    kl = losses.get("kl", temperature=0.1)(scores, labels)
    nce = losses.get("infonce", temperature=0.1, positive="max")(scores, labels)
    assert isinstance(combo, losses.CombinedLoss)
    assert torch.allclose(combo(scores, labels), kl + 0.5 * nce, atol=1e-6)
    assert set(combo.last_terms) == {"kl", "infonce"}
    assert torch.allclose(combo.last_terms["infonce"], nce)
    own_tau = losses.get("ws2", infonce_weight=1.0, infonce_temperature=0.05)
    nce05 = losses.get("infonce", temperature=0.05, positive="max")(scores, labels)
    ws2 = losses.get("ws2")(scores, labels)
    assert float(own_tau(scores, labels)) == pytest.approx(float(ws2) + float(nce05), rel=1e-6)
    assert not isinstance(losses.get("kl", infonce_weight=0.0), losses.CombinedLoss)
