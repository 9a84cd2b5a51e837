from pathlib import Path

import pytest

from sycl.evaluation.suites import available_suites, expand, load_suite
from sycl.io.errors import DataError


def test_paper_suite_has_the_papers_data_sets_and_conventions():
    suite = load_suite("paper")
    by_name = {e.name: e for e in suite.datasets}
    assert len(suite.datasets) == 17
    assert (by_name["msmarco"].split, by_name["msmarco"].relevance_level, by_name["msmarco"].primary) == (
        "dev",
        1,
        "RR@10",
    )
    for dl in ("trec-dl-2019", "trec-dl-2020"):
        # the reference counts label >= 1 as relevant on TREC DL too (sycl's own convention, 2, is --relevance-level 2)
        assert by_name[dl].relevance_level == 1 and by_name[dl].primary == "nDCG@10"
    assert {(e.precision, e.search_precision, e.encode_backend, e.ignore_identical_ids) for e in suite.datasets} == {
        ("fp32", "fp32", "torch", False)
    }
    beir = {
        "arguana",
        "climate-fever",
        "cqadupstack-android",
        "dbpedia-entity",
        "fever",
        "fiqa",
        "hotpotqa",
        "nfcorpus",
        "nq",
        "quora",
        "scidocs",
        "scifact",
        "webis-touche2020",
        "trec-covid",
    }
    assert beir <= set(by_name)
    assert all(by_name[b].source.startswith("hf://datasets/mteb/") for b in beir)
    assert {e.name for e in load_suite("beir").datasets} == beir


def test_local_suite_root_and_override(monkeypatch, tmp_path):
    assert {"paper", "beir", "local"} <= set(available_suites())
    monkeypatch.delenv("SYCL_DATASETS_ROOT", raising=False)
    assert load_suite("local").datasets[0].source == str(Path("../shared/datasets") / "scifact")
    monkeypatch.setenv("SYCL_DATASETS_ROOT", str(tmp_path))
    assert load_suite("local").datasets[0].source == str(tmp_path / "scifact")


def test_expand_specs(tmp_path):
    f = tmp_path / "my.yaml"
    f.write_text("name: mine\ndatasets:\n  - {name: a, source: /x/a, split: dev, relevance_level: 2}\n")
    entries = expand(
        [str(f), "/data/scifact", "/other/scifact", "hf://datasets/mteb/nfcorpus@main", "cqadupstack/android"],
        split="test",
    )
    assert [(e.name, e.split) for e in entries] == [
        ("a", "dev"),
        ("scifact", "test"),
        ("scifact-2", "test"),
        ("nfcorpus", "test"),
        ("cqadupstack-android", "test"),
    ]
    assert entries[0].relevance_level == 2
    assert all(e.relevance_level == 3 for e in expand([str(f), "/d/x"], relevance_level=3))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\ndatasets:\n  - {name: a, source: x, levle: 2}\n")
    with pytest.raises(DataError, match="levle"):
        load_suite(str(bad))
    with pytest.raises(DataError, match="unknown suite"):
        load_suite("nonexistent-suite")


def test_a_suites_encoder_applies_unless_the_evaluation_names_one(tmp_path):
    """The paper suite encodes with torch as the reference does; a flag (or a config field) still wins."""
    from sycl.evaluation.config import EvaluationConfig
    from sycl.evaluation.evaluator import _entry_settings

    paper = load_suite("paper").datasets[0]
    assert _entry_settings(EvaluationConfig(), paper).encode_backend == "torch"
    assert _entry_settings(EvaluationConfig(encode_backend="auto"), paper).encode_backend == "auto"
    f = tmp_path / "mine.yaml"
    f.write_text(
        "name: mine\ndatasets:\n  - {name: a, source: /x, encode_backend: openvino}\n  - {name: b, source: /y}\n"
    )
    a, b = load_suite(str(f)).datasets
    assert (
        _entry_settings(EvaluationConfig(), a).encode_backend,
        _entry_settings(EvaluationConfig(), b).encode_backend,
    ) == (
        "openvino",
        "auto",
    )
