"""The four paper runs (``configs/paper/*.yaml``) for 20 steps on the device, in four forms.

Each shipped config runs unchanged but for the model (the embedded MiniLM stands in for
Contriever), a small batch, short texts and 20 steps, on the released files' layout: the fake
Hugging Face cache of ``tests/paper_hub.py`` with ``HF_HUB_OFFLINE=1``, so the configs' own
``hf://`` paths resolve. Forms: ``sycl train`` in one process without DeepSpeed;
``torchrun --nproc_per_node=1`` without DeepSpeed (the launcher's variables; one process forms no
group); the config's DeepSpeed ZeRO-3 file (``configs/paper/zero3.json``) under ``torchrun`` (a process
group of one: NCCL on CUDA, gloo on the CPU) in fp32 (the paper's precision) and with
``--set train.precision=bf16``. Every run must finish with 20 finite losses and write a model that
sentence-transformers loads and that encodes to finite vectors, with weights in the expected dtype.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from gpu_run import REPO, TIMINGS, jobs, sycl
from paper_hub import TRAIN, build_paper_hub

pytestmark = pytest.mark.gpu

RUNS = ["real-binary", "synthetic-binary", "synthetic-multilevel", "synthetic-plus-real"]
STEPS = 20
# form -> (under torchrun, extra flags, dtype of the saved weights)
FORMS = {
    "plain": (False, ["--set", "train.deepspeed=null"], "float32"),
    "torchrun": (True, ["--set", "train.deepspeed=null"], "float32"),
    "zero3-fp32": (True, [], "float32"),
    "zero3-bf16": (True, ["--set", "train.precision=bf16"], "bfloat16"),  # DeepSpeed keeps the module in bf16
}


def _train(run: str, form: str, out, device: str, hf_cache) -> dict:
    torchrun, extra, _ = FORMS[form]
    # 8 training queries, 2 per micro-batch, accumulation 2: 2 optimiser steps per epoch
    args = [
        "-q",
        "train",
        "--config",
        REPO / "configs" / "paper" / f"{run}.yaml",
        "--out",
        out,
        "--model",
        "embedded:all-MiniLM-L6-v2",
        "--set",
        f"train.max_steps={STEPS}",
        "--epochs",
        str(STEPS // 2),
        "--batch-size",
        "2",
        "--set",
        "train.gradient_accumulation=2",
        "--set",
        "train.log_every=1",
        "--set",
        "model.max_query_length=32",
        "--set",
        "model.max_passage_length=64",
        *extra,
    ]
    if form.startswith("zero3"):
        pytest.importorskip("deepspeed")
    ran = sycl(args, device, torchrun=torchrun, env={"HF_HUB_CACHE": str(hf_cache), "HF_HUB_OFFLINE": "1"})
    TIMINGS.append((f"train {run} ({form})", ran.seconds))
    return {"ran": ran, "out": out}


@pytest.fixture(scope="module")
def runs(request, device, tmp_path_factory):
    """Train every (run, form) this session selected, ``jobs(device)`` at a time."""
    hub = build_paper_hub(tmp_path_factory.mktemp("hf-cache"))
    root = tmp_path_factory.mktemp("runs")
    wanted = [
        (item.callspec.params["run"], item.callspec.params["form"])
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    ]
    if any(f.startswith("zero3") for _, f in wanted):
        pytest.importorskip("deepspeed")
    with ThreadPoolExecutor(jobs(device)) as pool:
        futures = {(r, f): pool.submit(_train, r, f, root / f"{r}-{f}", device, hub.cache) for r, f in wanted}
    return {key: fut.result() for key, fut in futures.items()}


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("run", RUNS)
def test_paper_run_trains_20_steps_and_saves_a_loadable_model(run, form, runs, device):
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer

    result = runs[(run, form)]
    result["ran"].check()
    out = result["out"]
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))
    assert all(math.isfinite(r["loss"]) for r in log), [r["loss"] for r in log]
    info = json.loads((out / "training.json").read_text())
    assert info["steps"] == STEPS and info["n_queries"] == len(TRAIN) and info["world_size"] == 1
    assert info["precision"] == ("bfloat16" if form == "zero3-bf16" else "fp32")
    assert (info["config"]["train"]["deepspeed"] is not None) == form.startswith("zero3")
    # the CPU's kernel verdict is recorded only for runs on the CPU: None means the run was on the GPU
    assert (info["kernels"] is None) == (device == "cuda")
    weights = load_file(str(out / "model.safetensors"))
    assert {str(w.dtype).replace("torch.", "") for w in weights.values()} == {FORMS[form][2]}
    model = SentenceTransformer(str(out), device=device)
    vec = model.encode(["how do solar panels work"], convert_to_tensor=True)
    assert vec.shape == (1, 384) and bool(torch.isfinite(vec).all())
