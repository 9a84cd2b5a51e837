"""Out-of-core exact search at MS MARCO size (issue 14): 6,980 queries x 8.8M x 768 on disk.

Data (generated once under ``--workdir``, outside the repository): ``docs.npy``, ``--docs``
clustered unit vectors (as :mod:`benchmarks.bench_search` draws them) stored at ``--storage``
precision (fp16: 13.6 GB for 8.8M x 768; fp32: 27 GB), written block by block; ``queries.npy``
(float32, drawn near random documents). Phases, each in a fresh process, in this order:

* ``sycl``: :func:`sycl.retrieval.search.exact_search` over the memory-mapped file (top ``--k``);
* ``faiss``: ``faiss.IndexFlatIP`` (the peer) on the first ``--faiss-docs`` vectors, the largest
  subset that fits in memory here (read into RAM as float32), ``add`` + ``search``;
* ``check``: both on the first ``--check-docs`` vectors; the top-``k`` rows are compared, and a
  query whose rows differ counts as a tie when the differing documents' scores are equal
  (within float32 rounding of the two summation orders, 2e-6).

Memory is sampled every 50 ms from ``/proc/self/status``: peak anonymous RSS (``RssAnon``) and the
peak resident total (``VmHWM``, which includes the page cache pages of the mapped file).
Throughput is passages per second (documents scored against all queries / seconds).

    python benchmarks/bench_search_scale.py --workdir /work/bigdata/search --precision auto \\
        --faiss-docs 2000000 --openblas-coretype SkylakeX
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pool_scale import Sampler  # noqa: E402  (same folder)


def generate(work: Path, n: int, dim: int, n_q: int, storage: str, clusters: int = 1000, seed: int = 0) -> None:
    if (work / "queries.npy").exists():
        return
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    dtype = np.float16 if storage == "fp16" else np.float32
    tmp = work / ".docs.npy"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, dim))
    pick = np.sort(rng.choice(n, size=n_q, replace=False))
    picked = np.empty((n_q, dim), dtype=np.float32)
    t0 = time.time()
    for s in range(0, n, 131072):
        e = min(n, s + 131072)
        block = centres[rng.integers(0, clusters, e - s)] + 0.8 * rng.standard_normal((e - s, dim), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[s:e] = block
        sel = (pick >= s) & (pick < e)
        picked[sel] = out[pick[sel]].astype(np.float32)
    out.flush()
    del out
    os.replace(tmp, work / "docs.npy")
    q = picked[rng.permutation(n_q)] + 0.3 * rng.standard_normal((n_q, dim), dtype=np.float32) / np.sqrt(dim)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    np.save(work / "queries.npy", q.astype(np.float32))
    print(f"generated {n} x {dim} {storage} in {time.time() - t0:.0f} s", flush=True)


def run_sycl(q, docs, k, precision):
    from sycl.retrieval.search import exact_search

    return exact_search(q, docs, k, precision=precision, show_progress=False)


def run_faiss(q, docs, k):
    import faiss

    faiss.omp_set_num_threads(os.cpu_count())
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    t_add = time.perf_counter() - t0
    scores, rows = index.search(q, k)
    return scores, rows, t_add


def phase(name: str, args) -> dict:
    import torch

    torch.set_num_threads(os.cpu_count())
    q = np.load(args.workdir / "queries.npy")
    docs = np.load(args.workdir / "docs.npy", mmap_mode="r")
    out: dict = {"queries": len(q), "dim": docs.shape[1], "storage": str(docs.dtype)}
    if name == "sycl":
        run_sycl(q[:64], docs[:50_000], args.k, args.precision)  # warm-up: loads the numba kernels
        s = Sampler()
        t0 = time.perf_counter()
        top = run_sycl(q, docs, args.k, args.precision)
        from sycl.kernels.decisions import resolve_search_precision
        from sycl.kernels.probe import default_state

        path = resolve_search_precision(args.precision, len(q), docs.shape[0], docs.shape[1])
        out.update(
            docs=docs.shape[0],
            seconds=time.perf_counter() - t0,
            precision=args.precision,
            path=path,
            cpu=default_state().verdict().cpu,
            **s.stop(),
        )
        np.save(args.workdir / "sycl_rows.npy", top.rows[:, : args.k])
    elif name == "faiss":
        s = Sampler()
        t0 = time.perf_counter()
        sub = np.asarray(docs[: args.faiss_docs], dtype=np.float32)
        t_read = time.perf_counter() - t0
        _, _, t_add = run_faiss(q, sub, args.k)
        out.update(
            docs=len(sub), read_s=t_read, add_s=t_add, seconds=time.perf_counter() - t0 - t_read - t_add, **s.stop()
        )
    else:
        sub = np.asarray(docs[: args.check_docs], dtype=np.float32)
        top = run_sycl(q, sub, args.k, args.precision)
        f_scores, f_rows, _ = run_faiss(q, sub, args.k)
        same = np.all(top.rows == f_rows, axis=1)
        ties = 0
        for i in np.nonzero(~same)[0]:
            a, b = set(top.rows[i].tolist()), set(f_rows[i].tolist())
            s_a = q[i] @ sub[list(a - b)].T if a - b else np.array([])
            s_b = q[i] @ sub[list(b - a)].T if b - a else np.array([])
            kth = min(top.scores[i, -1], f_scores[i, -1])
            order_only = a == b and np.allclose(np.sort(top.scores[i]), np.sort(f_scores[i]), atol=2e-6, rtol=0)
            swapped = np.all(np.abs(np.r_[s_a, s_b] - kth) <= 2e-6)
            ties += bool(order_only or swapped)
        out.update(
            docs=len(sub), identical=int(same.sum()), differ_by_ties=ties, differ_otherwise=int((~same).sum()) - ties
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--docs", type=int, default=8_841_823)
    ap.add_argument("--queries", type=int, default=6980)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--storage", choices=["fp16", "fp32"], default="fp16")
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto")
    ap.add_argument("--faiss-docs", type=int, default=2_000_000)
    ap.add_argument("--check-docs", type=int, default=1_000_000)
    ap.add_argument("--openblas-coretype", default=None, help="OPENBLAS_CORETYPE for faiss's OpenBLAS")
    ap.add_argument("--phases", nargs="+", default=["sycl", "faiss", "check"])
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype
    if args.phase:
        print(json.dumps(phase(args.phase, args)))
        return
    generate(args.workdir, args.docs, args.dim, args.queries, args.storage)
    results = {"args": {k: str(v) for k, v in vars(args).items()}}
    for name in args.phases:
        r = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--phase", name], capture_output=True, text=True)
        if r.returncode:
            sys.exit(r.stderr)
        results[name] = json.loads(r.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results[name]), flush=True)
    if "sycl" in results and "faiss" in results:
        pps = {n: results[n]["docs"] / results[n]["seconds"] for n in ("sycl", "faiss")}
        results["passages_per_s"] = pps
        results["speedup_vs_faiss"] = pps["sycl"] / pps["faiss"]
        print(f"passages/s: sycl {pps['sycl']:.0f}, faiss {pps['faiss']:.0f}: {results['speedup_vs_faiss']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
