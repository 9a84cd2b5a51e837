"""Kernel-probe verdicts with injected timings, for the tests of every decision ``auto`` makes."""

from __future__ import annotations

import torch

from sycl.kernels.probe import KernelTiming, Verdict


def make_verdict(cpu: str = "Test CPU", **speedups: float) -> Verdict:
    """A verdict where each kernel ``name=speedup`` ran that much faster than fp32 (1 s), all accurate."""
    timings = {k: KernelTiming(1.0 / s, 1.0, cosine=0.99999, shape="test") for k, s in speedups.items()}
    return Verdict(
        cpu=cpu,
        torch=torch.__version__,
        measured_at="2026-12-02T00:00:00+00:00",
        probe_seconds=0.1,
        probe_cpu_seconds=0.1,
        fp32_search_gflops=50.0,
        timings=timings,
    )
