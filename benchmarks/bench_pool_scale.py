"""The real-data training pool at the paper's size (issue 14): time and memory.

Data: ``benchmarks/gen_msmarco_scale.py`` (MS MARCO-shaped corpus, queries, ``qrels/train.tsv``
positives and the grouped BM25 top-1000 ``train_qrels.jsonl``). The pool is the one of
``configs/paper/real-binary.yaml`` (positives ``min_score: 1`` -> 1, negatives
``group_random_k: 2`` -> 0), each phase in a fresh process with ``SYCL_CACHE`` under ``--cache``:

* ``corpus``: ``Corpus.open`` of ``corpus.jsonl`` (its Arrow cache; shared with evaluation);
* ``cold``: ``PassagePool.load`` converting the files (the pool cache is removed first);
* ``warm``: ``PassagePool.load`` mapping the converted pool;
* ``train``: warm load + ``BinarySet`` (group size 3) + the groups of two epochs, each drawn
  (``set_epoch``) and every query's group built, as a training epoch asks for them.

Memory is sampled every 50 ms from ``/proc/self/status``: peak anonymous (``RssAnon``: private,
not reclaimable) and peak total resident (``VmHWM``: includes file pages mapped from the page
cache, which the kernel can drop). Targets: cold peak RSS <= 4 GB, warm open <= 5 s, training
anonymous <= 1.5 GB.

    python benchmarks/bench_pool_scale.py --data /work/bigdata/msmarco --cache /work/bigdata/cache
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


def _status() -> dict[str, int]:
    out = {}
    for line in open("/proc/self/status"):
        if line.startswith(("RssAnon:", "RssFile:", "VmHWM:", "VmRSS:")):
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out


class Sampler:
    """Peak ``RssAnon`` of this process, sampled in a thread."""

    def __init__(self, every: float = 0.05):
        self.peak_anon, self._stop = 0, threading.Event()
        self._t = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._t.start()

    def _run(self, every):
        while not self._stop.is_set():
            self.peak_anon = max(self.peak_anon, _status()["RssAnon"])
            time.sleep(every)

    def stop(self) -> dict:
        self._stop.set()
        self._t.join()
        st = _status()
        self.peak_anon = max(self.peak_anon, st["RssAnon"])
        return {
            "peak_anon_gb": self.peak_anon / 1e9,
            "peak_rss_gb": st["VmHWM"] / 1e9,
            "end_anon_gb": st["RssAnon"] / 1e9,
            "end_file_gb": st["RssFile"] / 1e9,
        }


def specs(data: Path):
    from sycl.data import SourceConfig

    return [
        SourceConfig(name="msmarco", path=str(data), qrels="train", min_score=1, score_transform=1),
        SourceConfig(
            name="msmarco", path=str(data), qrels=str(data / "train_qrels.jsonl"), group_random_k=2, score_transform=0
        ),
    ]


def phase(name: str, data: Path) -> dict:
    import numpy as np

    base = _status()["RssAnon"]
    s = Sampler()
    t0 = time.perf_counter()
    out: dict = {}
    if name == "corpus":
        from sycl.io.corpus import Corpus

        out["passages"] = len(Corpus.open(data / "corpus.jsonl"))
    else:
        from sycl.data import BinarySet, PassagePool

        pool = PassagePool.load(specs(data))
        out["load_s"] = time.perf_counter() - t0
        out["queries"] = pool.n_queries
        out["judgements"] = int(sum(len(src.score) for src in pool.sources))
        if name == "train":
            t1 = time.perf_counter()
            ds = BinarySet(pool, group_size=3, positive_threshold=1.0)
            out["binary_set_s"] = time.perf_counter() - t1
            for epoch in (1, 2):
                t1 = time.perf_counter()
                ds.set_epoch(epoch)
                out[f"epoch{epoch}_draw_s"] = time.perf_counter() - t1
                t1 = time.perf_counter()
                n = sum(len(ds.group(i)[1]) for i in range(len(ds)))
                out[f"epoch{epoch}_groups_s"] = time.perf_counter() - t1
                assert n == 3 * len(ds)
            out["items"] = len(ds)
            out["batch_texts"] = len(ds.batch(np.arange(16)).passages)
    out["seconds"] = time.perf_counter() - t0
    out.update(s.stop())
    out["imports_anon_gb"] = base / 1e9
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--phase", choices=["corpus", "cold", "warm", "train"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ["SYCL_CACHE"] = str(args.cache)
    if args.phase:
        print(json.dumps(phase(args.phase, args.data)))
        return
    shutil.rmtree(args.cache / "pool", ignore_errors=True)
    results = {
        "data": str(args.data),
        "files_gb": {p.name: round(p.stat().st_size / 1e9, 2) for p in args.data.rglob("*") if p.is_file()},
    }
    for name in ("corpus", "cold", "warm", "train"):
        r = subprocess.run(
            [sys.executable, __file__, "--data", str(args.data), "--cache", str(args.cache), "--phase", name],
            capture_output=True,
            text=True,
            env=os.environ,
        )
        if r.returncode:
            sys.exit(r.stderr)
        results[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results[name]), flush=True)
    pool_dir = args.cache / "pool"
    results["pool_cache_gb"] = round(sum(p.stat().st_size for p in pool_dir.rglob("*") if p.is_file()) / 1e9, 2)
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
