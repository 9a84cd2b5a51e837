"""Exact top-k search: sycl's blocked search vs ``faiss.IndexFlatIP`` in the same run.

Data: ``--docs`` unit vectors of ``--dim`` dimensions drawn around ``--clusters`` random
centres (structured like real embeddings: clustered, not isotropic), ``--queries`` queries
drawn near random documents. Both searches return the top ``--k``; the check is that the
top-k ids are identical (same order; exact score ties, which faiss breaks arbitrarily, are
reported separately). Peak memory is the process's maximum resident set size, read after
each phase (``ru_maxrss``), so the sycl phases run first.

faiss-cpu's wheel bundles OpenBLAS 0.3.15, which does not recognise every CPU model: on a Xeon
reported by its hypervisor as "Intel(R) Xeon(R) Processor" (family 6, model 207) it falls back
to its generic Prescott kernels and searches about 5x slower. ``--openblas-coretype SkylakeX``
sets ``OPENBLAS_CORETYPE`` before faiss loads, so the peer runs at its best; report that figure.

    python benchmarks/bench_search.py --queries 10000 --docs 1000000 --dim 384 \
        --precision int8 fp32 --openblas-coretype SkylakeX
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np
import torch


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def make_data(n_docs: int, n_queries: int, dim: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    docs = np.empty((n_docs, dim), dtype=np.float32)
    for s in range(0, n_docs, 100_000):
        e = min(n_docs, s + 100_000)
        block = centres[rng.integers(0, clusters, e - s)] + 0.8 * rng.standard_normal((e - s, dim), dtype=np.float32)
        docs[s:e] = block / np.linalg.norm(block, axis=1, keepdims=True)
    q = docs[rng.integers(0, n_docs, n_queries)] + 0.3 * rng.standard_normal(
        (n_queries, dim), dtype=np.float32
    ) / np.sqrt(dim)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.astype(np.float32), docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument(
        "--precision",
        nargs="+",
        choices=["auto", "int8", "bf16", "fp32"],
        default=["auto", "fp32"],
        help="search paths to time (auto: the path measured fastest on this CPU; an explicit path "
        "that would take hours here is refused and recorded as such)",
    )
    ap.add_argument("--openblas-coretype", default=None, help="OPENBLAS_CORETYPE for faiss's OpenBLAS (e.g. SkylakeX)")
    ap.add_argument("--doc-block", type=int, default=32768)
    ap.add_argument("--query-block", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-faiss", action="store_true")
    args = ap.parse_args()
    if args.openblas_coretype:
        os.environ["OPENBLAS_CORETYPE"] = args.openblas_coretype  # read when faiss's OpenBLAS loads

    from sycl.kernels.decisions import SlowKernelError, auto_paths, resolve_search_precision
    from sycl.kernels.probe import cpu_model
    from sycl.retrieval.search import exact_search

    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    q, d = make_data(args.docs, args.queries, args.dim, args.clusters, args.seed)
    print(
        f"data: {args.queries} x {args.docs} x {args.dim} in {time.perf_counter() - t:.1f} s; "
        f"vectors {d.nbytes / 2**30:.2f} GiB; peak RSS {peak_rss_gb():.2f} GiB",
        flush=True,
    )
    base_rss = peak_rss_gb()

    result = {
        "queries": args.queries,
        "docs": args.docs,
        "dim": args.dim,
        "k": args.k,
        "threads": args.threads,
        "data_rss_gib": round(base_rss, 2),
        "torch": torch.__version__,
        "machine": f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "auto_search": auto_paths()["search"],
    }
    print(
        f"CPU {cpu_model()}: search auto -> {auto_paths()['search']}; load average {os.getloadavg()[0]:.2f}", flush=True
    )
    for precision in list(args.precision):
        try:
            resolve_search_precision(precision, args.queries, args.docs, args.dim)
        except SlowKernelError as err:
            print(f"{precision}: refused: {err}", flush=True)
            result[f"sycl_{precision}_refused"] = str(err)
            args.precision.remove(precision)
    runs = {}
    for precision in args.precision:  # warm-up: loads (or, on a fresh install, compiles) the numba kernels
        t = time.perf_counter()
        exact_search(q[:64], d[:20_000], args.k, precision=precision)
        result[f"sycl_{precision}_warmup_s"] = round(time.perf_counter() - t, 2)
    for precision in args.precision:
        t = time.perf_counter()
        runs[precision] = exact_search(
            q, d, args.k, precision=precision, doc_block=args.doc_block, query_block=args.query_block
        )
        t_ours = time.perf_counter() - t
        rss_ours = peak_rss_gb()
        print(
            f"sycl exact_search ({precision}; final scores in fp32): {t_ours:.1f} s, {args.queries / t_ours:.0f} q/s; "
            f"peak RSS {rss_ours:.2f} GiB (+{rss_ours - base_rss:.2f} over the data)",
            flush=True,
        )
        result[f"sycl_{precision}_s"] = round(t_ours, 2)
        result[f"sycl_{precision}_peak_rss_gib"] = round(rss_ours, 2)
    if "fp32" in runs:
        for precision, got in runs.items():
            same = int((got.rows == runs["fp32"].rows).all(axis=1).sum())
            print(f"{precision}: identical top-{args.k} ids to sycl fp32 for {same}/{args.queries} queries", flush=True)
            result[f"sycl_{precision}_identical_to_fp32"] = same
    if not args.skip_faiss:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        t = time.perf_counter()
        index = faiss.IndexFlatIP(args.dim)
        index.add(d)
        t_add = time.perf_counter() - t
        t = time.perf_counter()
        f_scores, f_ids = index.search(q, args.k)
        t_faiss = time.perf_counter() - t
        rss_faiss = peak_rss_gb()
        print(
            f"faiss IndexFlatIP: add {t_add:.1f} s, search {t_faiss:.1f} s, {args.queries / t_faiss:.0f} q/s; "
            f"peak RSS {rss_faiss:.2f} GiB",
            flush=True,
        )
        result.update(
            {
                "faiss_search_s": round(t_faiss, 2),
                "faiss_add_s": round(t_add, 2),
                "faiss_peak_rss_gib": round(rss_faiss, 2),
                "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(detected)"),
            }
        )
        for precision, ours in runs.items():
            same = (f_ids == ours.rows).all(axis=1)
            # a differing query is explained by ties when the two score lists agree to float precision
            tie_only = [
                i
                for i in np.nonzero(~same)[0]
                if set(f_ids[i]) == set(ours.rows[i])
                or np.allclose(np.sort(f_scores[i]), np.sort(ours.scores[i]), atol=1e-6)
            ]
            t_ours = result[f"sycl_{precision}_s"]
            print(
                f"{precision}: identical top-{args.k} ids to faiss (same order): {int(same.sum())}/{args.queries}; "
                f"differing only by score ties/rounding: {len(tie_only)}; speed-up {t_faiss / t_ours:.2f}x "
                f"(search only; {(t_faiss + t_add) / t_ours:.2f}x with faiss's add)",
                flush=True,
            )
            result.update(
                {
                    f"{precision}_identical_to_faiss": int(same.sum()),
                    f"{precision}_tie_only": len(tie_only),
                    f"{precision}_speedup": round(t_faiss / t_ours, 2),
                }
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
