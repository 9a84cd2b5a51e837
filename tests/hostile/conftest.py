import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))  # tinyexp: the tiny model and data set


@pytest.fixture(scope="session")
def minilm():
    """The embedded all-MiniLM-L6-v2, loaded once for the tests that evaluate with it."""
    from sycl.modeling import BiEncoder

    return BiEncoder.from_pretrained()
