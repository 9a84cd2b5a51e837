"""``sycl evaluate`` on SciFact test (the embedded MiniLM, max length 256, exact search) on the device.

nDCG@10 must be within 0.002 of the CPU's fp32 value, in fp32 and in bf16 autocast (the GPU default,
``--precision auto``; CUDA only). Skips when ../shared/datasets/scifact is absent.
"""

from __future__ import annotations

import json

import pytest
from gpu_run import REPO, TIMINGS, sycl

pytestmark = pytest.mark.gpu

SCIFACT = REPO / ".." / "shared" / "datasets" / "scifact"
# `sycl evaluate --dataset ../shared/datasets/scifact --max-length 256 --precision fp32 --search-precision fp32`
# with the embedded model on the CPU (2-core Xeon, torch 2.13.0 CPU, batch 16), measured 2026-12-04 for this
# check: 0.6450817; benchmarks/RESULTS.md records 0.6451 for sycl fp32 too (MTEB's figure for the model: 64.51)
CPU_FP32_NDCG10 = 0.64508


@pytest.mark.skipif(not SCIFACT.is_dir(), reason="../shared/datasets/scifact is absent")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_scifact_ndcg_matches_the_cpu_fp32_value(precision, device, tmp_path):
    if precision == "bf16" and device != "cuda":
        pytest.skip("bf16 autocast is the GPU's default; on this CPU it is neither the default nor fast")
    ran = sycl(
        [
            "-q",
            "evaluate",
            "--dataset",
            SCIFACT.resolve(),
            "--out",
            tmp_path,
            "--max-length",
            "256",
            "--precision",
            precision,
            "--search-precision",
            "fp32",
        ],
        device,
        timeout=3600,
    )
    TIMINGS.append((f"evaluate scifact ({precision})", ran.seconds))
    ran.check()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    (result,) = metrics["results"]
    assert result["n_queries"] == 300
    ndcg = result["measures"]["nDCG@10"]
    assert abs(ndcg - CPU_FP32_NDCG10) <= 0.002, (precision, ndcg)
    # the CPU's kernel verdict is recorded only for an evaluation on the CPU: None means it ran on the GPU
    assert (metrics["kernels"] is None) == (device == "cuda")
