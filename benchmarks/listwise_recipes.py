"""Issue 7: which list-wise recipe beats InfoNCE on real graded data?

Trains the embedded all-MiniLM-L6-v2 with each recipe and seed on real data from
``../shared/datasets`` and evaluates it; appends one JSON line per (dataset, recipe, seed) to
``<out>/results.jsonl`` (a rerun skips what is there) and writes the summary table with
``--summarize``.

Data (fixed, recorded in ``<out>/<dataset>/prep.json``):
* scifact: the 809 training queries; BM25 top-100 negatives (positives excluded) mined with
  ``sycl mine``; multi-level contexts as the paper's synthetic + real run builds them (real
  positives relabelled 3, 2 random BM25 negatives relabelled 1; in-batch passages handled by the
  loss); ``graded`` variant: positives 3, one random BM25 negative of rank 1-10 as level 1,
  two of rank 11-100 as level 0. InfoNCE: positive + 2 random BM25 negatives. Test: SciFact test.
* cranfield: the 225 judged queries split into fixed halves (seed 0); train half with its real
  grades 1-4 plus 2 random BM25 negatives (top-100) as level 0; InfoNCE: a judged document
  (any grade) as positive + 2 BM25 negatives. Test: the other half.
* cisi: the same as cranfield on CISI's 76 judged queries (binary judgements: label 1 and
  BM25 negatives at 0; 38 train / 38 test).
* cranfield-synthetic, cisi-synthetic: the embedded generator's contexts (one passage per level
  3/2/1/0) for the collection's queries outside its test half, tested on the same test half
  (:func:`prepare_synthetic`).

``--batch-size 64 --grad-cache 16`` trains with 64 queries per step (the paper's 16 x 4 GPUs) on
one process with gradient caching; such runs are stored as ``<recipe>-b64-s<seed>`` and their
rows carry ``batch_size``. Every run keeps its evaluation folder (``metrics.json`` with per-query
values and the run file), which is what ``sycl compare`` reads.

    python benchmarks/listwise_recipes.py --dataset cranfield scifact --seeds 1 2
    python benchmarks/listwise_recipes.py --summarize
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"

MODEL = {"model": "embedded:all-MiniLM-L6-v2", "max_query_length": 64, "max_passage_length": 128}
EVAL_MAX_LENGTH = 256  # evaluation at the reference setting; training at 128 tokens to fit this machine
TRAIN = {
    "epochs": 1,
    "batch_size": 16,
    "lr": 2e-5,
    "warmup_ratio": 0.05,
    "precision": "auto",
    "log_every": 5,
    "save_every": 0,
}
EPOCHS = {"scifact": 1, "cranfield": 4, "cisi": 4}  # cranfield's train half is 112 queries: 7 steps an epoch
# synthetic collections: the embedded generator's contexts for a real collection's training queries
SYNTHETIC = {"cranfield-synthetic": "cranfield", "cisi-synthetic": "cisi"}
EPOCHS.update({name: EPOCHS[real] for name, real in SYNTHETIC.items()})

# name -> (data variant, loss section). Variants: "binary" (InfoNCE data), "paper" (syn+real
# relabelling), "graded" (BM25 ranks as weaker levels; scifact only, cranfield has real grades).
RECIPES: dict[str, tuple[str, dict]] = {
    "infonce": ("binary", {"name": "infonce", "temperature": 0.05}),
    # InfoNCE at the reference's temperature on a cosine model: the scores never leave [-1, 1]
    "infonce-t1": ("binary", {"name": "infonce", "temperature": 1.0}),
    "ws2-paper": (
        "paper",
        {"name": "ws2", "temperature": 1.0},
    ),  # the reference: tau 1, softmax(labels), in-batch label 0
    "kl-reference": ("paper", {"name": "kl", "temperature": 0.05}),  # reference targets at cosine / 0.05
    "kl-sharp": ("paper", {"name": "kl", "temperature": 0.05, "label_temperature": 0.1}),
    "kl-sharp-lowest": ("paper", {"name": "kl", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"}),
    "w1d-sharp-lowest": (
        "paper",
        {"name": "wasserstein1d", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"},
    ),
    "lambdaloss": ("paper", {"name": "lambdaloss", "temperature": 0.05, "in_batch": "lowest"}),
    "kl-sharp+infonce": (
        "paper",
        {"name": "kl", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest", "infonce_weight": 1.0},
    ),
    # graded targets kept soft (label temperature 0.5: a level-3 passage gets e^4 = 55x the mass of a level-1
    # one) with InfoNCE as the anchor that keeps the positive on top
    "kl-soft+infonce": (
        "paper",
        {"name": "kl", "temperature": 0.05, "label_temperature": 0.5, "in_batch": "lowest", "infonce_weight": 1.0},
    ),
    "w1d-sharp+infonce": (
        "paper",
        {
            "name": "wasserstein1d",
            "temperature": 0.05,
            "label_temperature": 0.1,
            "in_batch": "lowest",
            "infonce_weight": 1.0,
        },
    ),
    "lambdaloss+infonce": (
        "paper",
        {"name": "lambdaloss", "temperature": 0.05, "in_batch": "lowest", "infonce_weight": 1.0},
    ),
    "kl-sharp-graded": ("graded", {"name": "kl", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"}),
    "kl-sharp+infonce-graded": (
        "graded",
        {"name": "kl", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest", "infonce_weight": 1.0},
    ),
}


def _beir_subset(src: Path, dst: Path, qrels: dict, split: str) -> None:
    from sycl.io import read_queries, write_qrels, write_queries

    dst.mkdir(parents=True, exist_ok=True)
    if not (dst / "corpus.jsonl").exists():
        os.symlink(src / "corpus.jsonl", dst / "corpus.jsonl")
    queries = read_queries(src / "queries.jsonl")
    write_queries(dst / "queries.jsonl", {q: queries[q] for q in qrels})
    write_qrels(dst / "qrels" / f"{split}.tsv", qrels)


def prepare(dataset: str, work: Path) -> dict:
    """Mine negatives and write the fixed splits; returns the data sections and the test folder."""
    from sycl.io import read_qrels
    from sycl.mining import mine_negatives

    work.mkdir(parents=True, exist_ok=True)
    prep_file = work / "prep.json"
    if prep_file.exists():
        return json.loads(prep_file.read_text())
    src = SHARED / dataset
    if dataset == "scifact":
        train_folder, test_folder, test_split, train_split = src, src, "test", "train"
        info = {"train_queries": len(read_qrels(src / "qrels" / "train.tsv"))}
    elif dataset in ("cranfield", "cisi"):
        qrels = read_qrels(src / "qrels" / "test.tsv")
        ids = sorted(qrels)
        random.Random(0).shuffle(ids)
        half = len(ids) // 2
        train_ids, test_ids = sorted(ids[:half]), sorted(ids[half:])
        train_folder, test_folder = work / "train-half", work / "test-half"
        _beir_subset(src, train_folder, {q: qrels[q] for q in train_ids}, "train")
        _beir_subset(src, test_folder, {q: qrels[q] for q in test_ids}, "test")
        test_split, train_split = "test", "train"
        info = {"split_seed": 0, "train_ids": train_ids, "test_ids": test_ids}
    elif dataset in SYNTHETIC:
        return prepare_synthetic(dataset, work)
    else:
        raise SystemExit(f"unknown dataset {dataset}")
    neg = work / "bm25-top100.jsonl"
    if not neg.exists():
        mine_negatives(train_folder, neg, split=train_split, k=100, show_progress=False)
    real = {"name": "real", "path": str(train_folder), "qrels": train_split}
    bm25 = {"name": "bm25", "path": str(train_folder), "qrels": str(neg)}
    if dataset == "scifact":
        paper = [{**real, "score_transform": 3}, {**bm25, "group_random_k": 2, "score_transform": 1}]
    else:  # real grades 1-4 kept, BM25 negatives as level 0
        paper = [real, {**bm25, "group_random_k": 2, "score_transform": 0}]
    graded = [
        {**real, "score_transform": 3},
        {**bm25, "name": "bm25-top", "max_score": 11, "group_random_k": 1, "score_transform": 1},
        {**bm25, "name": "bm25-deep", "min_score": 11, "group_random_k": 2, "score_transform": 0},
    ]
    binary = [{**real, "score_transform": 1}, {**bm25, "group_random_k": 2, "score_transform": 0}]
    prep = {
        "dataset": dataset,
        "test_folder": str(test_folder),
        "test_split": test_split,
        **info,
        "data": {
            "paper": {"sources": paper, "format": "multilevel", "group_size": 4},
            "graded": {"sources": graded, "format": "multilevel", "group_size": 4},
            "binary": {"sources": binary, "format": "binary", "positive_threshold": 1, "group_size": 3},
        },
    }
    prep_file.write_text(json.dumps(prep, indent=1))
    return prep


def prepare_synthetic(dataset: str, work: Path) -> dict:
    """Contexts the embedded generator (SmolLM2-135M) writes for a real collection's training
    queries, tested on that collection's test half (``prep.json`` of the real collection).

    Queries: every query of the collection outside the test half (Cranfield: the 112 of the train
    half; CISI: its 38 judged training queries and the 36 it never judged, 74), so no test query
    is ever shown to the generator. One passage per level 3/2/1/0, per-level prompts, seed 0. The
    list-wise recipes train on all four levels; InfoNCE on the same contexts binarised as the
    paper's synthetic-binary run does (label >= 2 positive, 3 passages per query).
    """
    from sycl.generation import GenerationConfig, generate
    from sycl.generation.dataset import SPLIT
    from sycl.io import read_queries, write_queries

    prep_file = work / "prep.json"
    if prep_file.exists():
        return json.loads(prep_file.read_text())
    real = prepare(SYNTHETIC[dataset], work.parent / SYNTHETIC[dataset])
    src = SHARED / SYNTHETIC[dataset]
    queries = read_queries(src / "queries.jsonl")
    test = set(real["test_ids"])
    train_queries = {q: t for q, t in queries.items() if q not in test}
    work.mkdir(parents=True, exist_ok=True)
    write_queries(work / "generator-queries.jsonl", train_queries)
    out = work / "synthetic"
    if not (out / "manifest.json").exists():
        cfg = GenerationConfig(
            queries=work / "generator-queries.jsonl",
            out=out,
            backend="embedded",
            seed=0,
            max_failure_rate=0.5,
        )
        generate(cfg)
    synthetic = {"name": "synthetic", "path": str(out), "qrels": SPLIT}
    prep = {
        "dataset": dataset,
        "test_folder": real["test_folder"],
        "test_split": real["test_split"],
        "generator_queries": len(train_queries),
        "test_ids": real["test_ids"],
        "data": {
            "paper": {"sources": [synthetic], "format": "multilevel", "group_size": 4},
            "binary": {"sources": [synthetic], "format": "binary", "positive_threshold": 2, "group_size": 3},
        },
    }
    prep_file.write_text(json.dumps(prep, indent=1))
    return prep


def evaluate(model, prep: dict, out: Path) -> dict:
    from sycl.evaluation import evaluate as run_eval

    rep = run_eval(
        model,
        [prep["test_folder"]],
        out,
        split=prep["test_split"],
        encode_backend="torch",  # every run of the sweeps encodes as issue 18's did (torch, precision auto)
        show_progress=False,
        max_query_length=EVAL_MAX_LENGTH,
        max_passage_length=EVAL_MAX_LENGTH,
    )
    return rep["results"][0]["measures"]


def run_dir(recipe: str, seed: int, batch_size: int = 16) -> str:
    return f"{recipe}-s{seed}" if batch_size == 16 else f"{recipe}-b{batch_size}-s{seed}"


def run_one(
    dataset: str,
    recipe: str,
    seed: int,
    prep: dict,
    work: Path,
    batch_size: int = 16,
    grad_cache: int | None = None,
    evaluate_model: bool = True,
) -> dict:
    from sycl.training import train

    variant, loss = RECIPES[recipe]
    out = work / run_dir(recipe, seed, batch_size)
    train_cfg = {**TRAIN, "epochs": EPOCHS[dataset], "seed": seed, "batch_size": batch_size}
    if grad_cache:
        train_cfg["grad_cache"] = grad_cache
    exp = {
        "name": f"{dataset}-{out.name}",
        "model": MODEL,
        "data": prep["data"][variant],
        "loss": loss,
        "train": train_cfg,
        "guard": {"every": 5},
    }
    t0 = time.perf_counter()
    model_dir = out / "model"
    if (model_dir / "training.json").exists() and any(model_dir.glob("*.safetensors")):
        t_train = None  # trained by an interrupted earlier sweep (train() writes training.json last): evaluate it
    else:
        shutil.rmtree(out, ignore_errors=True)  # a half-trained run starts over
        model_dir = train(exp, out=model_dir)
        t_train = time.perf_counter() - t0
    measures = evaluate(str(model_dir), prep, out / "eval") if evaluate_model else None
    info = json.loads((model_dir / "training.json").read_text())
    log = [json.loads(line) for line in (model_dir / "training_log.jsonl").read_text().splitlines() if line.strip()]
    last = [r for r in log if "own_group_prob" in r][-1:] or [{}]
    logs = work.parent / "logs" / dataset
    logs.mkdir(parents=True, exist_ok=True)  # the logs the collapse guard is calibrated on (tests/training/guard_logs)
    shutil.copyfile(model_dir / "training_log.jsonl", logs / f"{out.name}.jsonl")
    for p in model_dir.glob("*.safetensors"):  # keep the logs, drop the weights
        p.unlink()
    return {
        "dataset": dataset,
        "recipe": recipe,
        "seed": seed,
        "batch_size": batch_size,
        "grad_cache": grad_cache,
        "variant": variant,
        "loss": loss,
        "measures": measures,
        "train_seconds": None if t_train is None else round(t_train, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "steps": info.get("steps"),
        "collapse_warnings": _count(info.get("collapse_warnings")),
        "final_own_group_prob": last[0].get("own_group_prob"),
        "final_passage_mean_cos": last[0].get("passage_mean_cos"),
    }


def _count(warnings) -> int:
    """``training.json`` records the number of collapse warnings (older runs: the list of them)."""
    return warnings if isinstance(warnings, int) else len(warnings or [])


def replayed_warnings(log_file: Path, loss_name: str) -> int | None:
    """Collapse warnings the current guard (default bounds, every logged step) gives on a run's log."""
    from sycl.training.config import GuardConfig
    from sycl.training.guard import CollapseGuard

    if not log_file.exists():
        return None
    records = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    return sum(m is not None for m in CollapseGuard(GuardConfig(every=1), loss_name).replay(records))


def summarize(out: Path) -> str:
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    for r in rows:  # batch-64 runs are their own rows of the table
        r["label"] = r["recipe"] if r.get("batch_size", 16) == 16 else f"{r['recipe']} (b{r['batch_size']})"
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == dataset]
        ref = [r["measures"]["nDCG@10"] for r in sub if r["label"] == "infonce"]
        ref_mean = statistics.mean(ref) if ref else None
        lines += [
            f"### {dataset}",
            "",
            "| recipe | nDCG@10 mean | per seed | vs InfoNCE | R@100 | collapse warnings (all seeds) |"
            " own-group prob (last log) | train s/run |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for label in dict.fromkeys(r["label"] for r in sub):
            rs = [r for r in sub if r["label"] == label]
            recipe = rs[0]["recipe"]
            vals = [r["measures"]["nDCG@10"] for r in rs]
            mean = statistics.mean(vals)
            delta = f"{(mean - ref_mean) * 100:+.1f}" if ref_mean is not None and label != "infonce" else ""
            r100 = statistics.mean(r["measures"].get("R@100", float("nan")) for r in rs)
            replay = [
                replayed_warnings(
                    out
                    / dataset
                    / run_dir(recipe, r["seed"], r.get("batch_size", 16))
                    / "model"
                    / "training_log.jsonl",
                    r["loss"]["name"],
                )
                for r in rs
                if recipe != "zero-shot"
            ]
            warn = sum(replay) if all(w is not None for w in replay) else sum(r.get("collapse_warnings", 0) for r in rs)
            own = [r.get("final_own_group_prob") for r in rs if r.get("final_own_group_prob") is not None]
            secs = [r["train_seconds"] for r in rs if r.get("train_seconds") is not None] or [0]
            lines.append(
                f"| {label} | {mean:.4f} | {', '.join(f'{v:.4f}' for v in vals)} | {delta} | {r100:.4f} | "
                f"{warn if recipe != 'zero-shot' else ''} | {statistics.mean(own):.3f} |"
                f" {statistics.mean(secs):.0f} |"
                if own
                else f"| {label} | {mean:.4f} | {', '.join(f'{v:.4f}' for v in vals)} | {delta} | {r100:.4f} | | | |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", nargs="+", default=["cranfield", "scifact"])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--out", default=str(ROOT / "runs" / "recipes"))
    ap.add_argument("--summarize", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (1 on a machine shared with other jobs)")
    ap.add_argument("--batch-size", type=int, default=16, help="queries per step")
    ap.add_argument("--grad-cache", type=int, default=None, help="texts per re-encoded chunk (gradient caching)")
    ap.add_argument(
        "--train-only",
        action="store_true",
        help="train and keep the logs (<out>/logs), no evaluation; give such runs their own --out",
    )
    args = ap.parse_args()
    out = Path(args.out)
    if args.summarize:
        print(summarize(out))
        return 0
    if not SHARED.exists():
        print(f"skipped: {SHARED} not found", file=sys.stderr)
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    TRAIN["threads"] = args.threads
    from sycl.log import setup_logging

    setup_logging("INFO")
    results = out / "results.jsonl"
    done = set()
    if results.exists():
        done = {
            (r["dataset"], r["recipe"], r["seed"], r.get("batch_size", 16))
            for r in map(json.loads, results.read_text().splitlines())
            if r
        }
    out.mkdir(parents=True, exist_ok=True)
    preps = {d: prepare(d, out / d) for d in args.dataset}
    for d in args.dataset:
        if (d, "zero-shot", 0, 16) not in done and not args.train_only:
            t0 = time.perf_counter()
            m = evaluate(MODEL["model"], preps[d], out / d / "zero-shot")
            with results.open("a") as fh:
                fh.write(
                    json.dumps(
                        {
                            "dataset": d,
                            "recipe": "zero-shot",
                            "seed": 0,
                            "measures": m,
                            "total_seconds": round(time.perf_counter() - t0, 1),
                        }
                    )
                    + "\n"
                )
    for seed in args.seeds:  # seed-major, so an interrupted sweep still covers every recipe
        for d in args.dataset:
            for recipe in args.recipes:
                if recipe.endswith("graded") and d != "scifact":
                    continue
                if (d, recipe, seed, args.batch_size) in done:
                    continue
                if args.batch_size > 16 and len(preps[d].get("train_ids", [0] * 10**6)) < args.batch_size:
                    print(
                        f"{d}: {len(preps[d]['train_ids'])} training queries, fewer than one batch of "
                        f"{args.batch_size}; skipped",
                        flush=True,
                    )
                    continue
                row = run_one(d, recipe, seed, preps[d], out / d, args.batch_size, args.grad_cache, not args.train_only)
                score = f"nDCG@10 {row['measures']['nDCG@10']:.4f}" if row["measures"] else "not evaluated"
                print(
                    f"{d} {recipe} b{args.batch_size} seed {seed}: {score} "
                    f"({row['total_seconds']:.0f} s, {row['collapse_warnings']} collapse warnings)",
                    flush=True,
                )
                with results.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                shutil.rmtree(
                    out / d / run_dir(recipe, seed, args.batch_size) / "model" / "checkpoints", ignore_errors=True
                )
    print(summarize(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
