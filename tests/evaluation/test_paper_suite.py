"""The ``paper`` suite's MS MARCO entries on a fake Hugging Face cache of the released files, offline."""

from __future__ import annotations

import json

import pytest
import yaml
from paper_hub import DEV, DL19, DL20, MSMARCO_COMMIT, build_paper_hub, use_hub_cache

from sycl.evaluation import evaluate
from sycl.evaluation.evaluator import locate
from sycl.evaluation.suites import load_suite

MSMARCO = ("msmarco", "trec-dl-2019", "trec-dl-2020")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    return build_paper_hub(tmp_path_factory.mktemp("hf-cache"))


def test_paper_suite_pins_msmarco_and_reads_dl2020_from_the_released_files(hub, monkeypatch):
    calls = use_hub_cache(hub.cache, monkeypatch)
    by_name = {e.name: e for e in load_suite("paper").datasets}
    for name in ("msmarco", "trec-dl-2019"):
        assert by_name[name].source == f"hf://datasets/mteb/msmarco@{MSMARCO_COMMIT}"
    dl20 = locate(by_name["trec-dl-2020"])
    assert dl20.corpus == hub.msmarco / "corpus.jsonl"
    assert (dl20.queries, dl20.qrels) == (
        hub.sycl / "real_data/trec20/queries.jsonl",
        hub.sycl / "real_data/trec20/qrel.tsv",
    )
    # three single files, no snapshot of either repository
    assert sorted(calls) == [
        ("BatsResearch/sycl", "real_data/trec20/qrel.tsv"),
        ("BatsResearch/sycl", "real_data/trec20/queries.jsonl"),
        ("mteb/msmarco", "corpus.jsonl"),
    ]
    assert locate(by_name["trec-dl-2019"]).qrels == hub.msmarco / "qrels" / "test.tsv"
    assert all("@" in e.source for e in by_name.values() if e.source)  # every hub source is pinned


def test_paper_suite_evaluates_msmarco_dev_and_trec_dl_as_the_reference_does(hub, monkeypatch, tmp_path, minilm):
    use_hub_cache(hub.cache, monkeypatch)
    entries = [e.model_dump(exclude_none=True) for e in load_suite("paper").datasets if e.name in MSMARCO]
    suite = tmp_path / "paper-msmarco.yaml"
    suite.write_text(yaml.safe_dump({"name": "paper-msmarco", "datasets": entries}))
    report = evaluate(minilm, [str(suite)], tmp_path / "eval", show_progress=False)
    res = {r["dataset"]: r for r in report["results"]}
    assert set(res) == set(MSMARCO)
    assert {r["n_documents"] for r in res.values()} == {30}  # all three over the one MS MARCO corpus
    assert [res[n]["n_queries"] for n in MSMARCO] == [len(DEV), len(DL19), len(DL20)]
    assert [res[n]["relevance_level"] for n in MSMARCO] == [1, 1, 1]  # the reference's threshold everywhere
    # the reference's encoding (no autocast) and exact search, and no identical-id rule
    assert {(r["precision"], r["search_precision"], r["ignore_identical_ids"]) for r in res.values()} == {
        ("fp32", "fp32", False)
    }
    assert "BatsResearch/sycl/real_data/trec20/qrel.tsv" in res["trec-dl-2020"]["source"]
    # the whole corpus is retrieved (k = 1000 > 30 passages), so recall is 1 wherever a document
    # counts as relevant: label >= 1, so also the second query of each TREC DL year, which has only
    # label-1 judgements
    assert res["msmarco"]["per_query"]["R@1000"] == {q: 1.0 for q in DEV}
    for name, qids in (("trec-dl-2019", DL19), ("trec-dl-2020", DL20)):
        assert res[name]["per_query"]["R@1000"] == {qids[0]: 1.0, qids[1]: 1.0}
        assert res[name]["per_query"]["nDCG@10"][qids[1]] > 0  # nDCG stays graded: label 1 has gain 1
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (tmp_path / "eval" / "runs" / "trec-dl-2020.test.trec").is_file() and len(metrics["results"]) == 3
    # sycl's TREC DL convention (label >= 2) and its measured-fastest precisions are one option away
    own = evaluate(
        minilm,
        [str(suite)],
        tmp_path / "own",
        relevance_level=2,
        precision="bf16",
        search_precision="auto",
        show_progress=False,
    )
    dl19 = next(r for r in own["results"] if r["dataset"] == "trec-dl-2019")
    assert dl19["relevance_level"] == 2 and dl19["per_query"]["R@1000"] == {DL19[0]: 1.0, DL19[1]: 0.0}
    assert (dl19["precision"], dl19["search_precision"]) == ("bf16", "auto")
