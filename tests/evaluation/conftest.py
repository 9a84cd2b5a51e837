import os
from pathlib import Path

import pytest
from eval_data import make_beir

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_beir(tmp_path / "tiny")


@pytest.fixture(scope="session")
def minilm():
    from sycl.modeling import BiEncoder

    return BiEncoder.from_pretrained()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Corpus conversions and embeddings of these tests go to a temporary cache."""
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path_factory.getbasetemp() / "sycl-cache"))
