"""Training throughput: sycl's trainer vs SentenceTransformerTrainer + MultipleNegativesRankingLoss.

Same model (the embedded all-MiniLM-L6-v2), same groups (Cranfield queries with 4 judged
passages each, most relevant first, cycled when fewer), same batch (16 queries = 16 + 64
texts per step), same max length (256 for queries and passages), same loss family (InfoNCE
with in-batch negatives at cosine / 0.05 = MNRL's scale 20), AdamW lr 2e-5. Each trainer runs
in its own process (so peak memory is its own); the first ``--warmup`` steps are excluded from
the rate. sycl runs with ``precision: auto`` (bf16 autocast where it measured faster than fp32); the peer with
its defaults (fp32) and, for reference, with ``bf16=True``.

    .venv/bin/python benchmarks/bench_train_throughput.py [--steps 12] [--warmup 2] [--batch 16]

Prints JSON: query-groups/s, wall and CPU seconds per step, peak RSS (GB) per trainer and the
ratios (wall and CPU time: on a machine shared with other jobs the trainers run one after the
other under whatever load there is then, and CPU time varies far less with it than wall time).

``--quality`` instead checks that bf16 autocast trains to the same quality as fp32: Cranfield's
225 queries are split in fixed halves (seed 0), the default recipe trains one epoch on the first
half under each precision, and nDCG@10 on the second half (exact search over the whole corpus,
fp32 encoding for both) is compared with zero-shot.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "datasets" / "cranfield"


def groups(k: int) -> list[tuple[str, list[str]]]:
    from sycl.data import MultiLevelSet, PassagePool, SourceConfig

    ds = MultiLevelSet(
        PassagePool.load([SourceConfig(path=str(DATA), qrels="test")]), group_size=k, strategy="most_relevant"
    )
    b = ds.batch(range(len(ds)))
    return [(b.queries[i], b.passages[i * k : (i + 1) * k]) for i in range(len(ds))]


def clock() -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): on a loaded machine the CPU time is the steadier figure."""
    return time.perf_counter(), time.process_time()


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_sycl(args) -> dict:
    from sycl.training import train

    times: list[float] = []
    out = Path(tempfile.mkdtemp()) / "model"
    cfg = {
        "name": "bench",
        "model": {"max_query_length": args.max_length, "max_passage_length": args.max_length},
        "data": {
            "sources": [{"path": str(DATA), "qrels": "test"}],
            "group_size": args.k,
            "passage_selection_strategy": "most_relevant",
        },
        "loss": {"name": "infonce", "temperature": 0.05},
        "train": {
            "batch_size": args.batch,
            "max_steps": args.steps,
            "lr": 2e-5,
            "precision": args.precision,
            "log_every": 1000,
            "save_every": 0,
            "warmup_ratio": 0.0,
            "chunk_size": args.chunk_size,
        },
        "guard": {"every": 0},
    }
    train(cfg, out=out, callbacks=[lambda trainer, rec: times.append(clock())])
    return {"step_times": times, "peak_rss_gb": peak_gb()}


def run_st(args) -> dict:
    import datasets
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from transformers import TrainerCallback

    from sycl.modeling import embedded_encoder_path

    rows = groups(args.k)
    cols = {"anchor": [q for q, _ in rows], "positive": [p[0] for _, p in rows]}
    for j in range(1, args.k):
        cols[f"negative_{j}"] = [p[j] for _, p in rows]
    ds = datasets.Dataset.from_dict(cols)
    model = SentenceTransformer(embedded_encoder_path(), device="cpu")
    model.max_seq_length = args.max_length
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a, **kw):
            times.append(clock())

    targs = SentenceTransformerTrainingArguments(
        output_dir=tempfile.mkdtemp(),
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=2e-5,
        warmup_ratio=0.0,
        save_strategy="no",
        logging_steps=1000,
        report_to=[],
        bf16=args.peer_bf16,
        use_cpu=True,
        dataloader_drop_last=True,
        disable_tqdm=True,
        seed=42,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=targs,
        train_dataset=ds,
        loss=losses.MultipleNegativesRankingLoss(model, scale=20.0),
        callbacks=[Clock()],
    )
    trainer.train()
    return {"step_times": times, "peak_rss_gb": peak_gb()}


def quality(args) -> dict:
    import numpy as np

    from sycl.evaluation.metrics import compute_metrics
    from sycl.io import read_qrels, read_queries
    from sycl.io.corpus import Corpus
    from sycl.modeling import BiEncoder
    from sycl.training import train

    qrels = read_qrels(DATA / "qrels" / "test.tsv")
    queries = read_queries(DATA / "queries.jsonl")
    qids = sorted(qrels)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(qids))
    train_ids, test_ids = [qids[i] for i in perm[: len(qids) // 2]], [qids[i] for i in perm[len(qids) // 2 :]]
    work = Path(tempfile.mkdtemp())
    (work / "train_ids.txt").write_text("\n".join(train_ids) + "\n")
    corpus = Corpus.open(DATA / "corpus.jsonl")
    doc_texts = [t for _, batch in corpus.iter_batches() for t in batch]
    doc_ids = corpus.ids.to_pylist()

    def ndcg(model_dir) -> float:
        enc = (
            BiEncoder.from_pretrained(str(model_dir))
            if model_dir
            else BiEncoder.from_pretrained(max_query_length=args.max_length, max_passage_length=args.max_length)
        )
        d = enc.encode(doc_texts, "passage", precision="fp32")
        q = enc.encode([queries[i] for i in test_ids], "query", precision="fp32")
        scores = q @ d.T
        top = np.argsort(-scores, axis=1)[:, :100]
        run = {qid: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(test_ids)}
        return compute_metrics({k: qrels[k] for k in test_ids}, run, ["nDCG@10"])[0]["nDCG@10"]

    out = {"split": {"train": len(train_ids), "test": len(test_ids), "seed": 0}, "zero_shot": round(ndcg(None), 4)}
    for precision in ("fp32", "bf16"):
        t0 = time.perf_counter()
        model = train(
            {
                "name": f"q-{precision}",
                "model": {"max_query_length": args.max_length, "max_passage_length": args.max_length},
                "data": {
                    "sources": [{"path": str(DATA), "qrels": "test", "query_subset": str(work / "train_ids.txt")}],
                    "group_size": args.k,
                },
                "train": {
                    "batch_size": args.batch,
                    "epochs": 1,
                    "lr": 2e-5,
                    "precision": precision,
                    "seed": 1,
                    "save_every": 0,
                },
            },
            out=work / precision,
        )
        out[precision] = {"nDCG@10": round(ndcg(model), 4), "train_seconds": round(time.perf_counter() - t0, 1)}
    return out


def summarise(name: str, res: dict, args) -> dict:
    steady = res["step_times"][args.warmup :]
    secs, cpu = ((steady[-1][i] - steady[0][i]) / (len(steady) - 1) for i in (0, 1))
    return {
        "trainer": name,
        "steps_timed": len(steady) - 1,
        "seconds_per_step": round(secs, 3),
        "cpu_seconds_per_step": round(cpu, 3),
        "groups_per_s": round(args.batch / secs, 2),
        "peak_rss_gb": round(res["peak_rss_gb"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--k", type=int, default=4, help="passages per query")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--precision", default="auto", help="sycl's precision")
    ap.add_argument("--chunk-size", type=int, default=None, help="sycl's train.chunk_size (default: sycl's)")
    ap.add_argument("--peer-bf16", action="store_true")
    ap.add_argument("--child", choices=["sycl", "st"])
    ap.add_argument("--skip-peer-bf16", action="store_true")
    ap.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for both trainers (1 on a machine shared with other jobs)"
    )
    ap.add_argument("--quality", action="store_true", help="bf16 vs fp32 training quality instead of speed")
    args = ap.parse_args()
    if args.quality:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        print(json.dumps(quality(args), indent=2))
        return
    if args.child:
        res = run_sycl(args) if args.child == "sycl" else run_st(args)
        print(json.dumps(res))
        return
    env = dict(os.environ, HF_HUB_OFFLINE="1", SYCL_QUIET="1", TOKENIZERS_PARALLELISM="false")
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    base = [
        sys.executable,
        __file__,
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--k",
        str(args.k),
        "--max-length",
        str(args.max_length),
        "--precision",
        args.precision,
    ]
    if args.chunk_size is not None:
        base += ["--chunk-size", str(args.chunk_size)]
    runs = [
        (f"sycl (precision {args.precision})", ["--child", "sycl"]),
        ("sentence-transformers fp32", ["--child", "st"]),
    ]
    if not args.skip_peer_bf16:
        runs.append(("sentence-transformers bf16", ["--child", "st", "--peer-bf16"]))
    out = []
    for name, extra in runs:
        done = subprocess.run(base + extra, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
        out.append(summarise(name, json.loads(done.stdout.strip().splitlines()[-1]), args))
        print(json.dumps(out[-1]), file=sys.stderr)
    from sycl.kernels.decisions import auto_paths
    from sycl.kernels.probe import cpu_model

    ours = out[0]["groups_per_s"]
    report = {
        "cpu": cpu_model(),
        "auto_precision": auto_paths()["precision"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "threads": args.threads,
            "batch": args.batch,
            "k": args.k,
            "max_length": args.max_length,
            "steps": args.steps,
            "warmup": args.warmup,
            "model": "all-MiniLM-L6-v2",
            "data": "cranfield",
        },
        "results": out,
        "ratios": {r["trainer"]: round(ours / r["groups_per_s"], 2) for r in out[1:]},
        "cpu_time_ratios": {
            r["trainer"]: round(r["cpu_seconds_per_step"] / out[0]["cpu_seconds_per_step"], 2) for r in out[1:]
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
