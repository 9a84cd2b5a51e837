"""``hf://`` paths cannot leave the Hugging Face cache: ``..``, ``.``, empty or absolute parts are refused.

A fake cache (``tests/paper_hub.py``) holds ``BatsResearch/sycl``; a folder outside it, laid out like a hub
data set that would be converted, is aimed at with ``..`` parts. The real ``sycl validate`` must refuse
the path before reading anything, exit 2 naming it, and leave the folder's files as they were.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paper_hub import SYCL_COMMIT, build_paper_hub, use_hub_cache

import sycl
from sycl.io.errors import DataError
from sycl.io.hub import parse_hub_path
from sycl.io.sources import resolve_dataset, resolve_location

SYCL = "hf://datasets/BatsResearch/sycl"


def _victim(root: Path) -> dict[str, bytes]:
    """A folder a conversion would rewrite (gzipped JSONL, no corpus.jsonl), plus a file of the user's."""
    (root / "qrels").mkdir(parents=True)
    with gzip.open(root / "corpus.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"_id": "d1", "title": "", "text": "x"}) + "\n")
    with gzip.open(root / "queries.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"_id": "q1", "text": "y"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (root / "thesis.tex").write_text("three years of work\n")
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_sycl_validate_refuses_a_traversal_and_leaves_the_folder_alone(tmp_path):
    hub = build_paper_hub(tmp_path / "hf")
    victim = tmp_path / "victim"
    before = _victim(victim)
    spec = SYCL + "/" + "../" * 30 + str(victim).lstrip("/")
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(hub.cache),
        "HF_HUB_OFFLINE": "1",
        "SYCL_CACHE": str(tmp_path / "sycl-cache"),
        "PYTHONPATH": str(Path(sycl.__file__).resolve().parents[1]),  # the sycl under test
    }
    done = subprocess.run(
        [sys.executable, "-m", "sycl.cli", "validate", spec], capture_output=True, text=True, timeout=300, env=env
    )
    assert _files(victim) == before  # nothing removed, nothing rewritten
    assert done.returncode == 2, done.stderr
    assert f"sycl validate: error: {spec}: " in done.stderr
    assert "'..'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "sycl-cache" / "hub").exists()  # refused before any conversion started


@pytest.mark.parametrize(
    "tail, problem",
    [
        ("/../../../etc", "'..'"),
        ("/llama33_70b/../../x", "'..'"),
        ("/./llama33_70b", "'.'"),
        ("/llama33_70b//qrels/train.tsv", "empty"),
        ("//etc/passwd", "empty"),
        ("@../../..", "revision"),
        ("@main/../../x/corpus.jsonl", "'..'"),
        ("@refs/pr/1/../..", "'..'"),
    ],
)
def test_bad_path_parts_are_named(tail, problem):
    with pytest.raises(DataError, match=problem) as info:
        parse_hub_path(SYCL + tail)
    assert str(info.value).startswith(f"{SYCL}{tail}: ")


@pytest.mark.parametrize("repo", ["..%2F..", "a/..", "../b", "a--b/c", "a/b.git", "-a/b", "a/" + "b" * 100])
def test_repository_ids_follow_the_hubs_rules(repo):
    with pytest.raises(DataError, match="repository id") as info:
        parse_hub_path(f"hf://datasets/{repo}/corpus.jsonl")
    assert str(info.value).startswith(f"hf://datasets/{repo}/corpus.jsonl: ")


def test_good_paths_still_parse():
    hp = parse_hub_path(f"{SYCL}@refs/pr/3/llama33_70b/corpus.jsonl")
    assert (hp.repo, hp.revision, hp.path) == ("BatsResearch/sycl", "refs/pr/3", "llama33_70b/corpus.jsonl")
    hp = parse_hub_path(f"{SYCL}@{SYCL_COMMIT}/llama33_70b/")
    assert (hp.revision, hp.path) == (SYCL_COMMIT, "llama33_70b")
    hp = parse_hub_path("hf://datasets/my-org/data.v2_x@feature%2Fx/a..b/c.d.jsonl")  # '..' inside a name is fine
    assert (hp.repo, hp.revision, hp.path) == ("my-org/data.v2_x", "feature/x", "a..b/c.d.jsonl")


def test_api_callers_are_refused_too(tmp_path, monkeypatch):
    hub = build_paper_hub(tmp_path / "hf")
    use_hub_cache(hub.cache, monkeypatch)
    victim = tmp_path / "victim"
    before = _victim(victim)
    up = "../" * 30 + str(victim).lstrip("/")
    for call in (
        lambda: resolve_dataset(f"{SYCL}/{up}"),
        lambda: resolve_location(f"{SYCL}/{up}", "corpus.jsonl"),
        lambda: resolve_location(f"{SYCL}/{up}/thesis.tex"),
    ):
        with pytest.raises(DataError, match="'..'"):
            call()
    assert _files(victim) == before
