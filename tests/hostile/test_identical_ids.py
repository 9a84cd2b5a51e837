"""The identical-id rule on collections whose ids coincide by numbering, not by design.

Cranfield and CISI number queries and documents from 1, so query 225 of Cranfield and seven CISI
queries judge the document with their own id relevant. BEIR's rule (drop a retrieved document whose
id equals the query id) exists for ArguAna and Quora, whose queries are corpus documents; applied
everywhere, it made those judged-relevant documents unreachable: 1 on Cranfield, 7 on CISI. It is
now off unless a suite entry turns it on, and when it drops a judged-relevant document the count is
logged, recorded in ``metrics.json`` and noted in ``summary.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sycl.evaluation import evaluate
from sycl.io import read_qrels, read_run

# tests/conftest.py's SHARED_DATASETS (``from conftest import`` would find tests/hostile/conftest.py)
SHARED_DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"

# queries that judge their own-id document relevant (label > 0), read from the collections' qrels
SELF_JUDGED = {"cranfield": {"225"}, "cisi": {"23", "27", "34", "46", "69", "71", "109"}}


@pytest.fixture(scope="module")
def minilm():
    from sycl.modeling import BiEncoder

    return BiEncoder.from_pretrained()


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """One embedding cache for the module: each collection is encoded once."""
    return str(tmp_path_factory.mktemp("vectors"))


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    """Each collection with all its queries and judgements, and a corpus cut to the self-judged
    documents plus 40 others (encoding the whole corpus takes minutes on a shared CPU; judged
    documents left out only add a "missing from the corpus" warning)."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real collections not found at {SHARED_DATASETS}")
    root = tmp_path_factory.mktemp("collections")
    for name, own in SELF_JUDGED.items():
        src, dst = SHARED_DATASETS / name, root / name
        (dst / "qrels").mkdir(parents=True)
        shutil.copy(src / "queries.jsonl", dst / "queries.jsonl")
        shutil.copy(src / "qrels" / "test.tsv", dst / "qrels" / "test.tsv")
        kept, others = [], 0
        for line in (src / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
            doc_id = json.loads(line)["_id"]
            if doc_id in own or others < 40:
                others += doc_id not in own
                kept.append(line)
        (dst / "corpus.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("name", sorted(SELF_JUDGED))
def test_the_collections_judge_their_own_ids(shared_datasets, name):
    qrels = read_qrels(shared_datasets / name / "qrels" / "test.tsv")
    assert {q for q, docs in qrels.items() if docs.get(q, 0) > 0} == SELF_JUDGED[name]


@pytest.mark.parametrize("name", sorted(SELF_JUDGED))
def test_no_document_is_dropped_by_default(collections, name, minilm, vectors, tmp_path):
    out = tmp_path / "eval"
    report = evaluate(minilm, str(collections / name), out, k=100, cache_dir=vectors, show_progress=False)
    r = report["results"][0]
    assert r["ignore_identical_ids"] is False
    assert r["identical_ids_excluded"] == 0 and r["relevant_identical_dropped"] == 0
    assert "identical-id rule" not in (out / "summary.md").read_text()


@pytest.mark.parametrize("name", sorted(SELF_JUDGED))
def test_a_suite_entry_that_enables_the_rule_shows_what_it_drops(collections, name, minilm, vectors, tmp_path, logged):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"name: own-ids\nroot: {collections}\n"
        f"datasets:\n  - {{name: {name}, source: {name}, split: test, ignore_identical_ids: true}}\n"
    )
    out = tmp_path / "eval"
    evaluate(minilm, str(suite), out, k=100, cache_dir=vectors, show_progress=False)
    r = json.loads((out / "metrics.json").read_text())["results"][0]
    n = len(SELF_JUDGED[name])
    assert r["ignore_identical_ids"] is True and r["relevant_identical_dropped"] == n
    run = read_run(out / r["run_file"])
    assert all(q not in run[q] for q in SELF_JUDGED[name])  # unreachable: the rule removed them
    assert any(f"makes {n} judged-relevant" in rec.getMessage() for rec in logged)
    assert f"the identical-id rule dropped {n} judged-relevant" in (out / "summary.md").read_text()
