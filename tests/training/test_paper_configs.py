"""The paper's four runs (``configs/paper/*.yaml``) start on the released files, offline.

A fake Hugging Face cache holds exactly the released paths (``tests/paper_hub.py``); each shipped
config then loads through ``sycl train`` unchanged except for the model (the embedded MiniLM
stands in for Contriever), DeepSpeed (``train.deepspeed=null``: no GPU here) and a small batch,
and trains two steps without a network.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from paper_hub import MSMARCO_COMMIT, TRAIN, build_paper_hub, use_hub_cache

from sycl.cli import main

REPO = Path(__file__).resolve().parents[2]
RUNS = ["real-binary", "synthetic-binary", "synthetic-multilevel", "synthetic-plus-real"]
# (format, passages per query, label counts of the epoch-0 pool over the 8 training queries)
EXPECTED = {
    "real-binary": {"1": 8, "0": 16},  # 1 positive + 2 of 4 BM25 negatives per query
    "synthetic-binary": {"1": 16, "0": 16},  # levels 3, 2 positive; 1, 0 negative
    "synthetic-multilevel": {"3": 8, "2": 8, "1": 8, "0": 8},
    "synthetic-plus-real": {"3": 16, "2": 8, "1": 24, "0": 8},  # + real positive as 3, 2 BM25 negatives as 1
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    return build_paper_hub(tmp_path_factory.mktemp("hf-cache"))


@pytest.fixture
def downloads(hub, monkeypatch):
    return use_hub_cache(hub.cache, monkeypatch)


@pytest.mark.parametrize("run", RUNS)
def test_paper_run_trains_two_steps_on_the_released_layout(run, downloads, tmp_path):
    out = tmp_path / run
    rc = main(
        [
            "-q",
            "train",
            "--config",
            str(REPO / "configs" / "paper" / f"{run}.yaml"),
            "--out",
            str(out),
            "--model",
            "embedded:all-MiniLM-L6-v2",
            "--set",
            "train.deepspeed=null",
            "--max-steps",
            "2",
            "--batch-size",
            "2",
            "--set",
            "train.gradient_accumulation=1",
            "--set",
            "train.log_every=1",
            "--set",
            "model.max_query_length=16",
            "--set",
            "model.max_passage_length=24",
            "--set",
            "train.threads=1",
        ]
    )
    assert rc == 0
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(math.isfinite(r["loss"]) for r in log)
    info = json.loads((out / "training.json").read_text())
    assert info["n_queries"] == len(TRAIN) and info["steps"] == 2
    assert info["label_counts"] == EXPECTED[run]
    assert info["config"]["train"]["deepspeed"] is None
    fetched = set(downloads)
    if run.startswith("synthetic") and run != "synthetic-plus-real":
        # MS MARCO's queries alone: never its corpus, never a snapshot of the repository
        assert ("mteb/msmarco", "queries.jsonl") in fetched
        assert not {("mteb/msmarco", "corpus.jsonl"), ("mteb/msmarco", "<snapshot>")} & fetched
    else:
        assert ("mteb/msmarco", "<snapshot>") in fetched
    assert all(
        not f.startswith("llama33_70b/") or f in ("llama33_70b/corpus.jsonl", "llama33_70b/qrels/train.tsv")
        for _, f in fetched
    )


@pytest.mark.parametrize("run", RUNS)
def test_paper_configs_pin_msmarco_to_one_revision(run):
    text = (REPO / "configs" / "paper" / f"{run}.yaml").read_text()
    lines = [line for line in text.splitlines() if "mteb/msmarco" in line]
    # every paper run reads MS MARCO (its queries, or its corpus and judgements): a config that
    # stopped naming it would make the pin below vacuous, so its absence fails too
    assert lines, f"configs/paper/{run}.yaml does not mention mteb/msmarco"
    for line in lines:
        assert f"mteb/msmarco@{MSMARCO_COMMIT}" in line, (run, line)
