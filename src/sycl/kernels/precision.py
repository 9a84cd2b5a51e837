"""Mixed precision: the autocast dtype for a ``precision`` setting on a device, and a context for it.

Which precision ``auto`` takes is decided in :func:`sycl.kernels.decisions.resolve_precision`
(on CPUs: bf16 where the kernel probe measured its autocast product faster than fp32); this
module turns the decision into a torch dtype and an autocast context.
"""

from __future__ import annotations

import contextlib

import torch

from sycl.kernels.decisions import resolve_precision
from sycl.kernels.options import Precision
from sycl.kernels.probe import KernelState

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_dtype(
    precision: Precision, device: torch.device | str, kernels: KernelState | None = None
) -> torch.dtype | None:
    """Autocast dtype for ``precision`` on ``device`` (``None`` means plain fp32); ``kernels``: the probe's state."""
    return _DTYPES[resolve_precision(precision, device, kernels)]


def autocast(precision: Precision, device: torch.device | str, kernels: KernelState | None = None):
    """An autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    device = torch.device(device)
    dtype = resolve_dtype(precision, device, kernels)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
