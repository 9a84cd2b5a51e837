"""Gradient caching vs the plain large batch: peak memory and seconds per optimiser step.

Same model (the embedded all-MiniLM-L6-v2), same data (Cranfield's judged queries with 4
passages each, most relevant first, cycled when fewer; max length 64 for queries and 128 for
passages, as in ``benchmarks/listwise_recipes.py``), same loss (the default recipe with in-batch
negatives), fp32, AdamW. Each setting trains ``--steps`` optimiser steps in its own process, so
its peak RSS (``ru_maxrss``) is its own; the first step is excluded from the time. Settings:

* ``plain-64``: 64 queries (64 + 256 texts) in one graph, as the trainer does without caching;
* ``gc-64-c16`` / ``gc-64-c8``: the same 64-query batch with ``train.grad_cache`` 16 / 8 texts;
* ``plain-16``: the local default batch of 16 queries, for reference.

Gradients of ``gc-*`` equal ``plain-64``'s (tests/training/test_grad_cache.py); this measures
the cost. ``--batch`` changes the large batch (e.g. 256).

    python benchmarks/bench_grad_cache.py [--steps 4] [--batch 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "cranfield"
RECIPE = {"name": "wasserstein1d", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"}


def child(batch: int, grad_cache: int | None, steps: int, threads: int) -> dict:
    import torch

    from sycl.data.collator import batch_order
    from sycl.training import Trainer
    from sycl.training.config import ExperimentConfig

    torch.set_num_threads(threads)
    cfg = ExperimentConfig.model_validate(
        {
            "model": {"model": "embedded:all-MiniLM-L6-v2", "max_query_length": 64, "max_passage_length": 128},
            "data": {
                "sources": [{"path": str(DATA), "qrels": "test"}],
                "group_size": 4,
                "passage_selection_strategy": "most_relevant",
            },
            "loss": RECIPE,
            "train": {
                "batch_size": batch,
                "grad_cache": grad_cache,
                "precision": "fp32",
                "lr": 2e-5,
                "save_every": 0,
                "seed": 1,
            },
            "guard": {"every": 0},
            "out": tempfile.mkdtemp(),
        }
    )
    trainer = Trainer(cfg)
    trainer.prepare()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    batches = batch_order(len(trainer.dataset), batch, 1, 0)
    times = []
    for s in range(steps):
        t0 = time.perf_counter()
        trainer.backward_batch(batches[s % len(batches)])
        trainer.engine.step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "batch": batch,
        "grad_cache": grad_cache,
        "peak_rss_gb": round(peak, 3),
        "rss_after_setup_gb": round(base, 3),
        "training_gb": round(peak - base, 3),
        "s_per_step": round(statistics.median(times[1:] or times), 2),
        "steps": steps,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", nargs=2, metavar=("BATCH", "GRAD_CACHE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        gc = int(args.child[1]) or None
        print(json.dumps(child(int(args.child[0]), gc, args.steps, args.threads)))
        return 0
    if not DATA.exists():
        print(f"skipped: {DATA} not found", file=sys.stderr)
        return 0
    # the plain large batch last: it needs the most memory
    settings = {
        f"gc-{args.batch}-c16": (args.batch, 16),
        f"gc-{args.batch}-c8": (args.batch, 8),
        "plain-16": (16, 0),
        f"plain-{args.batch}": (args.batch, 0),
    }
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    out = {}
    for name, (batch, gc) in settings.items():
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(batch),
                str(gc),
                "--steps",
                str(args.steps),
                "--threads",
                str(args.threads),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            print(name, "failed:", done.stderr[-3000:], file=sys.stderr)
            out[name] = {"failed": done.returncode}
            continue
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, out[name], flush=True)
    plain = out[f"plain-{args.batch}"]
    for name, r in out.items():
        if "failed" in r or "failed" in plain:
            continue
        r["training_memory_vs_plain"] = round(r["training_gb"] / max(plain["training_gb"], 1e-9), 3)
        r["time_vs_plain"] = round(r["s_per_step"] / plain["s_per_step"], 3)
    print(json.dumps({"cpu": _cpu(), "load_average": os.getloadavg(), "results": out}, indent=1))
    return 0


def _cpu() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
