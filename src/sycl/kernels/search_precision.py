"""Which search path to take: ``auto`` follows this CPU's measured kernels, explicit requests are checked.

:func:`resolve_search_precision` turns ``auto`` into the fastest accurate path that the kernel probe
(:mod:`sycl.kernels.probe`) measured at least 1.5x faster than fp32 on a search tile, and
``fp32`` otherwise, so a quantised product that runs at a reference kernel's speed (oneDNN's int8
on an AMD EPYC without AMX: about 2,000x slower than fp32) is never chosen. An explicit ``bf16`` or
``int8`` that measured slower than fp32 gets a warning with the ratio and the estimated duration;
where that estimate passes :data:`MAX_SLOW_SECONDS` it is an error suggesting ``fp32``.
"""

from __future__ import annotations

import torch

from sycl.io.errors import DataError
from sycl.kernels.probe import KernelState, default_state
from sycl.log import get_logger

MAX_SLOW_SECONDS = 3600.0  # an explicit slow path estimated to take longer than this is refused
_log = get_logger(__name__)


class SlowKernelError(DataError):
    """An explicitly requested search precision that would take hours on this CPU (names the setting)."""

    def __init__(self, problem: str):
        super().__init__("search_precision", problem)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def resolve_search_precision(
    precision: str, n_queries: int, n_docs: int, dim: int, kernels: KernelState | None = None
) -> str:
    """``fp32``, ``bf16`` or ``int8`` for a search of ``n_queries x n_docs`` vectors of ``dim`` floats.

    ``auto``: the measured choice. ``bf16``/``int8``: returned as asked, with a warning when the
    kernel measured slower than fp32, or :class:`SlowKernelError` when the slow product alone is
    estimated to take over :data:`MAX_SLOW_SECONDS`. ``kernels``: the probe's state (default: the process's).
    """
    if precision == "fp32":
        return precision
    kernels = kernels or default_state()
    v = kernels.verdict()
    if precision == "auto":
        return v.search
    speedup = v.speedup(f"search_{precision}")
    if speedup is None or speedup >= 1.0:
        return precision
    threads = max(1, torch.get_num_threads())
    fp32_s = 2.0 * n_queries * n_docs * dim / (v.fp32_search_gflops * 1e9 * threads)
    slow_s = fp32_s / speedup
    ratio = f"measured {speedup:.3g}x the speed of fp32 on this CPU ({v.cpu}, torch {v.torch})"
    if slow_s > MAX_SLOW_SECONDS:
        raise SlowKernelError(
            f"search precision {precision} {ratio}: {n_queries:,} queries x {n_docs:,} documents "
            f"would take about {_duration(slow_s)} against {_duration(fp32_s)} in fp32; use "
            f"search precision auto ({v.search}) or fp32"
        )
    if kernels.first_warning(f"search {precision}"):
        _log.warning(
            "search precision %s %s: this search should take about %s against %s in fp32; "
            "search precision auto would use %s",
            precision,
            ratio,
            _duration(slow_s),
            _duration(fp32_s),
            v.search,
        )
    return precision
