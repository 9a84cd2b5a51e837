import json

import pytest
import torch
from probe_verdicts import make_verdict

from sycl.kernels import probe as kp
from sycl.kernels.probe import KernelTiming, Verdict


@pytest.mark.parametrize("bf16, want", [(4.5, "bf16"), (1.05, "fp32"), (0.72, "fp32")])
def test_autocast_bf16_only_when_measured_faster_by_the_margin(bf16, want):
    assert make_verdict(autocast_bf16=bf16).autocast == want


def test_inaccurate_kernel_is_never_chosen_however_fast():
    v = make_verdict(autocast_bf16=5.0, search_int8=5.0)
    v.timings["autocast_bf16"] = KernelTiming(0.2, 1.0, cosine=0.98, shape="test")
    v.timings["search_int8"] = KernelTiming(0.2, 1.0, cosine=0.9, shape="test")
    assert v.autocast == "fp32" and v.search == "fp32"


@pytest.mark.parametrize(
    "bf16, int8, want",
    [
        (0.7, 3.0, "int8"),  # Xeon without AMX: int8 VNNI fast, bf16 slow
        (3.6, 0.0005, "bf16"),  # EPYC Zen 4: bf16 fast, oneDNN int8 at reference speed
        (1.3, 0.0005, "fp32"),  # below the search margin: fp32 (candidates cost a rescoring)
        (4.0, 6.0, "int8"),  # both fast: the faster
    ],
)
def test_search_path_is_the_fastest_that_clearly_beats_fp32(bf16, int8, want):
    assert make_verdict(search_bf16=bf16, search_int8=int8).search == want


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


def test_chosen_names_the_kernel_each_auto_setting_uses():
    v = make_verdict(autocast_bf16=4.5, autocast_fp16=2.0, decode_bf16=3.0, search_bf16=4.4, search_int8=9.0)
    assert v.chosen == {"autocast_bf16", "decode_bf16", "search_int8"}  # fp16: only on request; bf16 search slower
    v = make_verdict(autocast_bf16=0.7, search_bf16=3.6, search_int8=0.0005, dropout_fast=2.1)
    assert v.chosen == {"search_bf16", "dropout_fast"}


def test_missing_kernel_counts_as_not_fast():
    v = make_verdict(autocast_bf16=3.0)
    assert v.speedup("search_int8") is None and v.search == "fp32" and v.decode == "float32"


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
    assert len(calls) == 1 and second == first and second.autocast == "bf16"
    assert kp.cache_path(cpu="Other CPU") != path  # another CPU model gets its own verdict
    kernels.verdict(remeasure=True)
    assert len(calls) == 2


def test_damaged_cache_file_is_measured_again(monkeypatch, tmp_path):
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path))
    kp.cache_path().parent.mkdir(parents=True)
    kp.cache_path().write_text("{not json")
    assert kp.KernelState(measure=lambda: make_verdict(autocast_bf16=0.5)).verdict().autocast == "fp32"
    assert json.loads(kp.cache_path().read_text())["cpu"] == "Test CPU"


def test_summary_line_names_cpu_choices_and_ratios():
    s = make_verdict(autocast_bf16=4.5, decode_bf16=2.0, search_bf16=3.0, search_int8=0.0005).summary()
    assert s["cpu"] == "Test CPU" and s["auto_precision"] == "bf16" and s["auto_search"] == "bf16"
    assert "Test CPU" in s["line"] and "4.5x" in s["line"] and "0.0005x" in s["line"]
    assert kp.kernels_entry("meta") is None


def test_real_measurement_on_this_machine():
    """One real probe: every kernel measured, accurate, and the whole probe short."""
    v = kp.measure()
    assert v.cpu == kp.cpu_model() and v.torch == torch.__version__
    assert {"autocast_bf16", "decode_bf16", "search_bf16"} <= set(v.timings)
    for name in ("autocast_bf16", "decode_bf16", "search_bf16"):
        t = v.timings[name]
        assert t.seconds > 0 and t.fp32_seconds > 0 and t.accurate, (name, t)
    assert v.probe_cpu_seconds < 3.0  # well under a second idle; generous for a loaded CI machine
    assert v.autocast in ("bf16", "fp32") and v.search in ("fp32", "bf16", "int8")
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
