"""Every ``auto`` decision about the machine's kernels, one function each, read from the probe's verdict.

=======================  ==============================  ===============================================
setting                  decided by                      ``auto`` on a CPU
=======================  ==============================  ===============================================
``precision``            :func:`resolve_precision`       ``bf16`` autocast where it measured >= 1.1x fp32
(encoding, training)                                     (CUDA: bf16 where supported, else fp16)
generator ``dtype``      :func:`resolve_generator_dtype` ``bfloat16`` weights where bf16 decoding measured
                                                         >= 1.1x fp32 (CUDA: bfloat16)
``search_precision``     :func:`resolve_search_precision` the faster of ``bf16`` and ``int8`` among those
                                                         that measured >= 1.5x fp32 on a search tile, else
                                                         ``fp32`` (candidates cost a rescoring)
``train.fast_dropout``   :func:`resolve_fast_dropout`    on where :mod:`sycl.kernels.fast_dropout` drew
                                                         masks >= 1.1x as fast as torch (GPUs: off)
``encode_backend``       :func:`resolve_encode_backend`  ``openvino`` where it is installed and its stand-in
(evaluation, mining)                                     encoder measured >= 1.1x as fast as torch's path
                                                         for the precision (bf16 autocast or fp32), else
                                                         ``torch`` (GPUs: torch)
=======================  ==============================  ===============================================

A kernel is used by ``auto`` only when it is also accurate (row cosine to fp32 >= ``MIN_COSINE``
of :mod:`sycl.kernels.probe`): a list of CPU flags does not say which kernels are fast (bf16
autocast ran at 0.72x fp32 on a Xeon whose hypervisor hid AMX, at 3-4.5x on an AMD EPYC with
AVX512-BF16 and no AMX, where oneDNN's int8 product ran about 2,000x slower than fp32).

An explicit request is honoured. One that measured slower than fp32 gets a warning naming the
ratio (once per :class:`~sycl.kernels.probe.KernelState`); an explicit search path whose slow
product alone is estimated to take over :data:`MAX_SLOW_SECONDS` is refused with
:class:`SlowKernelError`, suggesting ``fp32``. Every function takes an optional ``kernels`` state
(default: the process's, :func:`~sycl.kernels.probe.default_state`).
"""

from __future__ import annotations

from typing import get_args

import torch

from sycl.io.errors import DataError
from sycl.kernels.options import EncodeBackend
from sycl.kernels.probe import KernelState, Verdict, default_state
from sycl.log import get_logger

MIN_SPEEDUP = 1.1  # autocast/decode/dropout candidates must beat fp32 (torch's dropout) by this factor
MIN_SEARCH_SPEEDUP = 1.5  # search candidates: their tile product must beat fp32's by this factor
MAX_SLOW_SECONDS = 3600.0  # an explicit slow search path estimated to take longer than this is refused
_log = get_logger(__name__)


class SlowKernelError(DataError):
    """An explicitly requested search precision that would take hours on this CPU (names the setting)."""

    def __init__(self, problem: str):
        super().__init__("search_precision", problem)


def is_fast(v: Verdict, kernel: str) -> bool:
    """True when ``kernel`` was measured accurate and faster than fp32 by the margin ``auto`` asks for."""
    t = v.timings.get(kernel)
    margin = MIN_SEARCH_SPEEDUP if kernel.startswith("search_") else MIN_SPEEDUP
    return t is not None and t.accurate and t.speedup >= margin


def _warn_if_slow(kernels: KernelState, kernel: str, setting: str, value: str, auto: str) -> None:
    """Warn once per state when ``kernel``, asked for explicitly as ``setting: value``, measured slower than fp32."""
    v = kernels.verdict()
    speedup = v.speedup(kernel)
    if speedup is not None and speedup < 1.0 and kernels.first_warning(f"{setting} {value}"):
        _log.warning(
            "%s %s was requested, but on this CPU (%s) its kernel (%s) measured %.2fx the speed of fp32 "
            "(%.1f%% slower); %s auto would use %s",
            setting,
            value,
            v.cpu,
            kernel,
            speedup,
            100 * (1 - speedup),
            setting,
            auto,
        )


def resolve_precision(precision: str, device: torch.device | str, kernels: KernelState | None = None) -> str:
    """``fp32``, ``bf16`` or ``fp16``: the autocast of encoding and training for ``precision`` on ``device``."""
    device = torch.device(device)
    kernels = kernels or default_state()
    if precision == "fp32":
        return precision
    if precision in ("bf16", "fp16"):
        if device.type == "cpu":
            auto = resolve_precision("auto", device, kernels)
            _warn_if_slow(kernels, f"autocast_{precision}", "precision", precision, auto)
        return precision
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}; use auto, fp32, bf16 or fp16")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return "bf16" if is_fast(kernels.verdict(), "autocast_bf16") else "fp32"
    return "fp32"


def resolve_generator_dtype(dtype: str, device: str, kernels: KernelState | None = None) -> str:
    """``float32`` or ``bfloat16``: the weights of a local generator for ``dtype`` (``auto`` or either) on ``device``."""
    if dtype == "float32":
        return dtype
    if device.startswith("cuda"):
        return "bfloat16"
    kernels = kernels or default_state()
    auto = "bfloat16" if is_fast(kernels.verdict(), "decode_bf16") else "float32"
    if dtype == "bfloat16":
        _warn_if_slow(kernels, "decode_bf16", "dtype", dtype, auto)
        return dtype
    return auto


def resolve_fast_dropout(setting: str, device: torch.device | str, kernels: KernelState | None = None) -> bool:
    """``train.fast_dropout`` resolved: ``on``/``off`` as said; ``auto`` on a CPU that measured it faster."""
    if setting != "auto":
        return setting == "on"
    if torch.device(device).type != "cpu":
        return False
    return is_fast((kernels or default_state()).verdict(), "dropout_fast")


def openvino_speedup(precision: str, kernels: KernelState | None = None) -> tuple[float | None, str]:
    """``(speed of OpenVINO / speed of torch, torch's path)`` on this CPU's encoder stand-in for ``precision``.

    OpenVINO runs f32 for ``fp32`` and its default precision otherwise; torch runs ``precision``
    resolved (``fp32``: 1.0, ``bf16``: the probe's bf16 autocast). ``None`` when either was not
    measured, OpenVINO measured inaccurate, or torch's path is fp16 autocast (OpenVINO has no match).
    """
    kernels = kernels or default_state()
    v = kernels.verdict()
    torch_path = resolve_precision(precision, "cpu", kernels)
    ov = v.timings.get("encode_openvino_fp32" if precision == "fp32" else "encode_openvino")
    torch_speedup = {"fp32": 1.0, "bf16": v.speedup("encode_torch_bf16")}.get(torch_path)
    if ov is None or not ov.accurate or not torch_speedup:
        return None, torch_path
    return ov.speedup / torch_speedup, torch_path


def require_encode_backend(backend: str) -> None:
    """Raise :class:`~sycl.kernels.openvino_encoder.OpenVinoUnavailable` (a user error) for ``openvino``
    without the package: checked when the settings are read, before any work."""
    from sycl.kernels.openvino_encoder import OpenVinoUnavailable, available

    if backend not in get_args(EncodeBackend):
        raise ValueError(f"unknown encode_backend {backend!r}; use {', '.join(get_args(EncodeBackend))}")
    if backend == "openvino" and not available():
        raise OpenVinoUnavailable()


def resolve_encode_backend(
    backend: str, precision: str, device: torch.device | str, kernels: KernelState | None = None
) -> str:
    """``torch`` or ``openvino``: what encodes texts for retrieval for ``encode_backend`` and ``precision``.

    ``auto``: OpenVINO on a CPU where it is installed and measured :data:`MIN_SPEEDUP` times as fast
    as torch's path (:func:`openvino_speedup`). ``openvino``: as asked on a CPU (a warning once when it
    measured slower than torch; not installed: a user error); on other devices torch, with a warning.
    """
    from sycl.kernels.openvino_encoder import available

    require_encode_backend(backend)
    if backend == "torch":
        return backend
    kernels = kernels or default_state()
    if torch.device(device).type != "cpu":
        if backend == "openvino" and kernels.first_warning("encode_backend openvino off the CPU"):
            _log.warning(
                "encode_backend openvino runs on the CPU only; the model is on %s: encoding with torch", device
            )
        return "torch"
    if not available():
        return "torch"
    ratio, torch_path = openvino_speedup(precision, kernels)
    if backend == "openvino":
        if ratio is not None and ratio < 1.0 and kernels.first_warning("encode_backend openvino"):
            _log.warning(
                "encode_backend openvino was requested, but on this CPU (%s) it measured %.2fx the speed of "
                "torch %s; encode_backend auto would use torch",
                kernels.verdict().cpu,
                ratio,
                torch_path,
            )
        return backend
    return "openvino" if ratio is not None and ratio >= MIN_SPEEDUP else "torch"


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
    estimated to take over :data:`MAX_SLOW_SECONDS`.
    """
    if precision == "fp32":
        return precision
    kernels = kernels or default_state()
    v = kernels.verdict()
    fast = [(v.speedup(f"search_{p}"), p) for p in ("bf16", "int8") if is_fast(v, f"search_{p}")]
    auto = max(fast)[1] if fast else "fp32"
    if precision == "auto":
        return auto
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
            f"search precision auto ({auto}) or fp32"
        )
    if kernels.first_warning(f"search precision {precision}"):
        _log.warning(
            "search precision %s %s: this search should take about %s against %s in fp32; "
            "search precision auto would use %s",
            precision,
            ratio,
            _duration(slow_s),
            _duration(fp32_s),
            auto,
        )
    return precision


def auto_paths(kernels: KernelState | None = None) -> dict[str, str]:
    """What each ``auto`` takes on this CPU: ``precision``, ``generator_dtype``, ``search``, ``dropout``, ``encoder``."""
    kernels = kernels or default_state()
    return {
        "precision": resolve_precision("auto", "cpu", kernels),
        "generator_dtype": resolve_generator_dtype("auto", "cpu", kernels),
        "search": resolve_search_precision("auto", 0, 0, 0, kernels),
        "dropout": "fast" if resolve_fast_dropout("auto", "cpu", kernels) else "torch",
        "encoder": resolve_encode_backend("auto", "auto", "cpu", kernels),
    }


def chosen(kernels: KernelState | None = None) -> set[str]:
    """The kernels the ``auto`` settings use on this CPU (fp32 paths and torch's dropout are not kernels here)."""
    kernels = kernels or default_state()
    paths, measured = auto_paths(kernels), kernels.verdict().timings
    used = {
        "autocast_bf16": paths["precision"] == "bf16",
        "decode_bf16": paths["generator_dtype"] == "bfloat16",
        "search_bf16": paths["search"] == "bf16",
        "search_int8": paths["search"] == "int8",
        "dropout_fast": paths["dropout"] == "fast",
        "encode_openvino": paths["encoder"] == "openvino",
        "encode_torch_bf16": paths["encoder"] == "torch" and paths["precision"] == "bf16",
    }
    return {k for k, on in used.items() if on and k in measured}


def describe(kernels: KernelState | None = None) -> str:
    """One line: the paths ``auto`` takes and the speedups behind them."""
    kernels = kernels or default_state()
    v, paths = kernels.verdict(), auto_paths(kernels)

    def sp(k):
        s = v.speedup(k)
        return "n/a" if s is None else f"{s:.3g}x"

    return (
        f"{v.cpu}, torch {v.torch}: precision auto -> {paths['precision']} (bf16 autocast {sp('autocast_bf16')} "
        f"fp32), generator auto -> {paths['generator_dtype']} (bf16 {sp('decode_bf16')}), search auto -> "
        f"{paths['search']} (bf16 {sp('search_bf16')}, int8 {sp('search_int8')}), dropout auto -> "
        f"{paths['dropout']} ({sp('dropout_fast')} torch's), encoder auto -> {paths['encoder']} "
        f"({encoder_reason(kernels)})"
    )


def encoder_reason(kernels: KernelState | None = None, precision: str = "auto") -> str:
    """Why ``encode_backend auto`` takes its path for ``precision``: the measured ratio, or what is missing."""
    from sycl.kernels.openvino_encoder import available

    kernels = kernels or default_state()
    if not available():
        return "openvino is not installed"
    ratio, torch_path = openvino_speedup(precision, kernels)
    if ratio is None:
        why = kernels.verdict().unavailable.get("encode_openvino")
        return why or f"OpenVINO not measured accurate against torch {torch_path}"
    return f"OpenVINO {ratio:.3g}x the speed of torch {torch_path}, {MIN_SPEEDUP}x needed"


def summary(kernels: KernelState | None = None) -> dict:
    """A small dict for ``metrics.json``/``training.json``: a readable line, the chosen paths, speedups."""
    kernels = kernels or default_state()
    v, paths = kernels.verdict(), auto_paths(kernels)
    return {
        "line": describe(kernels),
        "cpu": v.cpu,
        "torch": v.torch,
        "auto_precision": paths["precision"],
        "auto_decode": paths["generator_dtype"],
        "auto_search": paths["search"],
        "auto_dropout": paths["dropout"],
        "auto_encoder": paths["encoder"],
        "measured_at": v.measured_at,
        "speedup_vs_fp32": {k: round(t.speedup, 4) for k, t in v.timings.items()},
    }


def kernels_entry(device: torch.device | str, kernels: KernelState | None = None) -> dict | None:
    """The :func:`summary` for a report written by a run on ``device`` (``None`` off the CPU)."""
    return summary(kernels) if torch.device(device).type == "cpu" else None
