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
with ``precision: fp32``) is a :class:`DataError` naming the key, as is any ``"auto"`` left over.

The ``optimizer`` and ``scheduler`` sections of a transformers-style file (the reference's, which
``configs/paper/zero3.json`` carries) are honoured by checking, not by handing them to DeepSpeed:
the trainer builds the same optimiser and schedule itself (so they are also the same without
DeepSpeed) and passes them to ``deepspeed.initialize``. Each value must be ``"auto"`` or equal the
experiment's, as the transformers ``Trainer`` requires:

==========================================  =============================================
``optimizer.type``                          ``AdamW`` (torch's; ``torch_adam`` either way)
``optimizer.params.lr``                     ``train.lr``
``optimizer.params.betas`` / ``eps``        ``[0.9, 0.999]`` / ``1e-8`` (torch's defaults)
``optimizer.params.weight_decay``           ``train.weight_decay``
``scheduler.type``                          ``WarmupDecayLR`` with ``train.schedule: warmup_decay``
``scheduler.params.warmup_min_lr``          ``train.warmup_min_lr``
``scheduler.params.warmup_max_lr``          ``train.lr``
``scheduler.params.warmup_num_steps``       ``ceil(train.warmup_ratio x total steps)``
``scheduler.params.total_num_steps``        total optimiser steps of the run
``scheduler.params.warmup_type``            ``train.warmup_type`` (absent: DeepSpeed's ``log``)
==========================================  =============================================

Both sections are then removed from the config DeepSpeed receives (it refuses a section and a
client object of the same kind).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from sycl.io.errors import DataError
from sycl.training.schedules import Schedule

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


_ADAMW_DEFAULTS = {"betas": [0.9, 0.999], "eps": 1e-8}


def _honour_optimizer(cfg: dict, lr: float, weight_decay: float, source: str) -> None:
    section = cfg.pop("optimizer")
    kind = section.get("type") if isinstance(section, dict) else None
    if not isinstance(kind, str) or kind.lower() != "adamw":
        raise DataError(source, f"optimizer.type is {kind!r}: the trainer builds torch's AdamW; use AdamW or remove it")
    params = dict(section.get("params") or {})
    if not isinstance(params.pop("torch_adam", True), bool):
        raise DataError(source, "optimizer.params.torch_adam: expected true or false")
    wanted = {"lr": (lr, "train.lr"), "weight_decay": (weight_decay, "train.weight_decay")}
    wanted.update({k: (v, "torch's AdamW default") for k, v in _ADAMW_DEFAULTS.items()})
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        raise DataError(source, f"optimizer.params.{unknown[0]}: not an option the trainer's AdamW takes; remove it")
    holder = {"optimizer": {"params": params}}
    for key, (value, why) in wanted.items():
        _set(holder, ["optimizer", "params", key], value, source, why)


def _honour_scheduler(cfg: dict, schedule: Schedule, source: str) -> None:
    section = cfg.pop("scheduler")
    kind = section.get("type") if isinstance(section, dict) else None
    if kind != "WarmupDecayLR":
        raise DataError(source, f"scheduler.type is {kind!r}: sycl builds WarmupDecayLR only; use it or remove it")
    if schedule.kind != "warmup_decay":
        raise DataError(
            source,
            f"scheduler.type is WarmupDecayLR but train.schedule is {schedule.kind!r}; "
            "set train.schedule: warmup_decay or remove the scheduler section",
        )
    params = dict(section.get("params") or {})
    params.setdefault("warmup_type", "log")  # DeepSpeed's default
    wanted = schedule.deepspeed_params()
    unknown = sorted(set(params) - set(wanted))
    if unknown:
        raise DataError(source, f"scheduler.params.{unknown[0]}: not a parameter of WarmupDecayLR")
    why = {
        "warmup_min_lr": "train.warmup_min_lr",
        "warmup_max_lr": "train.lr",
        "warmup_num_steps": "ceil(train.warmup_ratio x total steps)",
        "total_num_steps": "total optimiser steps",
        "warmup_type": "train.warmup_type",
    }
    holder = {"scheduler": {"params": params}}
    for key, value in wanted.items():
        _set(holder, ["scheduler", "params", key], value, source, why[key])


def resolve_deepspeed_config(
    raw: dict,
    *,
    micro_batch: int,
    accumulation: int,
    world_size: int,
    max_grad_norm: float | None,
    dtype: torch.dtype | None,
    hidden_size: int | None = None,
    schedule: Schedule | None = None,
    weight_decay: float = 0.0,
    source: str = "<deepspeed config>",
) -> dict:
    """A copy of ``raw`` with every value fixed by the experiment (see the module docstring).

    ``dtype`` is the experiment's resolved precision (``None``: fp32); ``hidden_size`` the
    encoder's width, for the ZeRO bucket sizes; ``schedule`` and ``weight_decay`` the trainer's
    optimiser and schedule, against which ``optimizer``/``scheduler`` sections are checked
    (without ``schedule`` such a section is an error).
    """
    cfg = copy.deepcopy(raw)
    for section in ("optimizer", "scheduler"):
        if section in cfg and schedule is None:
            raise DataError(
                source,
                f"'{section}': the trainer builds the optimiser and its schedule from the "
                "experiment's train section (lr, weight_decay, warmup_ratio, schedule); remove it",
            )
    if "optimizer" in cfg:
        _honour_optimizer(cfg, schedule.lr, weight_decay, source)
    if "scheduler" in cfg:
        _honour_scheduler(cfg, schedule, source)
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
