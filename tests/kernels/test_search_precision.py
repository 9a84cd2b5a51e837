import logging

import numpy as np
import pytest
import torch
from probe_verdicts import make_verdict

from sycl.io.errors import DataError
from sycl.kernels import probe as kp
from sycl.kernels import search_precision as SP
from sycl.kernels.search_precision import SlowKernelError, resolve_search_precision
from sycl.retrieval.search import exact_search


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(SP, "_WARNED", set())
    yield
    kp.set_verdict(None)


def test_auto_never_takes_a_path_that_measured_slower():
    kp.set_verdict(make_verdict(search_bf16=3.6, search_int8=0.0005))  # the EPYC: int8 at reference speed
    assert resolve_search_precision("auto", 2000, 200_000, 384) == "bf16"
    kp.set_verdict(make_verdict(search_bf16=0.7, search_int8=0.0005))
    assert resolve_search_precision("auto", 2000, 200_000, 384) == "fp32"
    kp.set_verdict(make_verdict(search_bf16=0.7, search_int8=2.9))  # Xeon without AMX: VNNI int8
    assert resolve_search_precision("auto", 2000, 200_000, 384) == "int8"


def test_explicit_slow_path_is_kept_with_a_warning_naming_the_ratio(logged):
    kp.set_verdict(make_verdict(search_bf16=3.0, search_int8=0.5))
    assert resolve_search_precision("int8", 100, 10_000, 384) == "int8"
    msgs = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert len(msgs) == 1 and "0.5x" in msgs[0] and "Test CPU" in msgs[0] and "auto would use bf16" in msgs[0]


def test_explicit_path_that_would_take_hours_is_refused_with_a_suggestion(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    kp.set_verdict(make_verdict(search_int8=0.0005))
    # 2000 x 200000 x 384 at 50 GFLOP/s per thread: 3.1 s in fp32, ~1.7 h at 0.0005x
    with pytest.raises(SlowKernelError, match=r"0\.0005x.*1\.7 h.*use search precision auto \(fp32\) or fp32"):
        resolve_search_precision("int8", 2000, 200_000, 384)
    assert issubclass(SlowKernelError, DataError)  # the command line prints it without a traceback


def test_fast_or_unmeasured_explicit_path_passes_silently(logged):
    kp.set_verdict(make_verdict(search_int8=2.0))
    assert resolve_search_precision("int8", 2000, 200_000, 384) == "int8"
    assert resolve_search_precision("bf16", 2000, 200_000, 384) == "bf16"  # not measured: as asked
    assert resolve_search_precision("fp32", 2000, 200_000, 384) == "fp32"
    assert not [r for r in logged if r.levelno >= logging.WARNING]


def test_exact_search_auto_matches_fp32_on_its_chosen_path():
    rng = np.random.default_rng(0)
    d = rng.standard_normal((500, 32)).astype(np.float32)
    q = rng.standard_normal((7, 32)).astype(np.float32)
    kp.set_verdict(make_verdict(search_bf16=3.0, search_int8=0.0005))
    auto = exact_search(q, d, 5, precision="auto")
    exact = exact_search(q, d, 5, precision="fp32")
    assert (auto.rows == exact.rows).all() and np.allclose(auto.scores, exact.scores)
    with pytest.raises(ValueError, match="unknown search precision"):
        exact_search(q, d, 5, precision="int4")
