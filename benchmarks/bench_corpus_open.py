"""Benchmark: opening a 2M-passage corpus + 500k queries, against a naive json-into-dict loader.

Generates a synthetic BEIR folder (default 2,000,000 passages of ~330 characters, like MS
MARCO, and 500,000 queries) in a temporary folder, then measures, each in a fresh process:

* ``convert``: cold ``Corpus.open`` (JSONL -> Arrow + id index), seconds and peak RSS;
* ``sycl``: warm ``Corpus.open`` + ``read_queries`` + the first sample (ids -> rows -> texts
  of one query's passages), seconds and extra RSS over the process after imports;
* ``naive`` (the peer): ``{d["_id"]: d for d in map(json.loads, corpus)}`` + the same
  queries, seconds and extra RSS;
* ``qrels``/``qrels_table``: the 2M judgements of ``qrels/train.tsv`` as dicts
  (``read_qrels``) and as an Arrow table (``read_qrels_table``), for the record;
* ``hash``: id hashing of all passage ids, vectorised (``hash_ids``) vs per-id blake2b
  in Python (the previous implementation).

Usage: ``python benchmarks/bench_corpus_open.py [--passages 2000000] [--queries 500000]
[--workdir DIR] [--json OUT]``. Prints a JSON summary and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "the of and to in is for that with as on by from at this are be or an was which can it not but have has "
    "their more were been also other its into these than they some such over only most time new may used "
    "study cells patients protein data model water energy system between during after high low effect "
    "results analysis increase method based levels treatment risk growth response"
).split()


def rss_kb() -> tuple[int, int]:
    """(VmRSS, RssAnon) of this process in kB."""
    vals = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "RssAnon:")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0])
    return vals["VmRSS"], vals.get("RssAnon", 0)


def generate(folder: Path, n_passages: int, n_queries: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = np.array(WORDS)
    chunk = 100_000
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for start in range(0, n_passages, chunk):
            n = min(chunk, n_passages - start)
            words = vocab[rng.integers(0, len(vocab), size=(n, 56))]
            lines = []
            for i in range(n):
                k = start + i
                text = " ".join(words[i])
                lines.append(json.dumps({"_id": f"p{k}", "title": "", "text": text}))
            fh.write("\n".join(lines) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q in range(n_queries):
            fh.write(
                json.dumps({"_id": f"q{q}", "text": f"what is the effect of {WORDS[q % len(WORDS)]} on {q}"}) + "\n"
            )
    (folder / "qrels").mkdir(exist_ok=True)
    per_q = max(1, n_passages // max(1, n_queries))
    with open(folder / "qrels" / "train.tsv", "w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q in range(n_queries):
            for j in range(per_q):
                fh.write(f"q{q}\tp{(q * per_q + j) % n_passages}\t{3 - j % 4}\n")


# ---------------------------------------------------------------- workers (fresh processes)


def worker_convert(folder: Path, cache: Path) -> dict:
    from sycl.io.corpus import Corpus

    base = rss_kb()[0]
    t0 = time.perf_counter()
    c = Corpus.open(folder, cache_dir=cache)
    sec = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": sec,
        "peak_rss_mb": peak / 1024,
        "extra_peak_rss_mb": (peak - base) / 1024,
        "n": len(c),
        "path": c.meta["path"],
    }


def _first_sample_ids(n_passages: int, n_queries: int) -> tuple[str, list[str]]:
    per_q = max(1, n_passages // max(1, n_queries))
    q = n_queries // 2
    return f"q{q}", [f"p{(q * per_q + j) % n_passages}" for j in range(per_q)]


def worker_sycl(folder: Path, cache: Path, n_passages: int, n_queries: int) -> dict:
    from sycl.io.beir import read_queries
    from sycl.io.corpus import Corpus

    base, base_anon = rss_kb()
    t0 = time.perf_counter()
    corpus = Corpus.open(folder, cache_dir=cache)
    queries = read_queries(folder / "queries.jsonl")
    qid, dids = _first_sample_ids(n_passages, n_queries)
    sample = (queries[qid], corpus.texts(corpus.rows_of(dids)))
    sec = time.perf_counter() - t0
    rss, anon = rss_kb()
    t1 = time.perf_counter()
    corpus2 = Corpus.open(folder, cache_dir=cache)
    open_only = time.perf_counter() - t1
    assert len(sample[1]) == len(dids) and len(corpus2) == n_passages
    return {
        "seconds": sec,
        "open_seconds": open_only,
        "extra_rss_mb": (rss - base) / 1024,
        "extra_anon_mb": (anon - base_anon) / 1024,
    }


def worker_naive(folder: Path, n_passages: int, n_queries: int) -> dict:
    base, base_anon = rss_kb()
    t0 = time.perf_counter()
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        corpus = {d["_id"]: d for d in map(json.loads, fh)}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        queries = {q["_id"]: q["text"] for q in map(json.loads, fh)}
    qid, dids = _first_sample_ids(n_passages, n_queries)
    sample = (queries[qid], [(corpus[d]["title"] + " " + corpus[d]["text"]).strip() for d in dids])
    sec = time.perf_counter() - t0
    rss, anon = rss_kb()
    assert len(sample[1]) == len(dids)
    return {"seconds": sec, "extra_rss_mb": (rss - base) / 1024, "extra_anon_mb": (anon - base_anon) / 1024}


def worker_qrels(folder: Path) -> dict:
    from sycl.io.beir import read_qrels

    base = rss_kb()[0]
    t0 = time.perf_counter()
    q = read_qrels(folder / "qrels" / "train.tsv")
    sec = time.perf_counter() - t0
    return {"seconds": sec, "extra_rss_mb": (rss_kb()[0] - base) / 1024, "judgements": sum(map(len, q.values()))}


def worker_qrels_table(folder: Path) -> dict:
    from sycl.io.beir import read_qrels_arrow as read_qrels_table

    base = rss_kb()[0]
    t0 = time.perf_counter()
    t = read_qrels_table(folder / "qrels" / "train.tsv")
    sec = time.perf_counter() - t0
    return {"seconds": sec, "extra_rss_mb": (rss_kb()[0] - base) / 1024, "judgements": t.num_rows}


def worker_hash(cache: Path) -> dict:
    import hashlib

    import numpy as np

    from sycl.io.corpus import Corpus
    from sycl.io.hashing import hash_ids

    corpus = Corpus.open(next(p for p in [Path(os.environ["BENCH_FOLDER"])]), cache_dir=cache)
    arr = corpus.ids
    t0 = time.perf_counter()
    h = hash_ids(arr)
    vec = time.perf_counter() - t0
    ids = arr.to_pylist()
    t0 = time.perf_counter()
    out = np.empty(len(ids), dtype=np.uint64)
    for i, s in enumerate(ids):
        out[i] = int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
    py = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = corpus.rows_of(ids[::10])
    lookup = time.perf_counter() - t0
    assert len(np.unique(h)) == len(h) and (rows == np.arange(0, len(ids), 10)).all()
    return {"vectorised_s": vec, "python_blake2b_s": py, "rows_of_10pct_s": lookup, "n": len(ids)}


def run_worker(mode: str, *args: str, env=None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker {mode} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=2_000_000)
    ap.add_argument("--queries", type=int, default=500_000)
    ap.add_argument(
        "--workdir", help="where to generate (kept and reused; default: a temporary folder, removed afterwards)"
    )
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        folder, cache = Path(args.rest[0]), Path(args.rest[1])
        n_p, n_q = int(args.rest[2]), int(args.rest[3])
        res = {
            "convert": lambda: worker_convert(folder, cache),
            "sycl": lambda: worker_sycl(folder, cache, n_p, n_q),
            "naive": lambda: worker_naive(folder, n_p, n_q),
            "qrels": lambda: worker_qrels(folder),
            "qrels_table": lambda: worker_qrels_table(folder),
            "hash": lambda: worker_hash(cache),
        }[args.worker]()
        print(json.dumps(res))
        return

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sycl-bench-"))
    try:
        folder, cache = work / "data", work / "cache"
        t0 = time.perf_counter()
        marker = folder / f".generated-{args.passages}-{args.queries}"
        if not marker.exists():  # a kept --workdir is reused across runs
            shutil.rmtree(folder, ignore_errors=True)
            generate(folder, args.passages, args.queries)
            marker.touch()
        gen_s = time.perf_counter() - t0
        shutil.rmtree(cache, ignore_errors=True)
        a = [str(folder), str(cache), str(args.passages), str(args.queries)]
        res = {
            "passages": args.passages,
            "queries": args.queries,
            "corpus_mb": (folder / "corpus.jsonl").stat().st_size / 2**20,
            "generate_s": gen_s,
        }
        res["convert"] = run_worker("convert", *a)
        res["sycl"] = run_worker("sycl", *a)
        res["naive"] = run_worker("naive", *a)
        res["qrels"] = run_worker("qrels", *a)
        res["qrels_table"] = run_worker("qrels_table", *a)
        res["hash"] = run_worker("hash", *a, env={"BENCH_FOLDER": str(folder)})
        res["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        res["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    s, n = res["sycl"], res["naive"]
    print(f"""
| measure | sycl (Corpus + read_queries) | naive json -> dict (peer) | ratio |
|---|---|---|---|
| to first sample, warm (s) | {s["seconds"]:.2f} | {n["seconds"]:.2f} | {n["seconds"] / s["seconds"]:.1f}x faster |
| extra RSS to first sample (MB) | {s["extra_rss_mb"]:.0f} | {n["extra_rss_mb"]:.0f} | {n["extra_rss_mb"] / max(s["extra_rss_mb"], 1):.1f}x less |
| Corpus.open alone, warm (s) | {s["open_seconds"]:.3f} | - | - |
| cold conversion JSONL -> Arrow (s) | {res["convert"]["seconds"]:.1f} ({res["convert"]["path"]} path, peak RSS {res["convert"]["peak_rss_mb"]:.0f} MB) | - | - |
| read 2M-judgement qrels (s / extra MB) | {res["qrels_table"]["seconds"]:.1f} / {res["qrels_table"]["extra_rss_mb"]:.0f} as Arrow table | {res["qrels"]["seconds"]:.1f} / {res["qrels"]["extra_rss_mb"]:.0f} as dicts (read_qrels) | - |
| hash {res["hash"]["n"]:,} ids (s) | {res["hash"]["vectorised_s"]:.2f} vectorised | {res["hash"]["python_blake2b_s"]:.2f} per-id blake2b | {res["hash"]["python_blake2b_s"] / res["hash"]["vectorised_s"]:.0f}x |
""")


if __name__ == "__main__":
    main()
