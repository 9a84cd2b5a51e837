"""A DeepSpeed JSON config with every value resolved from the experiment before ``deepspeed.initialize``.

DeepSpeed files written for the transformers ``Trainer`` (such as ``configs/paper/zero3.json``)
carry ``"auto"`` placeholders that the ``Trainer`` fills in; DeepSpeed itself does not: its
config class reads ``"bf16": {"enabled": "auto"}`` as *disabled* and an ``"auto"`` bucket size as
its default, silently. :func:`resolve_deepspeed_config` fills them from the experiment, the
same way as the transformers integration:

==========================================  =============================================
key                                          value
==========================================  =============================================
``train_micro_batch_size_per_gpu``          ``train.batch_size``
``gradient_accumulation_steps``             ``train.gradient_accumulation``
``train_batch_size``                        batch size x accumulation x processes
``gradient_clipping``                       ``train.max_grad_norm`` (0: none)
``bf16.enabled`` / ``fp16.enabled``         ``train.precision`` resolved on the device
``zero_optimization.reduce_bucket_size``    hidden size ** 2
``...stage3_prefetch_bucket_size``          0.9 x hidden size ** 2
``...stage3_param_persistence_threshold``   10 x hidden size
==========================================  =============================================

Missing keys of the first five are added. An explicit value that contradicts the experiment
(say ``train_micro_batch_size_per_gpu: 8`` with ``batch_size: 16``, or ``bf16.enabled: true``
with ``precision: fp32``) is a :class:`DataError` naming the key, as is any ``"auto"`` left
over and an ``optimizer``/``scheduler`` section (the trainer builds both from ``train``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from sycl.io.errors import DataError

_ZERO_AUTO = {
    "reduce_bucket_size": lambda h: h * h,
    "stage3_prefetch_bucket_size": lambda h: int(0.9 * h * h),
    "stage3_param_persistence_threshold": lambda h: 10 * h,
}


def read_deepspeed_config(path: str | Path) -> dict:
    """The JSON object of a DeepSpeed config file; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "DeepSpeed config not found")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"malformed JSON: {err.msg}", err.lineno) from None
    if not isinstance(cfg, dict):
        raise DataError(path, "a DeepSpeed config is a JSON object")
    return cfg


def _set(cfg: dict, keys: list[str], value: Any, source: str, why: str) -> None:
    """Set ``cfg[k0][k1]... = value`` when missing or ``"auto"``; an explicit different value is an error."""
    node = cfg
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise DataError(source, f"{'.'.join(keys[:-1])}: expected an object")
    key = keys[-1]
    current = node.get(key, "auto")
    if current == "auto":
        node[key] = value
    elif current != value and not (
        isinstance(current, (int, float))
        and not isinstance(current, bool)
        and isinstance(value, (int, float))
        and float(current) == float(value)
    ):
        raise DataError(
            source,
            f"{'.'.join(keys)} is {current!r} but the experiment gives {value!r} ({why}); "
            'remove the key or set it to "auto"',
        )


def _leftover_auto(node: Any, where: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leftover_auto(v, f"{where}.{k}" if where else str(k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leftover_auto(v, f"{where}[{i}]")]
    return [where] if node == "auto" else []


def resolve_deepspeed_config(
    raw: dict,
    *,
    micro_batch: int,
    accumulation: int,
    world_size: int,
    max_grad_norm: float | None,
    dtype: torch.dtype | None,
    hidden_size: int | None = None,
    source: str = "<deepspeed config>",
) -> dict:
    """A copy of ``raw`` with every value fixed by the experiment (see the module docstring).

    ``dtype`` is the experiment's resolved precision (``None``: fp32); ``hidden_size`` the
    encoder's width, for the ZeRO bucket sizes.
    """
    cfg = copy.deepcopy(raw)
    for section in ("optimizer", "scheduler"):
        if section in cfg:
            raise DataError(
                source,
                f"'{section}': the trainer builds the optimiser and its schedule from the "
                "experiment's train section (lr, weight_decay, warmup_ratio, schedule); remove it",
            )
    _set(cfg, ["train_micro_batch_size_per_gpu"], micro_batch, source, "train.batch_size")
    _set(cfg, ["gradient_accumulation_steps"], accumulation, source, "train.gradient_accumulation")
    _set(
        cfg,
        ["train_batch_size"],
        micro_batch * accumulation * world_size,
        source,
        f"batch_size x gradient_accumulation x {world_size} processes",
    )
    _set(
        cfg,
        ["gradient_clipping"],
        float(max_grad_norm) if max_grad_norm is not None else 0.0,
        source,
        "train.max_grad_norm",
    )
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    _set(cfg, ["bf16", "enabled"], dtype == torch.bfloat16, source, f"train.precision resolves to {precision}")
    if "fp16" in cfg or dtype == torch.float16:
        _set(cfg, ["fp16", "enabled"], dtype == torch.float16, source, f"train.precision resolves to {precision}")
    zero = cfg.get("zero_optimization")
    if isinstance(zero, dict) and hidden_size:
        for key, rule in _ZERO_AUTO.items():
            if zero.get(key) == "auto":
                zero[key] = rule(int(hidden_size))
    left = _leftover_auto(cfg)
    if left:
        raise DataError(source, f'cannot resolve "auto" for {", ".join(left)} from the experiment; give a value')
    return cfg


def engine_dtype(cfg: dict) -> torch.dtype | None:
    """The dtype DeepSpeed casts the model to under a resolved config (``None``: fp32)."""
    if cfg.get("bf16", {}).get("enabled") is True:
        return torch.bfloat16
    if cfg.get("fp16", {}).get("enabled") is True:
        return torch.float16
    return None
