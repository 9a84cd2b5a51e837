"""Mixed precision: which autocast dtype to use on this device, and a context for it.

On CPUs with AMX, bf16 matmuls run several times faster than fp32 with embeddings at
cosine >= 0.9999 to fp32; on CUDA, bf16 where supported, else fp16. AVX512-BF16 alone is
not enough: on a Xeon whose hypervisor hides AMX, oneDNN's avx512_core_bf16 matmul measured
0.14 TFLOP/s against 0.22-0.27 for fp32, and bf16 autocast encoded 0.72x as fast as fp32, so
``auto`` stays in fp32 there.
"""
from __future__ import annotations

import contextlib

import torch

from sycl.modeling.config import Precision


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX tiles (bf16 matrix products several times faster than fp32)."""
    fn = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(fn is not None and fn())
    except Exception:  # pragma: no cover - probe missing on some builds
        return False


def resolve_dtype(precision: Precision, device: torch.device | str) -> torch.dtype | None:
    """Autocast dtype for ``precision`` on ``device`` (``None`` means plain fp32)."""
    device = torch.device(device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_fast_bf16() else None
    return None


def autocast(precision: Precision, device: torch.device | str):
    """An autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    device = torch.device(device)
    dtype = resolve_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
