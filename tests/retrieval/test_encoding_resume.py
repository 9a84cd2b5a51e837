"""Sharded, resumable corpus encoding through the embedding cache, and half-precision storage."""

from __future__ import annotations

import numpy as np
import pytest

from sycl.retrieval.cache import EmbeddingCache
from sycl.retrieval.encoding import ListTexts, encode
from sycl.retrieval.search import exact_search


class FakeModel:
    """Deterministic vectors from the text; ``fail_after`` encode calls, it raises (a kill)."""

    dim, device, settings = 8, "cpu", {"pooling": "mean", "normalize": True}

    def __init__(self, fail_after: int | None = None):
        self.calls, self.encoded, self.fail_after = 0, [], fail_after

    def encode(self, texts, kind, batch_size=None, precision=None):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.encoded.extend(texts)
        seeds = [int(t.split()[1]) for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self.dim) for s in seeds]).astype(np.float32)


def test_killed_encoding_resumes_at_the_first_unfinished_shard(tmp_path):
    texts = ListTexts([f"passage {i} " + "x" * (i % 7) for i in range(100)])
    cache = EmbeddingCache(tmp_path)
    kw = dict(cache=cache, model_fp="m", precision="fp32", backend="torch", chunk=10, shard_rows=30)
    with pytest.raises(KeyboardInterrupt):
        encode(FakeModel(fail_after=4), texts, "passage", **kw)  # shard 0 (3 chunks) done, shard 1 started
    assert not list(tmp_path.rglob("[!.]*.npy"))  # no entry under a valid key yet
    again = FakeModel()
    got = encode(again, texts, "passage", **kw)
    assert not got.cached and len(again.encoded) == 70  # shards 1-3 only
    full = encode(FakeModel(), texts, "passage", precision="fp32", backend="torch", chunk=10, shard_rows=30)
    assert np.array_equal(np.asarray(got.vectors), full.vectors)
    assert not list(tmp_path.rglob(".*partial*"))  # the partial file and its record are gone
    assert encode(FakeModel(fail_after=0), texts, "passage", **kw).cached


def test_fp16_storage_halves_the_entry_and_searches_the_same(tmp_path):
    texts = ListTexts([f"passage {i}" for i in range(300)])
    cache = EmbeddingCache(tmp_path)
    kw = dict(cache=cache, model_fp="m", precision="fp32", backend="torch")
    f32 = encode(FakeModel(), texts, "passage", **kw)
    f16 = encode(FakeModel(), texts, "passage", storage="fp16", **kw)
    assert f16.key != f32.key and f16.vectors.dtype == np.float16 and isinstance(f16.vectors, np.memmap)
    assert cache.path(f16.key).stat().st_size < 0.6 * cache.path(f32.key).stat().st_size
    q = np.random.default_rng(1).standard_normal((20, 8)).astype(np.float32)
    for precision in ("fp32", "int8"):
        got = exact_search(q, f16.vectors, 5, precision=precision, doc_block=64)
        ref = exact_search(q, np.asarray(f16.vectors, dtype=np.float32), 5, precision=precision, doc_block=64)
        assert np.array_equal(got.rows, ref.rows) and np.array_equal(got.scores, ref.scores)
