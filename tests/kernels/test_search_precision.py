import logging

import numpy as np
import pytest
import torch
from probe_verdicts import make_verdict

from sycl.io.errors import DataError
from sycl.kernels.probe import KernelState
from sycl.kernels.search_precision import SlowKernelError, resolve_search_precision
from sycl.retrieval.search import exact_search


def test_auto_never_takes_a_path_that_measured_slower():
    def auto(**speedups):
        return resolve_search_precision("auto", 2000, 200_000, 384, KernelState(make_verdict(**speedups)))

    assert auto(search_bf16=3.6, search_int8=0.0005) == "bf16"  # the EPYC: int8 at reference speed
    assert auto(search_bf16=0.7, search_int8=0.0005) == "fp32"
    assert auto(search_bf16=0.7, search_int8=2.9) == "int8"  # Xeon without AMX: VNNI int8


def test_explicit_slow_path_is_kept_with_a_warning_naming_the_ratio(logged):
    kernels = KernelState(make_verdict(search_bf16=3.0, search_int8=0.5))
    assert resolve_search_precision("int8", 100, 10_000, 384, kernels) == "int8"
    assert resolve_search_precision("int8", 100, 10_000, 384, kernels) == "int8"  # warned once per state
    msgs = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert len(msgs) == 1 and "0.5x" in msgs[0] and "Test CPU" in msgs[0] and "auto would use bf16" in msgs[0]


def test_explicit_path_that_would_take_hours_is_refused_with_a_suggestion(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    kernels = KernelState(make_verdict(search_int8=0.0005))
    # 2000 x 200000 x 384 at 50 GFLOP/s per thread: 3.1 s in fp32, ~1.7 h at 0.0005x
    with pytest.raises(SlowKernelError, match=r"0\.0005x.*1\.7 h.*use search precision auto \(fp32\) or fp32"):
        resolve_search_precision("int8", 2000, 200_000, 384, kernels)
    assert issubclass(SlowKernelError, DataError)  # the command line prints it without a traceback


def test_fast_or_unmeasured_explicit_path_passes_silently(logged):
    kernels = KernelState(make_verdict(search_int8=2.0))
    assert resolve_search_precision("int8", 2000, 200_000, 384, kernels) == "int8"
    assert resolve_search_precision("bf16", 2000, 200_000, 384, kernels) == "bf16"  # not measured: as asked
    assert resolve_search_precision("fp32", 2000, 200_000, 384, kernels) == "fp32"
    assert not [r for r in logged if r.levelno >= logging.WARNING]


def test_exact_search_auto_matches_fp32_on_its_chosen_path():
    rng = np.random.default_rng(0)
    d = rng.standard_normal((500, 32)).astype(np.float32)
    q = rng.standard_normal((7, 32)).astype(np.float32)
    kernels = KernelState(make_verdict(search_bf16=3.0, search_int8=0.0005))
    auto = exact_search(q, d, 5, precision="auto", kernels=kernels)
    exact = exact_search(q, d, 5, precision="fp32")
    assert (auto.rows == exact.rows).all() and np.allclose(auto.scores, exact.scores)
    with pytest.raises(ValueError, match="unknown search precision"):
        exact_search(q, d, 5, precision="int4")
