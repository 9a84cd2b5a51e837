"""End to end on real data: all-MiniLM-L6-v2 zero-shot on SciFact test reproduces the published 0.647."""

import pytest
from eval_data import SHARED

pytestmark = pytest.mark.integration


@pytest.mark.skipif(not (SHARED / "scifact").is_dir(), reason="../shared/datasets/scifact is absent")
def test_minilm_scifact_ndcg(tmp_path, minilm, monkeypatch):
    from sycl.evaluation import evaluate

    # keep vectors between runs: the cache key is the weights + settings + texts, so a hit is exact
    monkeypatch.delenv("SYCL_CACHE", raising=False)
    rep = evaluate(
        minilm,
        [str(SHARED / "scifact")],
        tmp_path,
        max_query_length=256,
        max_passage_length=256,
        search_precision="fp32",
    )
    r = rep["results"][0]
    assert r["n_queries"] == 300 and r["n_documents"] == 5183 and r["missing_documents"] == 0
    assert r["measures"]["nDCG@10"] == pytest.approx(0.647, abs=0.003)
    # the search path measured fastest here (bf16 or int8 candidates + fp32 rescoring, or fp32 itself)
    # retrieves the same 1,000 documents per query in the same order
    fast = evaluate(
        minilm,
        [str(SHARED / "scifact")],
        tmp_path / "auto",
        max_query_length=256,
        max_passage_length=256,
        search_precision="auto",
    )
    assert fast["kernels"]["auto_search"] in ("fp32", "bf16", "int8")
    assert fast["results"][0]["measures"] == r["measures"]
    assert (tmp_path / "auto" / r["run_file"]).read_bytes() == (tmp_path / r["run_file"]).read_bytes()
