import numpy as np
import pytest
from probe_verdicts import make_verdict

from sycl.kernels.probe import KernelState
from sycl.retrieval.search import TopK, exact_search, merge_topk


def brute_force(q, d, k, exclude=None):
    """Reference: float64 scores, order (score desc, row asc), excluded rows and padding as -1."""
    s = q.astype(np.float64) @ d.astype(np.float64).T
    if exclude is not None:
        for i, e in enumerate(exclude):
            if e >= 0:
                s[i, e] = -np.inf
    out = np.full((len(q), k), -1, dtype=np.int64)
    for i, row in enumerate(s):
        order = np.lexsort((np.arange(len(row)), -row))[:k]
        order = order[~np.isneginf(row[order])]
        out[i, : len(order)] = order
    return out


@pytest.mark.parametrize("n", [1, 7, 100, 1500, 5000])
@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8"])
def test_matches_brute_force_with_many_exact_ties(n, precision):
    rng = np.random.default_rng(n)
    # small integers: every dot product is exact in fp32 and bf16, and ties are everywhere
    q = rng.integers(-3, 4, (40, 16)).astype(np.float32)
    d = rng.integers(-3, 4, (n, 16)).astype(np.float32)
    d[n // 2 :] = d[: n - n // 2]  # exact duplicate documents
    exclude = rng.integers(-1, n, 40)
    ref = brute_force(q, d, 10, exclude)
    for block in (5, 256, 32768) if n <= 100 else (256, 3000, 32768):
        got = exact_search(q, d, 10, precision=precision, exclude=exclude, doc_block=block, query_block=16)
        np.testing.assert_array_equal(got.rows, ref)
        assert np.isneginf(got.scores[got.rows < 0]).all()
        valid = got.rows >= 0
        np.testing.assert_allclose(got.scores[valid], (q[:, None, :] * d[np.maximum(got.rows, 0)]).sum(-1)[valid])


def test_shards_merge_to_the_single_search():
    rng = np.random.default_rng(0)
    q = rng.integers(-2, 3, (30, 8)).astype(np.float32)
    d = rng.integers(-2, 3, (1000, 8)).astype(np.float32)
    full = exact_search(q, d, 20)
    parts = [exact_search(q, d[a:b], 20, row_offset=a) for a, b in ((0, 333), (333, 700), (700, 1000))]
    merged = merge_topk(parts, 20)
    np.testing.assert_array_equal(merged.rows, full.rows)
    np.testing.assert_array_equal(merged.scores, full.scores)


def test_bf16_candidates_rescored_give_the_fp32_ranking_on_real_valued_data():
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((50, 64))
    d = centers[rng.integers(0, 50, 20000)] + 0.5 * rng.standard_normal((20000, 64))
    d = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
    q = d[rng.integers(0, 20000, 100)] + 0.1 * rng.standard_normal((100, 64)).astype(np.float32)
    exact = exact_search(q, d, 10, precision="fp32")
    fast = exact_search(q, d, 10, precision="bf16")
    np.testing.assert_array_equal(fast.rows, exact.rows)
    np.testing.assert_array_equal(fast.scores, exact.scores)  # final scores are recomputed in fp32


def test_faiss_flat_agrees_with_exact_search():
    faiss_index = pytest.importorskip("sycl.retrieval.faiss_index")
    pytest.importorskip("faiss")
    rng = np.random.default_rng(2)
    d = rng.standard_normal((2000, 32)).astype(np.float32)
    q = rng.standard_normal((20, 32)).astype(np.float32)
    excl = np.arange(20)
    a = exact_search(q, d, 10, exclude=excl)
    b = faiss_index.faiss_search(q, d, 10, "Flat", exclude=excl)
    np.testing.assert_array_equal(a.rows, b.rows)
    assert not (b.rows == excl[:, None]).any()


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError, match="dimension"):
        exact_search(np.zeros((2, 4), np.float32), np.zeros((3, 5), np.float32), 2)


def test_topk_type():
    r = exact_search(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32), 5)
    assert isinstance(r, TopK) and r.rows.shape == (3, 5)
    np.testing.assert_array_equal(r.rows[:, 0], [0, 1, 2])


def clustered(n_docs, n_q, dim, seed, scale=1.0):
    """Unit vectors around random centres (like real embeddings), queries near random documents."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((50, dim))
    d = centers[rng.integers(0, 50, n_docs)] + 0.5 * rng.standard_normal((n_docs, dim))
    d = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
    q = d[rng.integers(0, n_docs, n_q)] + 0.1 * rng.standard_normal((n_q, dim)).astype(np.float32)
    return (scale * q).astype(np.float32), (scale * d).astype(np.float32)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e-3])
def test_int8_candidates_rescored_give_the_fp32_ranking(scale):
    # any norm: the tile's float16 scale adapts (1e3 would overflow float16 without it, 1e-3 underflow)
    q, d = clustered(20000, 100, 64, 3, scale)
    exact = exact_search(q, d, 10, precision="fp32")
    fast = exact_search(q, d, 10, precision="int8")
    np.testing.assert_array_equal(fast.rows, exact.rows)
    np.testing.assert_array_equal(fast.scores, exact.scores)


def test_int8_deep_runs_match_fp32():
    q, d = clustered(30000, 50, 48, 4)
    excl = np.arange(50) * 7
    exact = exact_search(q, d, 300, precision="fp32", exclude=excl)
    fast = exact_search(q, d, 300, precision="int8", exclude=excl)
    assert (fast.rows == exact.rows).all(axis=1).mean() >= 0.96  # deep ranks: near-ties may swap
    np.testing.assert_array_equal(fast.rows[:, :100], exact.rows[:, :100])
    assert not (fast.rows == excl[:, None]).any()


def test_rows_with_no_signal_and_odd_dimensions():
    rng = np.random.default_rng(5)
    d = rng.standard_normal((700, 7)).astype(np.float32)
    d[::5] = 0.0  # zero documents score 0 with everything
    q = rng.standard_normal((9, 7)).astype(np.float32)
    q[0] = 0.0  # a zero query: every score ties at 0, so rows ascending
    ref = brute_force(q, d, 15)
    for precision in ("fp32", "int8"):
        got = exact_search(q, d, 15, precision=precision, doc_block=100, query_block=4)
        np.testing.assert_array_equal(got.rows, ref)
        np.testing.assert_array_equal(got.rows[0], np.arange(15))


def test_int8_shards_merge_to_the_single_search():
    q, d = clustered(9000, 40, 32, 6)
    full = exact_search(q, d, 20, precision="int8")
    parts = [exact_search(q, d[a:b], 20, precision="int8", row_offset=a) for a, b in ((0, 4000), (4000, 9000))]
    np.testing.assert_array_equal(merge_topk(parts, 20).rows, full.rows)


def test_rescored_scores_do_not_depend_on_tiling():
    q, d = clustered(5000, 30, 32, 7)
    a = exact_search(q, d, 10, doc_block=777, query_block=5)
    b = exact_search(q, d, 10)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.scores, b.scores)
    ref = np.einsum("qd,qkd->qk", q.astype(np.float64), d[b.rows].astype(np.float64))
    np.testing.assert_allclose(b.scores, ref, rtol=1e-6)


def test_memory_mapped_documents(tmp_path):
    q, d = clustered(3000, 10, 16, 8)
    np.save(tmp_path / "d.npy", d)
    mm = np.load(tmp_path / "d.npy", mmap_mode="r")
    for precision in ("fp32", "int8"):
        np.testing.assert_array_equal(
            exact_search(q, mm, 10, precision=precision).rows, exact_search(q, d, 10, precision=precision).rows
        )


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError, match="precision"):
        exact_search(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32), 2, precision="fp8")


def test_int8_without_onednn_is_a_clear_error(monkeypatch):
    import sycl.kernels.search_int8 as search_int8

    monkeypatch.setattr(search_int8, "int8_available", lambda: False)
    with pytest.raises(ValueError, match="int8 search needs .* use fp32 or bf16"):
        exact_search(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32), 2, precision="int8")


def test_exact_search_auto_matches_fp32_on_its_chosen_path():
    rng = np.random.default_rng(0)
    d = rng.standard_normal((500, 32)).astype(np.float32)
    q = rng.standard_normal((7, 32)).astype(np.float32)
    kernels = KernelState(make_verdict(search_bf16=3.0, search_int8=0.0005))
    auto = exact_search(q, d, 5, precision="auto", kernels=kernels)
    exact = exact_search(q, d, 5, precision="fp32")
    assert (auto.rows == exact.rows).all() and np.allclose(auto.scores, exact.scores)
    with pytest.raises(ValueError, match="unknown search precision"):
        exact_search(q, d, 5, precision="int4")
