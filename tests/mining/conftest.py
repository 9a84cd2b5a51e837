import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))  # the shared tiny BEIR set

from eval_data import make_beir  # noqa: E402


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_beir(tmp_path / "tiny", split="train")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path_factory.getbasetemp() / "sycl-cache"))
