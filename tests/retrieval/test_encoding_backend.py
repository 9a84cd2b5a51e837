"""The encoder path of retrieval encoding: part of the embedding cache key, recorded in metrics.json, checked early."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sycl.cli import main
from sycl.retrieval.cache import EmbeddingCache, model_fingerprint
from sycl.retrieval.encoding import ListTexts, encode

TEXTS = [
    "Cells divide by mitosis.",
    "Proteins fold into three-dimensional shapes that decide what they do in the cell.",
    "Vitamin D deficiency is associated with bone loss.",
    "a short one",
]


@pytest.fixture(scope="module")
def minilm():
    from sycl.modeling.encoder import BiEncoder

    model = BiEncoder.from_pretrained("embedded:all-MiniLM-L6-v2")
    return model, model_fingerprint(model)


def test_the_embedding_cache_never_serves_one_path_for_another(minilm, tmp_path):
    pytest.importorskip("openvino")
    model, fp = minilm
    cache = EmbeddingCache(tmp_path)
    kw = dict(cache=cache, model_fp=fp, precision="auto")
    ov = encode(model, ListTexts(TEXTS), "passage", backend="openvino", **kw)
    torch32 = encode(model, ListTexts(TEXTS), "passage", backend="torch", **{**kw, "precision": "fp32"})
    assert ov.path.backend == "openvino" and str(torch32.path) == "torch fp32"
    assert not ov.cached and not torch32.cached and ov.key != torch32.key  # the torch request is encoded, not served
    want = model.encode(TEXTS, "passage", precision="fp32")
    np.testing.assert_array_equal(np.asarray(torch32.vectors), want)
    again = encode(model, ListTexts(TEXTS), "passage", backend="openvino", **kw)
    assert again.cached and again.key == ov.key and again.path == ov.path
    record = json.loads(cache.record_path(ov.key).read_text())
    assert record["encoder"] == str(ov.path)


def test_metrics_record_the_encoder_path_that_ran(minilm, tiny_beir, tmp_path):
    pytest.importorskip("openvino")
    from sycl.evaluation import evaluate

    model, _ = minilm
    metrics = evaluate(model, tiny_beir(), tmp_path / "out", encode_backend="openvino", show_progress=False)
    (result,) = metrics["results"]
    assert result["encode_backend"] == "openvino" and result["encoder_path"].startswith("openvino ")
    assert result["precision_used"] == result["encoder_path"].split()[1]
    torch_run = evaluate(model, tiny_beir(), tmp_path / "t", encode_backend="torch", precision="fp32", cache=False)
    assert torch_run["results"][0]["encoder_path"] == "torch fp32"
    ov_ndcg, torch_ndcg = result["measures"]["nDCG@10"], torch_run["results"][0]["measures"]["nDCG@10"]
    assert abs(ov_ndcg - torch_ndcg) <= 0.002


def test_explicit_openvino_without_the_package_is_a_one_line_error(tiny_beir, tmp_path, monkeypatch, capsys):
    from sycl.kernels import openvino_encoder

    monkeypatch.setattr(openvino_encoder, "available", lambda: False)
    out = tmp_path / "out"
    code = main(["evaluate", "--dataset", str(tiny_beir()), "--out", str(out), "--encode-backend", "openvino"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("sycl evaluate: error: encode_backend openvino: the openvino package is not installed")
    assert not out.exists()  # refused before any work
