"""The quality judge: Kendall tau, expected order, and --filter-inconsistent with the real encoder."""

from __future__ import annotations

import json

import pytest

from sycl.generation import GenerationConfig, run_generate
from sycl.generation.dataset import Context
from sycl.generation.quality import expected_order, kendall_tau_b, quality_report, score_contexts


def test_kendall_tau_b_and_expected_order():
    assert kendall_tau_b([0.9, 0.5, 0.3, 0.1], [3, 2, 1, 0]) == 1.0
    assert kendall_tau_b([0.1, 0.3, 0.5, 0.9], [3, 2, 1, 0]) == -1.0
    assert kendall_tau_b([0.9, 0.3, 0.5, 0.1], [3, 2, 1, 0]) == pytest.approx(4 / 6)
    assert kendall_tau_b([0.5, 0.5, 0.1], [2, 1, 0]) == pytest.approx(2 / (3 * 2) ** 0.5)  # tau-b with a tie
    assert expected_order([0.9, 0.8, 0.5, 0.4, 0.1], [3, 3, 2, 1, 0])
    assert not expected_order([0.9, 0.5, 0.6, 0.1], [3, 2, 1, 0])


def test_judge_scores_on_topic_passages_higher(tmp_path):
    good = Context(
        "q",
        "how do honey bees fly",
        0,
        [
            ("q-L3-0", 3, "Honey bees fly by beating their wings about 230 times per second in a figure-eight stroke."),
            ("q-L0-0", 0, "The 1998 municipal budget allocated funds for repaving three downtown parking lots."),
        ],
    )
    bad = Context("r", "how do honey bees fly", 0, [(pid, 3 - lab, t) for pid, lab, t in good.passages])
    scores = score_contexts([good, bad])
    assert scores[0][0] > scores[0][1] + 0.2
    summary, rows = quality_report([good, bad], scores, "all-MiniLM-L6-v2")
    assert [r["kendall_tau"] for r in rows] == [1.0, -1.0]
    assert summary["share_expected_order"] == 0.5 and summary["kendall_tau_mean"] == 0.0


def test_filter_inconsistent_drops_reversed_contexts(chat_server, unique, tmp_path, write_queries):
    # the test server's level-0 passages are random words, level 3 restates the query: the judge agrees
    qfile = write_queries(tmp_path / "q.jsonl", {f"q{i}": f"{unique} how do honey bees fly {i}" for i in range(3)})
    out = tmp_path / "out"
    cfg = GenerationConfig(
        queries=qfile,
        out=out,
        backend="openai",
        base_url=chat_server.url,
        model="m",
        filter_inconsistent=True,
        min_tau=0.0,
    )
    m = run_generate(cfg).manifest
    q = m["quality"]
    assert q["judge"] == "all-MiniLM-L6-v2" and q["contexts"] == 3
    assert q["per_level_mean"]["3"] > q["per_level_mean"]["0"]
    assert q["dropped"] == sum(
        1 for line in (out / "quality.jsonl").read_text().splitlines() if json.loads(line)["kendall_tau"] < 0.0
    )
    assert m["counts"]["contexts"] == 3 - q["dropped"]
    # an impossible threshold drops everything that is not perfectly ordered
    m2 = run_generate(cfg.model_copy(update={"min_tau": 1.0})).manifest
    assert m2["counts"]["contexts"] == sum(
        1 for line in (out / "quality.jsonl").read_text().splitlines() if json.loads(line)["kendall_tau"] >= 1.0
    )
