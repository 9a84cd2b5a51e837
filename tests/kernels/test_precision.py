import pytest
import torch
from probe_verdicts import make_verdict

from sycl.kernels.precision import autocast, resolve_dtype
from sycl.kernels.probe import KernelState


@pytest.mark.parametrize("bf16_speedup, want", [(4.5, torch.bfloat16), (0.72, None)])
def test_auto_follows_the_measured_speed_not_cpu_flags(bf16_speedup, want):
    # EPYC Zen 4 (AVX512-BF16, no AMX): bf16 4.5x fp32 -> bf16; Xeon with AMX hidden: 0.72x -> fp32
    kernels = KernelState(make_verdict(autocast_bf16=bf16_speedup))
    assert resolve_dtype("auto", "cpu", kernels) == want
    assert resolve_dtype("fp32", "cpu", kernels) is None
    with autocast("auto", "cpu", kernels):
        assert torch.is_autocast_enabled("cpu") is (want is not None)


def test_explicit_slow_precision_is_honoured_with_a_warning_naming_the_ratio(logged):
    kernels = KernelState(make_verdict(autocast_bf16=0.72, autocast_fp16=0.2))
    assert resolve_dtype("bf16", "cpu", kernels) == torch.bfloat16
    assert resolve_dtype("bf16", "cpu", kernels) == torch.bfloat16  # warned once per process (its state)
    msgs = [r.getMessage() for r in logged if "requested" in r.getMessage()]
    assert len(msgs) == 1 and "0.72x" in msgs[0] and "Test CPU" in msgs[0]


def test_explicit_fast_precision_gives_no_warning(logged):
    assert resolve_dtype("bf16", "cpu", KernelState(make_verdict(autocast_bf16=3.0))) == torch.bfloat16
    assert not [r for r in logged if "requested" in r.getMessage()]


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_dtype("int4", "cpu", KernelState(make_verdict()))
