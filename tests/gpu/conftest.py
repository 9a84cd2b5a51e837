"""The GPU check (``make test-gpu``): every test here is marked ``gpu`` and skips without CUDA.

``make test``'s default selection (``-m 'not slow and not gpu'``) leaves them out; ``make test-gpu``
selects them with ``-m gpu``. ``SYCL_GPU_TESTS_DEVICE=cpu`` runs the same commands on the CPU
instead (``torchrun`` then uses gloo and the children see no CUDA device) and skips only the
CUDA-only checks, so the harness can be checked on a machine without a GPU; it is slow there
(minutes per training run on two busy cores) and not part of ``make test``.
"""

from __future__ import annotations

import pytest
from gpu_run import DEVICE, TIMINGS


@pytest.fixture(scope="session")
def device() -> str:
    """``cuda`` (the default; skips without CUDA) or ``cpu`` (``SYCL_GPU_TESTS_DEVICE=cpu``)."""
    if DEVICE not in ("cuda", "cpu"):
        pytest.fail(f"SYCL_GPU_TESTS_DEVICE must be cuda or cpu, not {DEVICE!r}")
    if DEVICE == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no CUDA device (SYCL_GPU_TESTS_DEVICE=cpu runs these checks on the CPU)")
    return DEVICE


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", f"gpu check: wall seconds per command ({DEVICE})")
        for what, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:8.1f}  {what}")
