"""Memory and time to the first training sample at the paper's scale (issue 4).

Generates (once) a BEIR set shaped like the released synthetic data: ``--queries`` queries
(default 500k) x 4 passages at levels 3/2/1/0 (2M passages), ``qrels/train.tsv``. Then, each in
a fresh process with warm caches (a first sycl run converts the corpus to its Arrow cache):

* ``sycl``: ``PassagePool.load`` + ``MultiLevelSet`` (group size 4, random selection) and the
  texts of the first batch of 16 groups; the first (cold) run parses the files and writes the
  pool cache (``sycl.data.pool_cache``), the measured warm run maps it;
* ``naive``: what a straightforward loader does: corpus, queries and qrels into Python dicts,
  then the same first batch.

Reports extra resident memory over the process's state after imports (current RSS and peak
``VmHWM``) and seconds to the first batch. Targets: sycl <= 0.35 GB extra, <= 3 s.

    .venv/bin/python benchmarks/bench_data_memory.py [--queries 500000] [--workdir /tmp/sycl-bench-data]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORDS = (
    "protein cell river energy market signal model data light water system theory growth city "
    "network health policy carbon memory music language ocean school law fire metal"
).split()


def generate(root: Path, n_queries: int) -> None:
    if (root / "qrels" / "train.tsv").exists():
        return
    import numpy as np

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    t0 = time.time()
    with (
        open(root / "corpus.jsonl", "w") as c,
        open(root / "queries.jsonl", "w") as q,
        open(root / "qrels" / "train.tsv", "w") as r,
    ):
        r.write("query-id\tcorpus-id\tscore\n")
        for i in range(n_queries):
            w = rng.integers(0, len(WORDS), size=40)
            q.write(json.dumps({"_id": str(1000000 + i), "text": " ".join(WORDS[j] for j in w[:8]) + f" {i}?"}) + "\n")
            for lev in (3, 2, 1, 0):
                did = f"syn{i}-{lev}"
                text = " ".join(WORDS[j] for j in np.roll(w, lev)) + f" passage {i} level {lev}."
                c.write(json.dumps({"_id": did, "title": "", "text": text}) + "\n")
                r.write(f"{1000000 + i}\t{did}\t{lev}\n")
    print(f"generated {n_queries} queries x 4 passages in {time.time() - t0:.0f} s", file=sys.stderr)


def rss() -> tuple[float, float]:
    """(current, peak) resident memory of this process in GB."""
    vals = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":")
            vals[k] = int(v.split()[0]) / 1024**2
    return vals["VmRSS"], vals["VmHWM"]


def child(mode: str, root: Path) -> dict:
    if mode == "sycl":
        import pyarrow  # noqa: F401 - counted as import, not data

        from sycl.data import MultiLevelSet, PassagePool, SourceConfig
    else:
        import numpy  # noqa: F401
    base, _ = rss()
    t0 = time.perf_counter()
    if mode == "sycl":
        pool = PassagePool.load([SourceConfig(path=str(root), qrels="train")], seed=0)
        ds = MultiLevelSet(pool, group_size=4, strategy="random", seed=0)
        batch = ds.batch(range(16))
        n = len(ds)
        first = batch.passages[0]
    else:
        import random

        corpus = {}
        with open(root / "corpus.jsonl") as fh:
            for line in fh:
                d = json.loads(line)
                corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
        queries = {}
        with open(root / "queries.jsonl") as fh:
            for line in fh:
                d = json.loads(line)
                queries[d["_id"]] = d["text"]
        qrels: dict[str, dict[str, int]] = {}
        with open(root / "qrels" / "train.tsv") as fh:
            next(fh)
            for line in fh:
                a, b, s = line.rstrip("\n").split("\t")
                qrels.setdefault(a, {})[b] = int(s)
        qids = list(qrels)
        rnd = random.Random(0)
        batch = [(queries[q], [corpus[d] for d in rnd.sample(list(qrels[q]), 4)]) for q in qids[:16]]
        n = len(qids)
        first = batch[0][1][0]
    seconds = time.perf_counter() - t0
    cur, peak = rss()
    return {
        "mode": mode,
        "queries": n,
        "seconds_to_first_batch": round(seconds, 2),
        "extra_rss_gb": round(cur - base, 3),
        "extra_peak_gb": round(peak - base, 3),
        "sample": first[:40],
    }


def run_child(mode: str, root: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--workdir", str(root.parent)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500_000)
    ap.add_argument("--workdir", default="/tmp/sycl-bench-data")
    ap.add_argument("--child", choices=["sycl", "naive"])
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    root = Path(args.workdir) / "set"
    if args.child:
        print(json.dumps(child(args.child, root)))
        return
    generate(root, args.queries)
    env = dict(os.environ, SYCL_CACHE=str(Path(args.workdir) / "cache"), SYCL_QUIET="1")
    t0 = time.time()
    cold = run_child("sycl", root, env)  # converts the corpus once (cold cache)
    print(f"cold sycl run (corpus conversion included): {time.time() - t0:.1f} s", file=sys.stderr)
    results = [run_child("sycl", root, env)]
    if not args.skip_naive:
        results.append(run_child("naive", root, env))
    print(json.dumps({"cold_sycl": cold, "results": results}, indent=2))


if __name__ == "__main__":
    main()
