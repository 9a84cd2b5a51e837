import pytest


@pytest.fixture(scope="session")
def minilm():
    """The embedded all-MiniLM-L6-v2, loaded once for the tests that evaluate with it."""
    from sycl.modeling import BiEncoder

    return BiEncoder.from_pretrained()
