import json

import pytest
import torch
from eval_data import QRELS, make_beir

from sycl.evaluation import evaluate
from sycl.evaluation.metrics import compute_metrics
from sycl.io import read_qrels, read_run
from sycl.io.errors import DataError


def test_outputs_follow_the_contract(tiny, tmp_path, minilm):
    out = tmp_path / "eval"
    report = evaluate(minilm, [str(tiny)], out, k=5)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["kind"] == "evaluation" and saved["settings"]["k"] == 5
    assert saved["settings"]["search_precision"] is None  # none asked for: each data set's own, else auto
    assert saved["results"][0]["search_precision"] == "auto"  # the measured path: named in "kernels"
    assert (
        saved["kernels"]["auto_search"] in ("fp32", "bf16", "int8")
        and saved["kernels"]["cpu"] in saved["kernels"]["line"]
    )
    r = saved["results"][0]
    assert (r["dataset"], r["split"], r["n_queries"], r["relevance_level"]) == ("tiny", "test", 4, 1)
    assert list(r["measures"]) == ["nDCG@10", "RR@10", "R@100", "R@1000", "AP@1000"]
    assert set(r["per_query"]["nDCG@10"]) == set(QRELS)
    assert r["run_file"] == "runs/tiny.test.trec"
    run = read_run(out / r["run_file"])
    assert set(run) == set(QRELS) and all(len(d) == 5 for d in run.values())
    # the numbers are those of trec_eval on the written run
    means, _ = compute_metrics(read_qrels(tiny / "qrels" / "test.tsv"), run)
    for m, v in means.items():
        assert r["measures"][m] == pytest.approx(v, abs=1e-5)
    assert r["measures"]["nDCG@10"] > 0.8  # a sane retriever on an easy set
    summary = (out / "summary.md").read_text()
    assert "| tiny | test | 4 | 1 |" in summary and "nDCG@10" in summary


def test_identical_id_rule(tiny, tmp_path, minilm):
    on = evaluate(minilm, str(tiny), tmp_path / "on", k=3, ignore_identical_ids=True)
    off = evaluate(minilm, str(tiny), tmp_path / "off", k=3)  # off unless asked for (or a suite entry says so)
    run_on, run_off = read_run(tmp_path / "on/runs/tiny.test.trec"), read_run(tmp_path / "off/runs/tiny.test.trec")
    top_off = max(run_off["d5"], key=run_off["d5"].get)
    assert top_off == "d5"  # the document identical to the query wins without the rule
    assert "d5" not in run_on["d5"]
    assert on["results"][0]["identical_ids_excluded"] == 1 and off["results"][0]["identical_ids_excluded"] == 0
    assert (on["results"][0]["ignore_identical_ids"], off["results"][0]["ignore_identical_ids"]) == (True, False)
    assert on["results"][0]["per_query"]["RR@10"]["d5"] > off["results"][0]["per_query"]["RR@10"]["d5"]


def test_cache_reused_and_invalidated_by_weight_changes(tiny, tmp_path, minilm):
    cache = tmp_path / "emb"
    first = evaluate(minilm, str(tiny), tmp_path / "a", cache_dir=str(cache))
    again = evaluate(minilm, str(tiny), tmp_path / "b", cache_dir=str(cache))
    assert first["results"][0]["cache"] == {"queries": False, "corpus": False}
    assert again["results"][0]["cache"] == {"queries": True, "corpus": True}
    assert again["results"][0]["measures"] == first["results"][0]["measures"]
    n_entries = len(list(cache.rglob("*.npy")))
    weight = minilm.transformer.embeddings.word_embeddings.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.mul_(1.5)
    try:
        changed = evaluate(minilm, str(tiny), tmp_path / "c", cache_dir=str(cache))
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert changed["results"][0]["cache"] == {"queries": False, "corpus": False}
    assert changed["settings"]["model_fingerprint"] != first["settings"]["model_fingerprint"]
    assert len(list(cache.rglob("*.npy"))) == n_entries + 2
    run_a = read_run(tmp_path / "a/runs/tiny.test.trec")
    run_c = read_run(tmp_path / "c/runs/tiny.test.trec")
    assert run_a != run_c  # different weights, different scores: stale vectors were not reused
    restored = evaluate(minilm, str(tiny), tmp_path / "d", cache_dir=str(cache))
    assert restored["results"][0]["cache"] == {"queries": True, "corpus": True}
    # an encoding setting is part of the key too
    shorter = evaluate(minilm, str(tiny), tmp_path / "e", cache_dir=str(cache), max_passage_length=8)
    assert shorter["results"][0]["cache"] == {"queries": True, "corpus": False}


def test_unknown_split_lists_the_known_ones(tiny, tmp_path, minilm):
    with pytest.raises(DataError, match="unknown split 'dev'; available: test"):
        evaluate(minilm, str(tiny), tmp_path / "x", split="dev")


def test_empty_corpus_is_an_error(tmp_path, minilm):
    folder = make_beir(tmp_path / "empty")
    (folder / "corpus.jsonl").write_text("")
    with pytest.raises(DataError, match="empty"):
        evaluate(minilm, str(folder), tmp_path / "x")


def test_judgements_of_missing_documents_are_counted(tmp_path, minilm):
    qrels = {**QRELS, "q4": {"d7": 1, "gone": 2}}
    folder = make_beir(tmp_path / "m", qrels=qrels)
    rep = evaluate(minilm, str(folder), tmp_path / "x", k=5)
    r = rep["results"][0]
    assert r["missing_documents"] == 1 and r["missing_examples"] == ["q4:gone"]
    assert r["per_query"]["R@100"]["q4"] == pytest.approx(0.5)  # relevant but unretrievable
    assert "1 of 8 judgements" in (tmp_path / "x" / "summary.md").read_text()
    with pytest.raises(DataError, match="missing"):
        evaluate(minilm, str(folder), tmp_path / "y", strict=True)
    nowhere = make_beir(tmp_path / "n", qrels={"q1": {"zz": 1}})
    with pytest.raises(DataError, match="right corpus"):
        evaluate(minilm, str(nowhere), tmp_path / "z")


def test_model_directory_missing_files(tiny, tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "modules.json").write_text("[]")
    with pytest.raises(DataError, match="config.json"):
        evaluate(str(broken), str(tiny), tmp_path / "x")
    (broken / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(DataError, match="cannot load model"):
        evaluate(str(broken), str(tiny), tmp_path / "x")


def test_relevance_level_override_and_measure_choice(tiny, tmp_path, minilm):
    rep = evaluate(minilm, str(tiny), None, relevance_level=2, measures=["nDCG@10", "R@2"])
    r = rep["results"][0]
    assert r["relevance_level"] == 2 and list(r["measures"]) == ["nDCG@10", "R@2"]
    # q3 and q4 have no judgement at level 2: their recall is 0
    assert r["per_query"]["R@2"]["q3"] == 0.0 and r["per_query"]["R@2"]["q4"] == 0.0
