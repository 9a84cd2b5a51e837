"""Which CPU kernels are fast on this machine: measured once per CPU model and torch version.

A list of CPU flags does not say which kernels are fast: bf16 autocast was 0.72x fp32 on a Xeon
whose hypervisor hid AMX, but 3x fp32 on an AMD EPYC (Zen 4) with AVX512-BF16 and no AMX, where
oneDNN's quantised product (``int8`` search) ran at a reference kernel's speed, thousands of
times slower than fp32. So each candidate kernel is timed against fp32 on a representative
shape, on one thread (thread CPU time, so other processes on the cores do not count), and its
output compared with fp32's on the same inputs:

=================  ===========================================  ===================================
kernel             work                                         used by
=================  ===========================================  ===================================
``autocast_bf16``  ``linear [512, 384] x [384, 1536]`` autocast  encoding and training, ``auto``
``autocast_fp16``  the same under fp16 autocast                 explicit ``fp16`` requests
``decode_bf16``    ``linear [16, 1024] x [1024, 4096]`` weights  embedded generator, ``dtype: auto``
                   stored in bf16 (memory-bound decoding)
``search_bf16``    ``[256, 384] x [384, 2048]`` scores as float  search ``bf16``
``search_int8``    oneDNN ``qlinear_pointwise`` (uint8 x int8,  search ``int8``
                   float16 out) on ``[8, 384] x [384, 128]``,
                   on ``[256, 384] x [384, 2048]`` unless that
                   screen is over 50x slower than fp32
``dropout_fast``   :mod:`sycl.kernels.fast_dropout` against    ``train.fast_dropout: auto``
                   torch's dropout on ``[4, 12, 256, 320]``
``encode_*``       a BERT layer at MiniLM's widths on 8         ``encode_backend: auto``
                   texts of 64 tokens: ``encode_torch_bf16``
                   under bf16 autocast, ``encode_openvino``
                   exported to OpenVINO at its default
                   precision, ``encode_openvino_fp32`` at f32
                   (OpenVINO installed only), each against
                   torch fp32
=================  ===========================================  ===================================

Every kernel's ``speedup`` is fp32 time over its time for the same multiply-adds (above 1:
faster); a kernel is accurate when its row cosine to fp32 is at least :data:`MIN_COSINE`. What
``auto`` takes from these figures is decided in :mod:`sycl.kernels.decisions`. The whole probe
takes about 0.4 s of CPU on a 2-core EPYC, plus about 2 s to export and compile the stand-in
encoder when OpenVINO is installed; a kernel that is slow is timed once, not repeated.

The verdict is written to ``<cache root>/kernel_probe/<cpu>-torch<version>[-openvino<version>].json`` and read
back by later processes (:class:`KernelState` holds it in memory; :func:`default_state` is the
process's); ``sycl info`` shows it and ``sycl info --remeasure`` measures again.
"""

from __future__ import annotations

import json
import platform
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

PROBE_VERSION = (
    4  # 2: int8 screened against a catastrophic ratio only (v1 screened out AMX's fast int8); 3: dropout; 4: encoder
)
# int8 is first timed on a tiny tile, where oneDNN's per-call overhead (~30 us) dominates: on an AMX
# Xeon that tile extrapolates to 0.12x fp32 while the real 256x2048 tile runs at 4x. The screen only
# has to keep a reference-speed kernel (AMD Zen 4: ~0.0005x, seconds per tile) off the full shape.
INT8_SCREEN_RATIO = 50.0
_ENCODER_BUDGET = 0.12  # CPU seconds per timed encoder path (a pass of the stand-in: 5-40 ms)


def worth_full_timing(t_small: float, scale: float, t32: float) -> bool:
    """Whether the int8 screen (``t_small`` s on a tile ``scale`` times smaller) deserves the full-shape timing."""
    return t_small * scale < INT8_SCREEN_RATIO * t32


MIN_COSINE = 0.999  # smallest row cosine to fp32's output for a kernel to count as accurate


@dataclass(frozen=True)
class KernelTiming:
    """One candidate against fp32: ``seconds`` and ``fp32_seconds`` for the same multiply-adds.

    (``dropout_fast``: ``fp32_seconds`` is torch's own dropout on the same tensor.)
    """

    seconds: float
    fp32_seconds: float
    cosine: float  # smallest row cosine between the candidate's and fp32's output (dropout: 1 - |mean kept - 1|)
    shape: str  # the product timed, e.g. "512x384x1536"

    @property
    def speedup(self) -> float:
        """fp32 time / candidate time (above 1: the candidate is faster)."""
        return self.fp32_seconds / self.seconds if self.seconds > 0 else float("inf")

    @property
    def accurate(self) -> bool:
        return self.cosine >= MIN_COSINE


@dataclass
class Verdict:
    """Measured kernels of one CPU model + torch version (the paths ``auto`` takes: :mod:`sycl.kernels.decisions`)."""

    cpu: str
    torch: str
    measured_at: str
    probe_seconds: float  # wall time of the whole probe
    probe_cpu_seconds: float  # its thread CPU time (the wall time less other processes' turns on a shared machine)
    fp32_search_gflops: float  # one thread, scores of the search shape (to estimate a search's duration)
    timings: dict[str, KernelTiming] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # kernel -> why it was not measured

    def speedup(self, kernel: str) -> float | None:
        t = self.timings.get(kernel)
        return t.speedup if t is not None else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["probe_version"] = PROBE_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Verdict:
        timings = {k: KernelTiming(**v) for k, v in d.get("timings", {}).items()}
        return cls(
            cpu=d["cpu"],
            torch=d["torch"],
            measured_at=d["measured_at"],
            probe_seconds=d["probe_seconds"],
            probe_cpu_seconds=d["probe_cpu_seconds"],
            fp32_search_gflops=d["fp32_search_gflops"],
            timings=timings,
            unavailable=dict(d.get("unavailable", {})),
        )


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cache_path(cpu: str | None = None, torch_version: str | None = None) -> Path:
    """Where the verdict for ``cpu`` and ``torch_version`` (default: this machine's) is cached."""
    from sycl.io.corpus import cache_root
    from sycl.kernels.openvino_encoder import version as openvino_version

    slug = re.sub(r"[^A-Za-z0-9.]+", "-", cpu or cpu_model()).strip("-")
    ov = openvino_version()
    ov = f"-openvino{ov}" if ov else ""
    return cache_root() / "kernel_probe" / f"{slug}-torch{torch_version or torch.__version__}{ov}-v{PROBE_VERSION}.json"


def _best(fn: Callable[[], object], reps: int = 3, budget: float = 0.03, clock=time.thread_time) -> float:
    """Best CPU time of ``fn`` over up to ``reps`` timed runs after a warm-up, stopping once ``budget`` s are spent.

    The probe runs on one thread, inline in the caller's, so the caller's thread CPU time is the
    kernel's time even while other processes share the cores (wall time would count their turns).
    A kernel whose warm-up alone takes over ``budget`` is slow: its warm-up is the measurement.
    ``clock``: ``time.process_time`` for a library that may compute on threads of its own (OpenVINO).
    """
    t0 = clock()
    fn()
    first = clock() - t0
    if first > budget:
        return first
    best, spent = first, first
    for _ in range(reps):
        t = clock()
        fn()
        dt = clock() - t
        best, spent = min(best, dt), spent + dt
        if spent > budget:
            break
    return best


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.float(), b.float(), dim=1).min())


def _probe_linear(x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype, stored: bool) -> tuple[float, torch.Tensor]:
    """Seconds and output of ``x @ w.T`` in ``dtype``: autocast over fp32 weights, or weights ``stored`` in it."""
    if stored:
        xs, ws = x.to(dtype), w.to(dtype)
        return _best(lambda: F.linear(xs, ws)), F.linear(xs, ws)

    def run():
        with torch.autocast("cpu", dtype=dtype):
            return F.linear(x, w)

    return _best(run), run()


def _int8_scores(q: torch.Tensor, d: torch.Tensor) -> tuple[Callable[[], object], Callable[[], torch.Tensor]]:
    """``(timed, scores)`` for ``q @ d.T`` with oneDNN's quantised linear, as :mod:`sycl.kernels.search_int8` does.

    ``timed`` is what the search runs per tile (float16 scores read back as int16 bits for the
    selection kernel); ``scores`` undoes the per-query scaling, for the accuracy check only.
    """
    from sycl.kernels.search_int8 import X_SCALE, X_ZERO_POINT, quantize_queries

    qx, _ = quantize_queries(q)
    amax = q.abs().amax(1, keepdim=True)
    d_scale = d.abs().amax(1).clamp(min=1e-12) / 127.0
    codes = torch.round(d / d_scale[:, None]).to(torch.int8)
    packed = torch.ops.onednn.qlinear_prepack(codes, [q.shape[0], q.shape[1]])
    w_zero = torch.zeros(d.shape[0], dtype=torch.int64)
    bias = torch.zeros(d.shape[0], dtype=torch.float32)
    w_scale = d_scale.float()

    def product() -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(
            qx, X_SCALE, X_ZERO_POINT, packed, w_scale, w_zero, bias, 1.0, 0, torch.float16, "none", [], ""
        )

    return (lambda: product().view(torch.int16).numpy()), (lambda: product().float() * amax)


def _probe_dropout() -> KernelTiming:
    """torch's dropout against :func:`sycl.kernels.fast_dropout.fast_dropout` on an attention-sized tensor.

    The accuracy figure is ``1 - |mean of the output of ones - 1|`` (the expectation the scaling keeps;
    4M elements put its noise at 0.00017). The caller's random stream is left as it was.
    """
    from sycl.kernels.fast_dropout import fast_dropout

    x = torch.ones(4, 12, 256, 320)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        t_torch = _best(lambda: F.dropout(x, 0.1, True))
        t_fast = _best(lambda: fast_dropout(x, 0.1, True))
        err = abs(float(fast_dropout(x, 0.1, True).mean()) - 1.0)
    return KernelTiming(t_fast, t_torch, 1.0 - err, "x".join(map(str, x.shape)))


class _StandInEncoder(torch.nn.Module):
    """One post-norm transformer layer at MiniLM's widths (384 wide, 12 heads, 1536 feed-forward), random weights.

    The operations of a BERT layer (embedding, masked attention, GELU feed-forward, layer norms) without
    importing transformers: ``forward(input_ids, attention_mask) -> [B, T, 384]``.
    """

    def __init__(self, vocab: int = 1000, width: int = 384, heads: int = 12, ff: int = 1536):
        super().__init__()
        self.heads = heads
        self.embed = torch.nn.Embedding(vocab, width)
        self.qkv, self.out = torch.nn.Linear(width, 3 * width), torch.nn.Linear(width, width)
        self.ff1, self.ff2 = torch.nn.Linear(width, ff), torch.nn.Linear(ff, width)
        self.norm1, self.norm2 = torch.nn.LayerNorm(width), torch.nn.LayerNorm(width)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        keep = attention_mask[:, None, None, :].bool()
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(b, t, d)
        x = self.norm1(x + self.out(a))
        return self.norm2(x + self.ff2(F.gelu(self.ff1(x))))


def _probe_encoder(timings: dict[str, KernelTiming], unavailable: dict[str, str]) -> None:
    """Time a stand-in encoder layer (:class:`_StandInEncoder`) in torch fp32, bf16 autocast and on OpenVINO.

    Each ``encode_*`` timing is against torch fp32 on the same batch (8 texts of 40-64 tokens), in
    process CPU time (OpenVINO may compute on threads of its own); accuracy is the smallest cosine
    between a token's embedding and torch fp32's.
    """
    from sycl.kernels import openvino_encoder

    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = _StandInEncoder().eval()
    ids = torch.randint(0, 1000, (8, 64), generator=g)
    mask = torch.ones_like(ids)
    mask[4:, 40:] = 0
    feats = {"input_ids": ids, "attention_mask": mask}
    shape = "8x64 tokens"
    real = mask.reshape(-1).bool()

    def cos(hidden: torch.Tensor) -> float:
        return _cosine(hidden.reshape(-1, 384)[real], ref.reshape(-1, 384)[real])

    @torch.no_grad()
    def timed(fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
        out = fn()  # the first call also sets up the shapes (OpenVINO: its kernels for them); not timed
        return _best(fn, budget=_ENCODER_BUDGET, clock=time.process_time), out

    def run_torch():
        return model(**feats)

    def run_bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return run_torch()

    t32, ref = timed(run_torch)
    t, out = timed(run_bf16)
    timings["encode_torch_bf16"] = KernelTiming(t, t32, cos(out), shape)
    if not openvino_encoder.available():
        unavailable["encode_openvino"] = "openvino is not installed (pip install 'sycl-ir[openvino]')"
        return
    exported = openvino_encoder.export(model, feats)
    for name, precision in (("encode_openvino", "default"), ("encode_openvino_fp32", "fp32")):
        encoder = openvino_encoder.CompiledEncoder(exported, precision, threads=1)
        t, out = timed(lambda: encoder(feats))  # noqa: B023 - called here, in this iteration
        timings[name] = KernelTiming(t, t32, cos(out), shape)


def measure() -> Verdict:
    """Time every candidate kernel against fp32 on one thread (well under a second) and return the verdict."""
    from sycl.kernels.search_int8 import int8_available

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t_start, cpu_start = time.perf_counter(), time.thread_time()
    timings: dict[str, KernelTiming] = {}
    unavailable: dict[str, str] = {}
    g = torch.Generator().manual_seed(0)
    try:
        with torch.inference_mode():
            # encoding/training: a transformer's feed-forward product under autocast
            x, w = torch.randn(512, 384, generator=g), torch.randn(1536, 384, generator=g)
            t32, ref = _probe_linear(x, w, torch.float32, stored=True)
            for name, dtype in (("autocast_bf16", torch.bfloat16), ("autocast_fp16", torch.float16)):
                t, out = _probe_linear(x, w, dtype, stored=False)
                timings[name] = KernelTiming(t, t32, _cosine(out, ref), "512x384x1536")
            # decoding: few rows against a large weight matrix, weights loaded in the dtype
            x, w = torch.randn(16, 1024, generator=g), torch.randn(4096, 1024, generator=g)
            t32, ref = _probe_linear(x, w, torch.float32, stored=True)
            t, out = _probe_linear(x, w, torch.bfloat16, stored=True)
            timings["decode_bf16"] = KernelTiming(t, t32, _cosine(out, ref), "16x1024x4096")
            # search: a block of queries against a tile of documents, the scores read back as each path's
            # selection kernel takes them (fp32 and bf16: float32; int8: float16 bits)
            q, d = torch.randn(256, 384, generator=g), torch.randn(2048, 384, generator=g)
            dt = d.T.contiguous()
            t32 = _best(lambda: (q @ dt).numpy())
            ref = q @ dt
            qb, db = q.bfloat16(), dt.bfloat16()
            t = _best(lambda: (qb @ db).float().numpy())
            timings["search_bf16"] = KernelTiming(t, t32, _cosine((qb @ db).float(), ref), "256x384x2048")
            fp32_gflops = 2 * 256 * 384 * 2048 / t32 / 1e9
            if int8_available():
                q_s, d_s = q[:8], d[:128]
                run, scores = _int8_scores(q_s, d_s)
                t = _best(run)
                scale = (256 * 2048) / (8 * 128)
                if worth_full_timing(t, scale, t32):  # not a reference-speed kernel: time the real shape
                    (run, scores), q_s, d_s, scale = _int8_scores(q, d), q, d, 1.0
                    t = _best(run)
                cos = _cosine(scores(), q_s @ d_s.T)
                timings["search_int8"] = KernelTiming(
                    t * scale, t32, cos, "x".join(map(str, (len(q_s), 384, len(d_s))))
                )
            else:
                unavailable["search_int8"] = "this torch build has no oneDNN quantised linear"
            timings["dropout_fast"] = _probe_dropout()
            _probe_encoder(timings, unavailable)
    finally:
        torch.set_num_threads(threads)
    return Verdict(
        cpu=cpu_model(),
        torch=torch.__version__,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        probe_seconds=round(time.perf_counter() - t_start, 3),
        probe_cpu_seconds=round(time.thread_time() - cpu_start, 3),
        fp32_search_gflops=fp32_gflops,
        timings=timings,
        unavailable=unavailable,
    )


class KernelState:
    """One process's knowledge of its CPU's kernels: the verdict, and the warnings already given.

    The verdict comes from memory, else from the cache file, else from ``measure`` (then cached).
    A test builds its own state with a ready verdict (``KernelState(make_verdict(...))``) and
    passes it to the decision it checks; everything else uses :func:`default_state`.
    """

    def __init__(self, verdict: Verdict | None = None, measure: Callable[[], Verdict] | None = None):
        self._verdict = verdict
        self._measure = measure
        self._warned: set[str] = set()

    def verdict(self, remeasure: bool = False) -> Verdict:
        """This machine's verdict: from memory, else from the cache file, else measured and cached."""
        if self._verdict is not None and not remeasure:
            return self._verdict
        path = cache_path()
        v = None
        if path.is_file() and not remeasure:
            try:
                v = Verdict.from_dict(json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError):
                v = None  # a damaged or older cache file: measure again
        if v is None:
            from sycl.io.atomic import atomic_write_json
            from sycl.log import get_logger

            v = (self._measure or measure)()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_json(path, v.to_dict())
            except OSError as err:  # a read-only cache still gets the verdict for this process
                get_logger(__name__).warning("could not cache the kernel verdict in %s: %s", path, err)
            get_logger(__name__).info("measured this CPU's kernels in %.2f s: %s", v.probe_seconds, speedups(v))
        self._verdict = v
        return v

    def first_warning(self, key: str) -> bool:
        """True the first time ``key`` (e.g. ``"search int8"``) is asked about: its warning is due."""
        if key in self._warned:
            return False
        self._warned.add(key)
        return True


_DEFAULT_STATE = KernelState()


def default_state() -> KernelState:
    """The state this process shares: one verdict, each warning once."""
    return _DEFAULT_STATE


def speedups(v: Verdict) -> str:
    """One line: each measured kernel's speed against fp32 (``autocast_bf16 2.08x, ...``)."""
    return ", ".join(f"{k} {t.speedup:.3g}x" for k, t in v.timings.items()) + " the speed of fp32"
