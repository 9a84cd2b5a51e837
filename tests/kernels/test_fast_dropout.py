"""Fast dropout: the same distribution, expectation and gradient as torch's, and the same encoder outside training."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from sycl.kernels import fast_dropout as fd


def tiny_bert(dropout: float = 0.1) -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        attn_implementation="sdpa",
    )
    return BertModel(cfg)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_rate_is_one_minus_p(p):
    torch.manual_seed(0)
    n = 1 << 22
    kept = fd.keep_mask((n,), p).float().mean().item()
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma and abs(fd.effective_rate(p) - p) <= 1 / 131072


def test_every_lane_of_a_draw_is_uniform():
    """The four 16-bit lanes of each 64-bit draw keep at the same rate (no lane carries a fixed sign bit)."""
    torch.manual_seed(1)
    mask = fd.keep_mask((1 << 22,), 0.5).view(-1, 4).float().mean(0)
    assert torch.all((mask - 0.5).abs() < 5 * math.sqrt(0.25 / (1 << 20))), mask


def test_output_keeps_the_expectation_and_gradient_is_mask_times_scale():
    torch.manual_seed(0)
    x = torch.randn(256, 1024, requires_grad=True)
    y = fd.fast_dropout(x, 0.1)
    scale = 1 / (1 - fd.effective_rate(0.1))
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] * scale)
    ones = fd.fast_dropout(torch.ones(1 << 22), 0.1)
    assert abs(ones.mean().item() - 1) < 5 * math.sqrt(0.1 / 0.9 / (1 << 22))
    g = torch.randn_like(x)
    y.backward(g)
    torch.testing.assert_close(x.grad, g * kept * scale)


def test_bfloat16_keeps_the_expectation_too():
    """The scale is not rounded to bfloat16 (1.109 instead of 1.111 would bias every kept value)."""
    torch.manual_seed(0)
    ones = fd.fast_dropout(torch.ones(1 << 22, dtype=torch.bfloat16), 0.1)
    assert ones.dtype == torch.bfloat16
    assert (
        abs(ones.float().mean().item() - 1) < 5 * math.sqrt(0.1 / 0.9 / (1 << 22)) + 0.002
    )  # bf16 of 1.111: 1.109375 or 1.1171875
    x = torch.randn(64, 256, dtype=torch.bfloat16, requires_grad=True)
    y = fd.fast_dropout(x, 0.1)
    y.float().sum().backward()
    kept = y != 0
    torch.testing.assert_close(y[kept], (x[kept].float() / (1 - fd.effective_rate(0.1))).bfloat16())
    torch.testing.assert_close(
        x.grad[kept].float(), torch.full((int(kept.sum()),), 1 / 0.9).bfloat16().float(), rtol=0.01, atol=0
    )


def test_masks_follow_torch_seed_and_eval_is_identity():
    torch.manual_seed(3)
    a = fd.keep_mask((64, 64), 0.1)
    torch.manual_seed(3)
    b = fd.keep_mask((64, 64), 0.1)
    c = fd.keep_mask((64, 64), 0.1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    x = torch.randn(8, 8)
    assert fd.fast_dropout(x, 0.1, training=False) is x and fd.fast_dropout(x, 0.0) is x
    assert torch.equal(fd.FastDropout(0.3).eval()(x), x)


@pytest.mark.parametrize("mask_kind", ["bool", "float", "none"])
def test_attention_is_sdpa_with_the_mask_applied_to_the_probabilities(monkeypatch, mask_kind):
    """With every element kept, training attention = SDPA's output scaled by 1 / (1 - p)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 7, 8) for _ in range(3))
    mask = {
        "bool": torch.tensor([[True] * 7, [True] * 4 + [False] * 3])[:, None, None, :].expand(2, 1, 7, 7),
        "float": torch.zeros(2, 1, 7, 7).masked_fill(torch.arange(7) >= 5, torch.finfo(torch.float32).min),
        "none": None,
    }[mask_kind]
    module = torch.nn.Module().train()
    module.is_causal = False
    ref, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0, scaling=0.25)
    monkeypatch.setattr(fd, "keep_mask", lambda shape, p, device="cpu": torch.ones(shape, dtype=torch.bool))
    out, _ = fd.fast_dropout_attention(module, q, k, v, mask, dropout=0.1, scaling=0.25)
    torch.testing.assert_close(out, ref / (1 - fd.effective_rate(0.1)), rtol=1e-5, atol=1e-6)
    monkeypatch.undo()
    dropped, _ = fd.fast_dropout_attention(module, q, k, v, mask, dropout=0.5, scaling=0.25)
    assert not torch.allclose(dropped, ref)  # the real masks do drop


def test_enabled_model_is_unchanged_outside_training_and_drops_inside():
    stock, fast = tiny_bert(), tiny_bert()
    n = sum(type(m) is torch.nn.Dropout for m in fast.modules())
    assert fd.enable(fast) == n == 2 * 3 + 1  # per layer: attention probs, attention output, FFN output; embeddings
    assert fast.config._attn_implementation == fd.ATTENTION
    ids = torch.randint(0, 100, (3, 11))
    att = torch.ones(3, 11, dtype=torch.long)
    att[1, 6:] = 0
    stock.eval(), fast.eval()
    with torch.no_grad():
        assert torch.equal(
            stock(ids, attention_mask=att).last_hidden_state, fast(ids, attention_mask=att).last_hidden_state
        )
    fast.train()
    torch.manual_seed(0)
    a = fast(ids, attention_mask=att).last_hidden_state
    torch.manual_seed(0)
    b = fast(ids, attention_mask=att).last_hidden_state
    c = fast(ids, attention_mask=att).last_hidden_state
    assert torch.equal(a, b) and not torch.equal(a, c)
    a.sum().backward()  # the custom attention and dropout are differentiable end to end
    assert all(p.grad is not None for p in fast.encoder.parameters())
