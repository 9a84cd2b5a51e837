"""Mixed precision: which autocast dtype to use on this device, and a context for it.

On CPUs, ``auto`` follows a measurement, not a list of CPU flags
(:mod:`sycl.kernels.probe`): bf16 autocast is used where its product measured at least
1.1x as fast as fp32 with outputs at cosine >= 0.999 to fp32's. Flags mislead both ways: on a
Xeon whose hypervisor hid AMX, oneDNN's avx512_core_bf16 product ran at 0.72x fp32, while on an
AMD EPYC (Zen 4) with AVX512-BF16 and no AMX it runs 3-4.5x fp32. An explicit ``bf16`` or ``fp16``
that measured slower than fp32 is honoured with a warning naming the ratio. On CUDA, ``auto`` is
bf16 where supported, else fp16.
"""

from __future__ import annotations

import contextlib

import torch

from sycl.kernels.options import Precision
from sycl.kernels.probe import KernelState, default_state
from sycl.log import get_logger

_log = get_logger(__name__)


def cpu_has_fast_bf16(kernels: KernelState | None = None) -> bool:
    """True when bf16 autocast measured faster than fp32 on this CPU (accurately)."""
    return (kernels or default_state()).verdict().autocast == "bf16"


def _warn_if_slow(precision: str, kernels: KernelState) -> None:
    """Warn once per state when an explicitly requested CPU autocast dtype measured slower than fp32."""
    v = kernels.verdict()
    speedup = v.speedup(f"autocast_{precision}")
    if speedup is not None and speedup < 1.0 and kernels.first_warning(f"precision {precision}"):
        _log.warning(
            "precision %s was requested, but on this CPU (%s) its autocast product measured %.2fx the "
            "speed of fp32 (%.1f%% slower); precision auto would use %s",
            precision,
            v.cpu,
            speedup,
            100 * (1 - speedup),
            v.autocast,
        )


def resolve_dtype(
    precision: Precision, device: torch.device | str, kernels: KernelState | None = None
) -> torch.dtype | None:
    """Autocast dtype for ``precision`` on ``device`` (``None`` means plain fp32); ``kernels``: the probe's state."""
    device = torch.device(device)
    kernels = kernels or default_state()
    if precision == "fp32":
        return None
    if precision in ("bf16", "fp16"):
        if device.type == "cpu":
            _warn_if_slow(precision, kernels)
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16(kernels) else None
    return None


def autocast(precision: Precision, device: torch.device | str):
    """An autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    device = torch.device(device)
    dtype = resolve_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
