"""What ``push_to_hub`` uploads, selected by huggingface_hub's own filter over a real trained folder.

The upload is intercepted at ``HfApi.upload_folder``; the patterns sycl passes there are run
through ``huggingface_hub.utils.filter_repo_objects`` (what ``upload_folder`` itself does) over
every file of a model directory that ``sycl train`` wrote with its checkpoints kept. Nothing of
the training state may be selected, and the selected files alone must load as the same model.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from tinyexp import MODEL_FILES, experiment, make_graded_set, make_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A model folder written by ``train`` with checkpoints kept (model.pt, optimizer.pt, rng.pt)."""
    from sycl.training import train

    root = tmp_path_factory.mktemp("trained")
    data, model = make_graded_set(root / "data"), make_tiny_model(root / "model")
    cfg = experiment(data, model, root / "out", epochs=2, save_every=2, keep_checkpoints=True)
    out = train(cfg)
    assert (out / "checkpoints").is_dir()
    return out


def files_of(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def intercepted_upload(monkeypatch) -> list[dict]:
    """Record the keyword arguments of ``HfApi.upload_folder`` instead of sending anything."""
    from huggingface_hub import HfApi, constants

    calls: list[dict] = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: f"https://huggingface.co/{repo_id}")
    monkeypatch.setattr(HfApi, "create_branch", lambda self, repo_id, **kw: None)
    monkeypatch.setattr(HfApi, "upload_folder", lambda self, **kw: calls.append(kw))
    return calls


def test_push_selects_only_the_model_files(trained, monkeypatch):
    from huggingface_hub.utils import filter_repo_objects

    from sycl.reporting import push_to_hub

    calls = intercepted_upload(monkeypatch)
    push_to_hub(trained, "someone/tiny")
    assert len(calls) == 1
    kw = calls[0]
    everything = files_of(trained)
    assert any(f.endswith("optimizer.pt") for f in everything)  # the folder really holds training state
    selected = set(
        filter_repo_objects(
            everything, allow_patterns=kw.get("allow_patterns"), ignore_patterns=kw.get("ignore_patterns")
        )
    )
    leaked = sorted(
        f
        for f in selected
        if f.startswith("checkpoints/")
        or f.endswith((".pt", ".jsonl"))
        or f in ("training.json", "experiment.yaml", "journal.jsonl")
    )
    assert not leaked, f"training state selected for upload: {leaked}"
    assert selected == MODEL_FILES
    assert kw.get("allow_patterns"), "the upload must be an allow-list"


def test_selected_files_alone_load_as_the_trained_model(trained, monkeypatch, tmp_path):
    from huggingface_hub.utils import filter_repo_objects
    from sentence_transformers import SentenceTransformer

    from sycl.reporting import push_to_hub

    calls = intercepted_upload(monkeypatch)
    push_to_hub(trained, "someone/tiny")
    copy = tmp_path / "uploaded"
    for rel in filter_repo_objects(files_of(trained), allow_patterns=calls[0]["allow_patterns"]):
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trained / rel, copy / rel)
    texts = ["how do bee colonies work", "this passage mentions glacier melt"]
    a = SentenceTransformer(str(trained), device="cpu").encode(texts)
    b = SentenceTransformer(str(copy), device="cpu").encode(texts)
    assert abs(a - b).max() < 1e-6
