"""Single hub files (``hf://datasets/<owner>/<name>[@rev]/<path>``) from a fake Hugging Face cache, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from paper_hub import MSMARCO_COMMIT, build_paper_hub, use_hub_cache

from sycl.data.config import SourceConfig
from sycl.data.pool import PassagePool
from sycl.io.errors import DataError
from sycl.io.hub import parse_hub_path
from sycl.io.sources import resolve_location

MSMARCO = f"hf://datasets/mteb/msmarco@{MSMARCO_COMMIT}"
SYCL = "hf://datasets/BatsResearch/sycl"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    hub = build_paper_hub(tmp_path / "hf")
    hub.calls = use_hub_cache(hub.cache, monkeypatch)
    return hub


def test_parse_hub_paths():
    hp = parse_hub_path(f"{MSMARCO}/qrels/dev.tsv")
    assert (hp.repo, hp.revision, hp.path, hp.names_file) == ("mteb/msmarco", MSMARCO_COMMIT, "qrels/dev.tsv", True)
    folder = parse_hub_path(f"{SYCL}/llama33_70b")
    assert folder.revision is None and not folder.names_file
    assert folder.child("corpus.jsonl").spec == f"{SYCL}/llama33_70b/corpus.jsonl"
    with pytest.raises(DataError, match="expected hf://datasets/"):
        parse_hub_path("hf://models/x/y/file.json")


def test_a_hub_file_is_fetched_alone_with_its_revision(hub):
    assert resolve_location(f"{MSMARCO}/queries.jsonl") == hub.msmarco / "queries.jsonl"
    assert resolve_location(f"{SYCL}/llama33_70b/qrels/train.tsv") == hub.sycl / "llama33_70b/qrels/train.tsv"
    assert resolve_location(f"{SYCL}/llama33_70b", "corpus.jsonl") == hub.sycl / "llama33_70b/corpus.jsonl"
    assert hub.calls == [
        ("mteb/msmarco", "queries.jsonl"),
        ("BatsResearch/sycl", "llama33_70b/qrels/train.tsv"),
        ("BatsResearch/sycl", "llama33_70b/corpus.jsonl"),
    ]


@pytest.mark.parametrize(
    "spec, problem",
    [
        (
            f"{SYCL}@v2/llama33_70b/corpus.jsonl",
            "missing revision: the Hugging Face cache holds BatsResearch/sycl but not its revision 'v2'",
        ),
        (f"hf://datasets/mteb/msmarco@{'f' * 40}/queries.jsonl", "missing revision"),
        ("hf://datasets/mteb/msmarco/queries.jsonl", "missing revision"),  # cached only at the pinned commit
        (
            f"{SYCL}/llama33_70b/queries.jsonl",
            "missing file: the cached revision 'main' of BatsResearch/sycl has no file 'llama33_70b/queries.jsonl'",
        ),
        (
            "hf://datasets/nobody/nothing/corpus.jsonl",
            "no network is reachable (HF_HUB_OFFLINE is set) and the data set "
            "nobody/nothing is not in the Hugging Face cache",
        ),
    ],
)
def test_offline_errors_say_what_is_missing(hub, spec, problem):
    with pytest.raises(DataError) as err:
        resolve_location(spec)
    assert err.value.path == spec and err.value.problem.startswith(problem)


def _corrupt(snapshot: Path, rel: str, line: int, text: str) -> None:
    """Replace line ``line`` of a cached file (its blob) with ``text``."""
    blob = (snapshot / rel).resolve()
    lines = blob.read_text().splitlines(keepends=True)
    lines[line - 1] = text + "\n"
    os.chmod(blob, 0o644)
    blob.write_text("".join(lines))


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.startswith(".") or p.name.endswith(".incomplete")]


def test_a_bad_line_in_a_released_file_names_file_and_line_and_leaves_no_half_cache(hub, tmp_path, monkeypatch):
    sycl_cache = tmp_path / "sycl-cache"
    monkeypatch.setenv("SYCL_CACHE", str(sycl_cache))
    negatives = SourceConfig(path=MSMARCO, qrels=f"{SYCL}/real_data/bm25_top_docs/train_qrels.jsonl", group_random_k=2)
    _corrupt(
        hub.sycl, "real_data/bm25_top_docs/train_qrels.jsonl", 3, '{"qid": "1002", "docid": ["f1"], "score": [1, 2]}'
    )
    with pytest.raises(DataError) as err:
        PassagePool.load([negatives])
    assert err.value.path == str(hub.sycl / "real_data/bm25_top_docs/train_qrels.jsonl") and err.value.line == 3
    assert "as long as 'docid'" in err.value.problem
    synthetic = SourceConfig(
        corpus=f"{SYCL}/llama33_70b/corpus.jsonl",
        queries=f"{MSMARCO}/queries.jsonl",
        qrels=f"{SYCL}/llama33_70b/qrels/train.tsv",
    )
    _corrupt(hub.sycl, "llama33_70b/corpus.jsonl", 5, '{"_id": "1001-L3-0", "text": "no closing brace"')
    with pytest.raises(DataError) as err:
        PassagePool.load([synthetic])
    assert err.value.path.endswith("llama33_70b/corpus.jsonl") and err.value.line == 5
    assert not _leftovers(sycl_cache) and not _leftovers(hub.cache)
    assert not (sycl_cache / "pool").exists() or not any((sycl_cache / "pool").iterdir())


@pytest.mark.parametrize(
    "error, problem",
    [
        ("RevisionNotFoundError", "missing revision: BatsResearch/sycl has no revision 'v2' on the hub"),
        (
            "RemoteEntryNotFoundError",
            "missing file: BatsResearch/sycl has no file 'llama33_70b/corpus.jsonl' at revision v2",
        ),
        ("RepositoryNotFoundError", "no data set BatsResearch/sycl on the Hugging Face hub"),
    ],
)
def test_online_errors_say_what_is_missing(monkeypatch, error, problem):
    """With a network, the hub's own answers (404 on the revision, the file or the repository) are told apart."""
    import huggingface_hub
    from huggingface_hub import errors

    cls = getattr(errors, error, None) or getattr(errors, "EntryNotFoundError")  # older huggingface_hub

    def refuse(repo_id, filename, **kw):
        err = cls.__new__(cls)  # the hub's 404 answer, without building an HTTP response
        Exception.__init__(err, "404 not found")
        raise err

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(DataError) as err:
        resolve_location(f"{SYCL}@v2/llama33_70b/corpus.jsonl")
    assert err.value.problem.startswith(problem)
