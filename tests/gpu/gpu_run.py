"""Helpers of the GPU check: the device it runs on and the ``sycl`` command as a subprocess.

``SYCL_GPU_TESTS_DEVICE`` is ``cuda`` (default) or ``cpu``; ``SYCL_GPU_TESTS_JOBS`` runs that many
commands at once (default 4 on CUDA, 1 on the CPU). Imported by tests/gpu; unique module name.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEVICE = os.environ.get("SYCL_GPU_TESTS_DEVICE", "cuda")
TIMINGS: list[tuple[str, float]] = []  # (what ran, wall seconds), printed at the end of the session


def jobs(device: str) -> int:
    return int(os.environ.get("SYCL_GPU_TESTS_JOBS", "4" if device == "cuda" else "1"))


@dataclass
class Ran:
    """A finished command: exit status, output tails and wall seconds."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> None:
        assert self.returncode == 0, f"{' '.join(self.args)} -> {self.returncode}\n{self.stdout}\n{self.stderr}"


def sycl(args: list, device: str, *, torchrun: bool = False, env: dict | None = None, timeout: float = 900) -> Ran:
    """Run ``python -m sycl.cli ARGS`` (under ``torchrun --standalone --nproc_per_node=1`` when asked)
    with this checkout's ``src`` first on the path; on timeout kill its whole process group."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"] if torchrun else []
    cmd = [sys.executable, *launcher, "-m", "sycl.cli", *map(str, args)]
    path = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    child = dict(os.environ, PYTHONPATH=path)
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        child.pop(k, None)
    if device == "cpu":
        child.update(CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS=child.get("OMP_NUM_THREADS", "1"))
    child.update(env or {})
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=child, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} timed out after {timeout} s:\n{err[-3000:]}")
    return Ran(cmd, proc.returncode, out[-3000:], err[-5000:], time.monotonic() - t0)
