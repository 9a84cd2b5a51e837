import pytest
import torch

from sycl.modeling.precision import cpu_has_fast_bf16, resolve_dtype


@pytest.mark.parametrize("amx, avx512_bf16, want", [(True, True, torch.bfloat16), (False, True, None), (False, False, None)])
def test_auto_uses_bf16_on_cpu_only_with_amx(monkeypatch, amx, avx512_bf16, want):
    # without AMX, bf16 matmuls measured slower than fp32 (0.14 vs 0.22-0.27 TFLOP/s): auto stays fp32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert cpu_has_fast_bf16() is amx
    assert resolve_dtype("auto", "cpu") == want
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16 and resolve_dtype("fp32", "cpu") is None


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_dtype("int4", "cpu")
