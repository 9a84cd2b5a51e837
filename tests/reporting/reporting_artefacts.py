"""Small but well-formed run directories following docs/CONTRACTS.md, for the reporting tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sycl.io import write_corpus, write_qrels, write_queries

EVIL = '<script>alert("x")</script> & <b>bold</b>'

QUERIES = {
    "q1": "what causes ocean tides?",
    "q2": "how do vaccines train the immune system?",
    "q3": f"is {EVIL} escaped?",
    "q4": "why is the sky blue?",
}

# doc id -> (query, level, text)
PASSAGES = {
    "q1-3": ("q1", 3, "Tides are caused by the gravitational pull of the moon and, to a lesser degree, the sun."),
    "q1-2": ("q1", 2, "The moon's gravity affects the oceans; tides rise and fall twice a day in most places."),
    "q1-1": ("q1", 1, "Oceans cover about 71 percent of the surface of the earth."),
    "q1-0": ("q1", 0, "Bananas are a good source of potassium."),
    "q2-3": ("q2", 3, "Vaccines expose the immune system to an antigen so that it forms memory cells. " * 12),
    "q2-2": ("q2", 2, "Immunity can be acquired after infection."),
    "q2-0": ("q2", 0, "The Eiffel tower is in Paris."),
    "q3-3": ("q3", 3, f"Yes: text such as {EVIL} must be escaped before it is shown."),
    "q3-1": ("q3", 1, "HTML is a markup language."),
    "q3-0": ("q3", 0, "Cats sleep a lot."),
    "q4-3": ("q4", 3, "Rayleigh scattering of sunlight by air molecules makes the sky look blue."),
}

GENERATION_MANIFEST = {
    "kind": "generation",
    "backend": "embedded",
    "model": "SmolLM2-135M-Instruct",
    "prompt": {"template": "Write passages ...", "sha256": "ab" * 32},
    "sampling": {"temperature": 0.7},
    "levels": {"3": "definition", "2": "partial", "1": "related", "0": "unrelated"},
    "counts": {"queries": 4, "done": 4, "failed": 0, "retried": 1, "passages": 11},
    "counts_per_level": {"3": 4, "2": 2, "1": 2, "0": 3},
    "tokens": {"prompt": 1000, "completion": 2000},
    "timings": {"seconds": 12.5, "tokens_per_s": 160.0},
    "failures": [],
    "quality": {
        "judge": "all-MiniLM-L6-v2",
        "per_level_mean": {"3": 0.61, "2": 0.52, "1": 0.40, "0": 0.05},
        "kendall_tau_mean": 0.7,
        "share_expected_order": 0.5,
    },
}

MEASURES = {
    "base": {"scifact": (0.645, 0.60, 0.925), "cranfield": (0.301, 0.55, 0.80)},
    "ws2": {"scifact": (0.662, 0.63, 0.931), "cranfield": (0.297, 0.54, 0.82)},
    "infonce": {"scifact": (0.650, 0.61, 0.940), "cranfield": (0.310, 0.58, 0.79)},
}


def training_log(n_steps: int, start: float, with_diagnostics: bool = True) -> list[dict]:
    rows = []
    for step in range(1, n_steps + 1):
        row = {"step": step, "epoch": step / n_steps, "loss": start * math.exp(-step / 8) + 0.1, "lr": 2e-5}
        if with_diagnostics:
            row["own_group_prob"] = 0.25 + 0.5 * (1 - math.exp(-step / 6))
            row["passage_mean_cos"] = 0.3 + 0.01 * step
        rows.append(row)
    return rows


def write_generation(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_queries(folder / "queries.jsonl", QUERIES)
    write_corpus(folder / "corpus.jsonl", [{"_id": d, "title": "", "text": t} for d, (_, _, t) in PASSAGES.items()])
    qrels: dict[str, dict[str, int]] = {}
    for d, (q, lab, _) in PASSAGES.items():
        qrels.setdefault(q, {})[d] = lab
    write_qrels(folder / "qrels" / "train.tsv", qrels)
    (folder / "manifest.json").write_text(json.dumps(GENERATION_MANIFEST))
    return folder


def write_model(folder: Path, loss: str, n_steps: int, start: float, prefixes: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    from sycl.training.config import ExperimentConfig

    config = ExperimentConfig(
        name=loss,
        model={"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean"},
        data={"sources": [{"path": "data", "qrels": "train"}], "group_size": 4},
        loss={"name": loss},
        train={"lr": 2e-5, "batch_size": 8, "epochs": 1, "seed": 13},
        out=str(folder),
    ).model_dump(mode="json")
    info = {
        "kind": "training",
        "config": config,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2",
        "loss": loss,
        "n_queries": 4,
        "label_counts": {"3": 4, "2": 2, "1": 2, "0": 3},
        "seconds": 42.0,
        "steps": n_steps,
    }
    (folder / "training.json").write_text(json.dumps(info))
    (folder / "training_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in training_log(n_steps, start)))
    (folder / "sycl_model.json").write_text(
        json.dumps(
            {
                "kind": "sycl-model",
                "pooling": "mean",
                "normalize": False,
                "similarity": "dot",
                "query_prefix": "query: " if prefixes else "",
                "passage_prefix": "passage: " if prefixes else "",
                "max_query_length": 64,
                "max_passage_length": 256,
            }
        )
    )
    return folder


def write_metrics(folder: Path, name: str, model: str) -> Path:
    results = []
    for ds, (ndcg, rr, r100) in MEASURES[name].items():
        results.append(
            {
                "dataset": ds,
                "split": "test",
                "n_queries": 300 if ds == "scifact" else 225,
                "relevance_level": 1,
                "measures": {"nDCG@10": ndcg, "RR@10": rr, "R@100": r100},
                "per_query": {"nDCG@10": {"1": ndcg}},
                "run_file": f"runs/{ds}.test.trec",
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.json"
    path.write_text(
        json.dumps({"kind": "evaluation", "model": model, "settings": {"batch_size": 32}, "results": results})
    )
    return path


def write_run(root: Path) -> Path:
    """A complete run directory: data/, models/{ws2,infonce}/, eval/{base,ws2,infonce}/, manifest.json."""
    write_generation(root / "data")
    write_model(root / "models" / "ws2", "ws2", 40, 1.5)
    write_model(root / "models" / "infonce", "infonce", 40, 2.5)
    write_metrics(root / "eval" / "base", "base", "sentence-transformers/all-MiniLM-L6-v2")
    write_metrics(root / "eval" / "ws2", "ws2", str(root / "models" / "ws2"))
    write_metrics(root / "eval" / "infonce", "infonce", str(root / "models" / "infonce"))
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "kind": "run",
                "name": "tiny",
                "versions": {"sycl": "0.1.0", "torch": "2.13.0"},
                "seed": 13,
                "config": {"name": "tiny"},
                "stages": {
                    name: {"fingerprint": "ab12", "seconds": s, "finished": "2025-01-01T00:00:00+00:00", "output": o}
                    for name, s, o in (("generate", 12.5, "data/manifest.json"), ("train", 84.0, "models"))
                },
                "started": "2025-01-01T00:00:00+00:00",
            }
        )
    )
    return root
