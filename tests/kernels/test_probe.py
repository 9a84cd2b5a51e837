import json

import pytest
import torch
from probe_verdicts import make_verdict

from sycl.kernels import probe as kp
from sycl.kernels.decisions import resolve_precision
from sycl.kernels.probe import Verdict


@pytest.mark.parametrize(
    "small_ms, fp32_ms, want",
    [
        (0.0365, 2.3, True),  # AMX Xeon: tiny tile overhead-bound (0.12x extrapolated), real tile 4x fp32
        (1660.0 / 512, 2.3, False),  # EPYC Zen 4: 1.66 s per 64x4096 tile, a reference kernel
        (0.001, 2.3, True),
    ],
)
def test_int8_screen_only_keeps_a_reference_speed_kernel_off_the_full_shape(small_ms, fp32_ms, want):
    assert kp.worth_full_timing(small_ms / 1e3, 512.0, fp32_ms / 1e3) is want


def test_verdict_is_cached_per_cpu_and_torch_and_read_back(monkeypatch, tmp_path):
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path))
    calls = []
    measure = lambda: calls.append(1) or make_verdict(autocast_bf16=3.0, search_int8=0.001)
    first = kp.KernelState(measure=measure).verdict()
    path = kp.cache_path()
    assert path.parent == tmp_path / "kernel_probe" and torch.__version__ in path.name
    assert json.loads(path.read_text())["timings"]["search_int8"]["seconds"] == pytest.approx(1000.0)
    kernels = kp.KernelState(measure=measure)  # a new process: read from the file, not measured again
    second = kernels.verdict()
    assert len(calls) == 1 and second == first and second.speedup("autocast_bf16") == pytest.approx(3.0)
    assert kp.cache_path(cpu="Other CPU") != path  # another CPU model gets its own verdict
    kernels.verdict(remeasure=True)
    assert len(calls) == 2


def test_damaged_cache_file_is_measured_again(monkeypatch, tmp_path):
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path))
    kp.cache_path().parent.mkdir(parents=True)
    kp.cache_path().write_text("{not json")
    assert kp.KernelState(measure=lambda: make_verdict(autocast_bf16=0.5)).verdict().speedup("autocast_bf16") == 0.5
    assert json.loads(kp.cache_path().read_text())["cpu"] == "Test CPU"


def test_real_measurement_on_this_machine():
    """One real probe: every kernel measured, accurate, and the whole probe short."""
    v = kp.measure()
    assert v.cpu == kp.cpu_model() and v.torch == torch.__version__
    assert {"autocast_bf16", "decode_bf16", "search_bf16"} <= set(v.timings)
    for name in ("autocast_bf16", "decode_bf16", "search_bf16"):
        t = v.timings[name]
        assert t.seconds > 0 and t.fp32_seconds > 0 and t.accurate, (name, t)
    assert v.probe_cpu_seconds < 3.0  # well under a second idle; generous for a loaded CI machine
    assert resolve_precision("auto", "cpu", kp.KernelState(v)) in ("bf16", "fp32")
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    assert torch.get_num_threads() >= 1  # the probe's one thread is given back


def test_int8_probe_times_what_the_search_reads_and_checks_accuracy_separately():
    """The timed closure returns the float16 score bits the selection kernel takes, no float32 pass."""
    from sycl.kernels.search_int8 import int8_available

    if not int8_available():
        pytest.skip("this torch build has no oneDNN quantised linear")
    g = torch.Generator().manual_seed(0)
    q, d = torch.randn(8, 384, generator=g), torch.randn(128, 384, generator=g)
    timed, scores = kp._int8_scores(q, d)
    bits = timed()
    assert bits.dtype.name == "int16" and bits.shape == (8, 128)
    assert torch.nn.functional.cosine_similarity(scores(), q @ d.T, dim=1).min() > 0.999


def test_each_state_warns_once_per_key_and_the_process_shares_one():
    a, b = kp.KernelState(make_verdict()), kp.KernelState(make_verdict())
    assert a.first_warning("search int8") and not a.first_warning("search int8")
    assert a.first_warning("precision bf16") and b.first_warning("search int8")  # keys and states are separate
    assert kp.default_state() is kp.default_state()
