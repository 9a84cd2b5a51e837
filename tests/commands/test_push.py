"""``sycl push`` against a stand-in hub process on 127.0.0.1 (``tests/fake_hub.py``).

huggingface_hub talks to it over HTTP exactly as to the hub (create repo, branch, validate the
card's YAML, preupload, commit), so what arrives there is what would be published. A model
folder with its checkpoints kept and a generated data set with its journal are pushed; only
the model files / BEIR files and the cards may arrive. The pushed data set is read back through
sycl's own ``hf://`` loader from a Hugging Face cache holding the committed files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_hub import FakeHub
from paper_hub import _write_repo, use_hub_cache

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "training"))
sys.path.insert(0, str(TESTS / "generation"))
from chat_server import ChatServer  # noqa: E402
from tinyexp import MODEL_FILES, experiment, make_graded_set, make_tiny_model  # noqa: E402

TOKEN = "hf_pushtest9876"
DATASET_FILES = {"README.md", "corpus.jsonl", "queries.jsonl", "qrels/train.tsv"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = FakeHub(tmp_path_factory.mktemp("fake-hub"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from sycl.training import train

    root = tmp_path_factory.mktemp("trained")
    data, model = make_graded_set(root / "data"), make_tiny_model(root / "model")
    out = train(experiment(data, model, root / "out", epochs=2, save_every=2, keep_checkpoints=True))
    assert (out / "checkpoints").is_dir() and (out / "training_log.jsonl").is_file()
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A set written by ``sycl generate`` (chat server process, LLM judge on): journal, manifest, judgements."""
    from sycl.generation import GenerationConfig, run_generate

    root = tmp_path_factory.mktemp("generated")
    (root / "q.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": f"pushtest {i} how do tides work"}) + "\n" for i in range(4))
    )
    server = ChatServer(root)
    try:
        cfg = GenerationConfig(
            queries=root / "q.jsonl",
            out=root / "set",
            backend="openai",
            base_url=server.url,
            model="m",
            judge="none",
            max_failure_rate=1.0,
            llm_judge={"enabled": True},
        )
        run_generate(cfg)
    finally:
        server.stop()
    out = root / "set"
    assert {"journal.jsonl", "manifest.json", "llm_judgements.jsonl"} <= {p.name for p in out.iterdir()}
    return out


def sycl_push(hub: FakeHub, *args: str, offline: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HUB_DISABLE_TELEMETRY="1")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "sycl.cli", "push", *args], env=env, capture_output=True, text=True, timeout=300
    )


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card[4 : card.index("\n---\n", 4)])


def test_push_model_sends_the_model_files_and_card_only(hub, trained):
    proc = sycl_push(hub, str(trained), "--repo", "me/tiny-model", "--revision", "v1", "--private")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("/me/tiny-model")
    files = hub.files("models", "me/tiny-model", "v1")
    assert set(files) == MODEL_FILES  # no checkpoints/, optimizer.pt, rng.pt, training_log.jsonl, training.json
    assert files["model.safetensors"] == (trained / "model.safetensors").read_bytes()
    card = files["README.md"].decode()
    assert front_matter(card)["library_name"] == "sentence-transformers"
    assert 'SentenceTransformer("me/tiny-model")' in card
    requests = hub.requests()
    create = next(r for r in requests if r["path"] == "/api/repos/create")
    assert create["payload"] == {"name": "tiny-model", "organization": "me", "visibility": "private", "type": "model"}
    assert any(r.get("branch") == "v1" for r in requests)
    assert any(r.get("validate_yaml") == "model" and not r["errors"] for r in requests)
    # the token from HF_TOKEN went to the hub, and nowhere else
    assert {r["token_tail"] for r in requests if r["path"].startswith("/api/models/")} == {TOKEN[-4:]}
    assert TOKEN not in proc.stdout + proc.stderr


def test_push_dataset_sends_beir_files_and_a_card_from_the_manifest(hub, generated):
    proc = sycl_push(hub, str(generated), "--repo", "me/tides", "--repo-type", "dataset", "--license", "cc-by-4.0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = hub.files("datasets", "me/tides")
    assert set(files) == DATASET_FILES  # no journal.jsonl, manifest.json, llm_judgements.jsonl
    for name in DATASET_FILES - {"README.md"}:
        assert files[name] == (generated / name).read_bytes()
    card = files["README.md"].decode()
    meta = front_matter(card)
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["text-retrieval"]
    assert meta["configs"] == [
        {"config_name": "corpus", "data_files": [{"split": "corpus", "path": "corpus.jsonl"}]},
        {"config_name": "queries", "data_files": [{"split": "queries", "path": "queries.jsonl"}]},
        {"config_name": "default", "data_files": [{"split": "train", "path": "qrels/train.tsv"}]},
    ]
    manifest = json.loads((generated / "manifest.json").read_text())
    assert manifest["counts_per_level"] == {"3": 4, "2": 4, "1": 4, "0": 4}
    assert "| 3 | perfectly relevant | 4 |" in card and "| 0 | irrelevant | 4 |" in card
    assert "| corpus.jsonl | 16 documents |" in card
    assert "| qrels/train.tsv | 16 judgements of 4 queries (label 3: 4, label 2: 4, label 1: 4, label 0: 4) |" in card
    assert "| generator | m (openai backend) |" in card and "| temperature | 0.8 |" in card
    assert manifest["prompt"]["sha256"] in card and manifest["prompt"]["template"].splitlines()[-1] in card
    assert "LLM judge `m`: Cohen's kappa 1.0 and exact agreement 1.0" in card
    assert "- origin: a local file, `q.jsonl`" in card
    assert str(generated.parent) not in card and "127.0.0.1" not in card  # no local paths or server addresses
    assert 'load_dataset("me/tides", "default", split="train")' in card


def test_pushed_dataset_reads_back_through_the_hf_loader(hub, generated, tmp_path, monkeypatch):
    from sycl.io.beir import read_qrels, read_queries
    from sycl.io.sources import resolve_dataset

    proc = sycl_push(hub, str(generated), "--repo", "me/tides-readback", "--repo-type", "dataset")
    assert proc.returncode == 0, proc.stderr[-3000:]
    committed = {k: v.decode() for k, v in hub.files("datasets", "me/tides-readback").items()}
    _write_repo(tmp_path / "hf", "me/tides-readback", "ab" * 20, committed)
    use_hub_cache(tmp_path / "hf", monkeypatch)
    folder = resolve_dataset("hf://datasets/me/tides-readback")
    assert read_queries(folder / "queries.jsonl") == read_queries(generated / "queries.jsonl")
    assert read_qrels(folder / "qrels" / "train.tsv") == read_qrels(generated / "qrels" / "train.tsv")
    assert (folder / "corpus.jsonl").read_bytes() == (generated / "corpus.jsonl").read_bytes()


def test_push_offline_fails_with_one_line_and_writes_nothing(hub, generated, tmp_path):
    import shutil

    copy = tmp_path / "set"
    shutil.copytree(generated, copy)
    (copy / "README.md").unlink(missing_ok=True)  # written by an earlier push
    before = len(hub.requests())
    proc = sycl_push(hub, str(copy), "--repo", "me/offline", "--repo-type", "dataset", offline=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sycl push: error: ")
    assert "no network is reachable (HF_HUB_OFFLINE is set)" in lines[0]
    assert not (copy / "README.md").exists() and len(hub.requests()) == before


def test_push_checks_the_folder_before_the_network(hub, trained, tmp_path):
    proc = sycl_push(hub, str(trained), "--repo", "me/x", "--repo-type", "dataset")
    assert proc.returncode == 2 and "corpus.jsonl: not found: a data set to push is a BEIR folder" in proc.stderr
    proc = sycl_push(hub, str(tmp_path), "--repo", "me/x")
    assert proc.returncode == 2 and "not a sentence-transformers model directory" in proc.stderr
    proc = sycl_push(hub, str(trained), "--repo", "not a repo")
    assert proc.returncode == 2 and "repo: String should match pattern" in proc.stderr
