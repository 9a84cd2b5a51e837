"""Dropout with a cheaper random-number draw, for training encoders on CPU.

Profiled on the 2-core AMX Xeon (``benchmarks/RESULTS.md``, issue 17), ``aten::bernoulli_`` took 27%
of a training step of all-MiniLM-L6-v2: torch's CPU generator draws one Mersenne-twister number per
element, sequentially, and attention dropout needs ``heads x T x T`` of them per layer. Neither bf16
nor more threads make that cheaper. Here one 64-bit draw from the same generator gives four 16-bit
uniforms, and an element is kept when its uniform is at least ``round(p * 65536)`` (so the
dropout rate is ``p`` to within 1/131072), then scaled by ``1 / (1 - p)``: the same distribution,
expectation and gradient as :func:`torch.nn.functional.dropout`, a different random stream.

Two pieces, switched on by :func:`enable` (the trainer does so where ``train.fast_dropout``
says, which by default follows the kernel probe's measurement of this CPU:
:func:`sycl.kernels.decisions.resolve_fast_dropout`):

* :class:`FastDropout` replaces every ``nn.Dropout`` of the encoder (embeddings, attention and
  feed-forward outputs);
* the attention implementation ``sycl_fast_dropout`` computes the function of transformers' eager
  path (scores, mask, softmax, dropout, product) with the cheaper draw when training with
  dropout, arranged to touch each ``heads x T x T`` tensor as few times as it can (after the
  dropout draw, those elementwise passes cost more than the products in a bf16 step:
  :func:`fast_dropout_attention`), and hands everything else (evaluation, no dropout, GPUs) to
  PyTorch's ``scaled_dot_product_attention`` unchanged.

Reproducible under :func:`torch.manual_seed`, and replayed exactly by gradient caching, which
restores the CPU generator's state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sycl.log import get_logger

_log = get_logger(__name__)

ATTENTION = "sycl_fast_dropout"
_LANES = 4  # 16-bit uniforms per 64-bit draw


def keep_mask(
    shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str = "cpu", dtype: torch.dtype = torch.bool
) -> torch.Tensor:
    """A tensor of ``shape``: 1 (True) with probability ``1 - p`` (``p`` rounded to 1/65536), else 0.

    ``dtype`` other than bool writes the comparison straight into a 0/1 tensor of that dtype:
    on the Zen 4 EPYC 0.8 ms for an attention-sized mask, where a boolean mask and then
    ``.to(torch.bfloat16)`` took 1.7 + 3.9 ms.
    """
    n = math.prod(shape)
    draws = torch.empty((n + _LANES - 1) // _LANES, dtype=torch.int64, device=device)
    draws.random_(-(2**63), 2**63 - 1)  # every bit uniform: four int16 lanes per draw
    lanes = draws.view(torch.int16)[:n]
    return torch.ge(lanes, threshold(p), out=torch.empty(n, dtype=dtype, device=device)).view(shape)


def threshold(p: float) -> int:
    """The int16 value at or above which an element is kept, for dropout rate ``p``."""
    return -32768 + round(p * 65536)


def effective_rate(p: float) -> float:
    """The dropout rate :func:`keep_mask` actually draws for ``p`` (within 1/131072 of it)."""
    return (threshold(p) + 32768) / 65536


class _Scaled(torch.autograd.Function):
    """``x * m * scale`` for a 0/1 multiplier ``m`` in ``x``'s dtype; saves only ``m``.

    In float32 the scale is folded into ``m`` (one pass; measured on the AMX Xeon, forward +
    backward of an attention-sized tensor: 10.3 ms, against 14.7 ms for ``masked_fill`` on a
    boolean mask and 26.0 ms for torch's dropout). In bfloat16/float16 the scale is applied as a
    Python float, which the kernel multiplies in float32 and rounds per element: a scale rounded
    to bfloat16 (1/0.9 -> 1.109) would bias every kept value by -0.16%.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, m: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(m)
        ctx.scale = scale
        out = x * m
        return out.mul_(scale) if scale != 1.0 else out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (m,) = ctx.saved_tensors
        g = grad * m
        return (g.mul_(ctx.scale) if ctx.scale != 1.0 else g), None, None


def fast_dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """:func:`torch.nn.functional.dropout` with the cheaper draw (same distribution and gradient)."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    scale = 1.0 / (1.0 - effective_rate(p))
    m = keep_mask(x.shape, p, x.device, x.dtype)
    if x.dtype in (torch.float32, torch.float64):
        return _Scaled.apply(x, m.mul_(scale), 1.0)
    return _Scaled.apply(x, m, scale)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` drawing its mask with :func:`keep_mask`; a drop-in replacement (same ``p``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.p, self.training)


def fast_dropout_attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers attention function: eager attention with :func:`fast_dropout` while training on CPU.

    ``query``/``key``/``value`` ``[B, heads, T, d]``; ``attention_mask`` in SDPA's form (boolean,
    True = attend, or additive float, or None). Returns ``([B, T, heads, d], None)``.

    The same function as ``dropout(softmax(q k^T * scale + mask)) v``, arranged so that each
    ``heads x T x T`` tensor is touched as few times as possible (those passes, not the products,
    were most of a bf16 training step): the scale multiplies ``q`` (``T x d``), the mask is added
    in place to the product (its backward is the identity), softmax and the dropout multiply run
    in the product's dtype (under bf16 autocast the probabilities were rounded to bf16 before the
    product anyway; torch's CPU softmax computes in float32 inside), and the dropout's
    ``1 / (1 - p)`` multiplies the ``T x d`` output instead of the probabilities.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0 or not module.training or query.device.type != "cpu":
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if key.shape[1] != query.shape[1]:  # grouped-query attention: repeat the shared key/value heads
        rep = query.shape[1] // key.shape[1]
        key, value = key.repeat_interleave(rep, dim=1), value.repeat_interleave(rep, dim=1)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    scores = torch.matmul(query * scale, key.transpose(2, 3))
    if attention_mask is not None:
        scores = scores.add_(additive_mask(attention_mask[:, :, :, : key.shape[-2]], scores.dtype))
    probs = torch.softmax(scores, dim=-1)
    if dropout >= 1.0:
        return (probs @ value * 0.0).transpose(1, 2).contiguous(), None
    keep = keep_mask(probs.shape, dropout, probs.device, probs.dtype)
    out = torch.matmul(_Scaled.apply(probs, keep, 1.0), value) * (1.0 / (1.0 - effective_rate(dropout)))
    return out.transpose(1, 2).contiguous(), None


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """SDPA's attention mask (boolean, True = attend, or additive) as an additive mask in ``dtype``.

    Masked positions get ``dtype``'s most negative finite value: a float32 mask's ``-3.40e38``
    would round to ``-inf`` in bfloat16, and a row with every key masked would then give NaN
    instead of the uniform row that finite values give.
    """
    low = torch.finfo(dtype).min
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, low)
    return mask.clamp(min=low).to(dtype)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, fast_dropout_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)


def enable(transformer: nn.Module) -> int:
    """Switch ``transformer`` (a transformers model) to fast dropout; returns the dropout modules replaced.

    Attention goes through ``sycl_fast_dropout`` when the model computes attention through
    transformers' attention interface with SDPA or eager attention; other implementations
    (flash-attention kernels, models without the interface) keep theirs and only the
    ``nn.Dropout`` modules are replaced.
    """
    replaced = 0
    for child in list(transformer.modules()):
        for attr, sub in list(child.named_children()):
            if type(sub) is nn.Dropout:
                setattr(child, attr, FastDropout(sub.p, sub.inplace))
                replaced += 1
    config = getattr(transformer, "config", None)
    current = getattr(config, "_attn_implementation", None)
    if current in ("sdpa", "eager"):
        _register()
        try:
            transformer.set_attn_implementation(ATTENTION)
        except (ValueError, AttributeError, NotImplementedError) as e:  # a model class that refuses it keeps its own
            _log.info("fast dropout: attention stays %s (%s)", current, e)
    return replaced
