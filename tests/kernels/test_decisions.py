import logging

import pytest
import torch
from probe_verdicts import make_verdict

from sycl.io.errors import DataError
from sycl.kernels.decisions import (
    SlowKernelError,
    auto_paths,
    chosen,
    kernels_entry,
    resolve_fast_dropout,
    resolve_generator_dtype,
    resolve_precision,
    resolve_search_precision,
    summary,
)
from sycl.kernels.probe import KernelState, KernelTiming


def state(**speedups) -> KernelState:
    return KernelState(make_verdict(**speedups))


@pytest.mark.parametrize("bf16, want", [(4.5, "bf16"), (1.05, "fp32"), (0.72, "fp32")])
def test_autocast_bf16_only_when_measured_faster_by_the_margin(bf16, want):
    assert resolve_precision("auto", "cpu", state(autocast_bf16=bf16)) == want


def test_inaccurate_kernel_is_never_chosen_however_fast():
    v = make_verdict(autocast_bf16=5.0, search_int8=5.0)
    v.timings["autocast_bf16"] = KernelTiming(0.2, 1.0, cosine=0.98, shape="test")
    v.timings["search_int8"] = KernelTiming(0.2, 1.0, cosine=0.9, shape="test")
    paths = auto_paths(KernelState(v))
    assert paths["precision"] == "fp32" and paths["search"] == "fp32"


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
    assert resolve_search_precision("auto", 10, 100, 8, state(search_bf16=bf16, search_int8=int8)) == want


def test_chosen_names_the_kernel_each_auto_setting_uses():
    kernels = state(autocast_bf16=4.5, autocast_fp16=2.0, decode_bf16=3.0, search_bf16=4.4, search_int8=9.0)
    assert chosen(kernels) == {"autocast_bf16", "decode_bf16", "search_int8"}  # fp16: on request; bf16 search slower
    assert chosen(state(autocast_bf16=0.7, search_bf16=3.6, search_int8=0.0005, dropout_fast=2.1)) == {
        "search_bf16",
        "dropout_fast",
    }


def test_missing_kernel_counts_as_not_fast():
    paths = auto_paths(state(autocast_bf16=3.0))
    assert paths == {
        "precision": "bf16",
        "generator_dtype": "float32",
        "search": "fp32",
        "dropout": "torch",
        "encoder": "torch",
    }


def test_summary_line_names_cpu_choices_and_ratios():
    s = summary(state(autocast_bf16=4.5, decode_bf16=2.0, search_bf16=3.0, search_int8=0.0005))
    assert s["cpu"] == "Test CPU" and s["auto_precision"] == "bf16" and s["auto_search"] == "bf16"
    assert s["auto_decode"] == "bfloat16" and s["auto_dropout"] == "torch"
    assert "Test CPU" in s["line"] and "4.5x" in s["line"] and "0.0005x" in s["line"]
    assert kernels_entry("meta", state()) is None and kernels_entry("cpu", state())["cpu"] == "Test CPU"


def test_precision_on_gpus_and_other_devices_reads_no_verdict():
    never = KernelState(measure=lambda: pytest.fail("the verdict was read"))
    assert resolve_precision("auto", "meta", never) == "fp32" and resolve_precision("bf16", "meta", never) == "bf16"
    assert resolve_generator_dtype("auto", "cuda", never) == "bfloat16"
    assert resolve_generator_dtype("float32", "cpu", never) == "float32"
    assert not resolve_fast_dropout("auto", "cuda", never)


@pytest.mark.parametrize("decode, want", [(2.8, "bfloat16"), (0.9, "float32")])
def test_generator_dtype_auto_follows_the_measured_decoding_product(decode, want):
    assert resolve_generator_dtype("auto", "cpu", state(decode_bf16=decode)) == want


def test_explicit_slow_generator_dtype_is_kept_with_one_warning(logged):
    kernels = state(decode_bf16=0.5)
    assert resolve_generator_dtype("bfloat16", "cpu", kernels) == "bfloat16"
    assert resolve_generator_dtype("bfloat16", "cpu", kernels) == "bfloat16"
    msgs = [r.getMessage() for r in logged if r.levelno == logging.WARNING]
    assert len(msgs) == 1 and "0.50x" in msgs[0] and "dtype auto would use float32" in msgs[0]


def test_fast_dropout_auto_follows_the_measurement_and_stays_off_on_gpus():
    fast, slow = state(dropout_fast=2.5), state(dropout_fast=0.8)  # slow: a CPU where torch's own draw is faster
    assert resolve_fast_dropout("auto", "cpu", fast) and not resolve_fast_dropout("auto", "cuda", fast)
    assert not resolve_fast_dropout("auto", "cpu", slow)
    assert resolve_fast_dropout("on", "cpu", slow) and not resolve_fast_dropout("off", "cpu", fast)


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


@pytest.fixture
def openvino_installed(monkeypatch):
    """Whether the openvino package is importable, as the decisions see it (set per test)."""
    from sycl.kernels import openvino_encoder

    def set_installed(installed: bool) -> None:
        monkeypatch.setattr(openvino_encoder, "available", lambda: installed)

    return set_installed


@pytest.mark.parametrize(
    "openvino, torch_bf16, want",
    [(2.0, 1.5, "openvino"), (1.6, 1.5, "torch"), (1.2, 1.5, "torch")],  # 1.33x, 1.07x, 0.8x torch's bf16 path
)
def test_encoder_auto_takes_openvino_only_when_measured_faster_than_torch(
    openvino_installed, openvino, torch_bf16, want
):
    from sycl.kernels.decisions import resolve_encode_backend

    openvino_installed(True)
    kernels = state(autocast_bf16=3.0, encode_torch_bf16=torch_bf16, encode_openvino=openvino)
    assert resolve_encode_backend("auto", "auto", "cpu", kernels) == want
    assert auto_paths(kernels)["encoder"] == want
    assert ("encode_openvino" in chosen(kernels)) == (want == "openvino")


def test_encoder_auto_compares_fp32_requests_with_openvino_at_f32(openvino_installed):
    from sycl.kernels.decisions import openvino_speedup, resolve_encode_backend

    openvino_installed(True)
    # OpenVINO's default (bf16) is fast, but at f32 it is slower than torch fp32: an fp32 request stays on torch
    kernels = state(autocast_bf16=3.0, encode_torch_bf16=1.5, encode_openvino=2.5, encode_openvino_fp32=0.9)
    assert resolve_encode_backend("auto", "fp32", "cpu", kernels) == "torch"
    assert openvino_speedup("fp32", kernels) == (pytest.approx(0.9), "fp32")
    assert resolve_encode_backend("auto", "auto", "cpu", kernels) == "openvino"


def test_encoder_auto_never_takes_an_inaccurate_openvino(openvino_installed):
    from sycl.kernels.decisions import resolve_encode_backend

    openvino_installed(True)
    v = make_verdict(autocast_bf16=3.0, encode_torch_bf16=1.5)
    v.timings["encode_openvino"] = KernelTiming(0.1, 1.0, cosine=0.99, shape="test")  # 10x, but inaccurate
    assert resolve_encode_backend("auto", "auto", "cpu", KernelState(v)) == "torch"


def test_encoder_without_openvino(openvino_installed):
    from sycl.kernels.decisions import resolve_encode_backend
    from sycl.kernels.openvino_encoder import OpenVinoUnavailable

    openvino_installed(False)
    kernels = state(autocast_bf16=3.0, encode_torch_bf16=1.5, encode_openvino=3.0)
    assert resolve_encode_backend("auto", "auto", "cpu", kernels) == "torch"
    with pytest.raises(OpenVinoUnavailable, match="pip install 'sycl-ir\\[openvino\\]'"):
        resolve_encode_backend("openvino", "auto", "cpu", kernels)


def test_explicit_openvino_measured_slower_is_honoured_with_a_warning(openvino_installed, logged):
    from sycl.kernels.decisions import resolve_encode_backend

    openvino_installed(True)
    kernels = state(autocast_bf16=3.0, encode_torch_bf16=2.0, encode_openvino=1.0)
    assert resolve_encode_backend("openvino", "auto", "cpu", kernels) == "openvino"
    assert resolve_encode_backend("openvino", "auto", "cuda", kernels) == "torch"
    warned = [r.getMessage() for r in logged if r.levelname == "WARNING"]
    assert any("0.50x the speed of torch bf16" in m for m in warned), warned
