"""The pool at scale, in miniature: streamed blocks, on-disk grouping and merging, bad lines."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import numpy as np
import pytest

from sycl.data import BinarySet, PassagePool, SourceConfig, pool_build, tables
from sycl.io.corpus import cache_root
from sycl.io.errors import DataError


@pytest.fixture
def msmarco_like(tmp_path, beir_writer):
    """60 queries with 1 positive each (TSV) and a grouped JSONL of 20 BM25 negatives per query,
    in another query order than the positives (so the negatives are regrouped)."""
    rng = np.random.default_rng(0)
    docs = [{"_id": str(i), "text": f"passage {i}"} for i in range(400)]
    queries = {str(1000 + i): f"query {i}" for i in range(60)}
    pos = {str(1000 + i): {str(i): 1} for i in range(60)}
    root = beir_writer(tmp_path / "ms", docs, queries, {"train": pos})
    with open(tmp_path / "neg.jsonl", "w") as fh:
        for i in rng.permutation(60):
            d = rng.choice(np.arange(100, 400), size=20, replace=False)
            fh.write(json.dumps({"qid": str(1000 + i), "docid": [str(x) for x in d], "score": [0.0] * 20}) + "\n")
    return root, tmp_path / "neg.jsonl"


def _specs(root, neg, **kw):
    return [
        SourceConfig(path=str(root), qrels="train", min_score=1, score_transform=1),
        SourceConfig(path=str(root), qrels=str(neg), score_transform=0, **kw),
    ]


def test_small_blocks_and_chunks_give_the_same_pool(msmarco_like, monkeypatch):
    root, neg = msmarco_like
    ref = PassagePool.load(_specs(root, neg, group_random_k=2), cache=False)
    monkeypatch.setattr(tables, "BLOCK_BYTES", 700)
    monkeypatch.setattr(pool_build, "CHUNK", 50)
    small = PassagePool.load(_specs(root, neg, group_random_k=2), cache=False)
    for a, b in zip(ref.sources, small.sources):
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.passage, b.passage)
    g0, g1 = small.groups(0), small.groups(1)
    assert np.all(np.diff(g0.indptr) == 3)  # 1 positive + 2 drawn negatives, every query
    assert not np.array_equal(g0.passages, g1.passages)  # re-drawn per epoch
    assert np.array_equal(g0.passages, small.groups(0).passages)  # ... and the same for the same epoch
    for q in range(small.n_queries):  # drawn negatives are the query's own, in file order
        p, lab = g0.of(q)
        allp, _ = small.groups(0, select=False).of(q)
        assert lab[0] == 1 and set(p) <= set(allp.tolist())
        order = [allp.tolist().index(x) for x in p[1:]]
        assert order == sorted(order)


def test_unselected_groups_merge_on_disk(msmarco_like, monkeypatch):
    root, neg = msmarco_like
    in_memory = PassagePool.load(_specs(root, neg, group_random_k=2)).groups(0, select=False)
    monkeypatch.setattr("sycl.data.pool.CHUNK", 100)
    pool = PassagePool.load(_specs(root, neg, group_random_k=2))
    on_disk = pool.groups(0, select=False)
    assert isinstance(on_disk.passages, np.memmap) and (pool.folder / "unselected.passages.npy").exists()
    for name in ("indptr", "passages", "labels", "label_min"):
        assert np.array_equal(getattr(in_memory, name), getattr(on_disk, name))
    assert len(BinarySet(pool, group_size=3).items) == 60


def test_top_k_selection_in_chunks(msmarco_like, monkeypatch):
    root, neg = msmarco_like
    lines = [json.loads(x) for x in neg.read_text().splitlines()]
    for obj in lines:
        obj["score"] = [float(x) for x in range(20)][::-1]
    neg.write_text("".join(json.dumps(o) + "\n" for o in lines))
    monkeypatch.setattr("sycl.data.pool.CHUNK", 30)
    pool = PassagePool.load([SourceConfig(path=str(root), qrels=str(neg), group_top_k=3)], cache=False)
    g = pool.groups(0)
    for q in range(pool.n_queries):
        p, lab = g.of(q)
        assert lab.tolist() == [19.0, 18.0, 17.0]


@pytest.mark.parametrize("damage", ["truncated", "middle"])
def test_bad_line_names_file_and_line_and_leaves_no_cache(msmarco_like, monkeypatch, damage):
    root, neg = msmarco_like
    monkeypatch.setattr(tables, "BLOCK_BYTES", 2000)
    lines = neg.read_text().splitlines(keepends=True)
    if damage == "truncated":
        neg.write_text("".join(lines) + lines[0][:40])
        where = f"{neg.name}:61: malformed JSON"
    else:
        lines[30] = lines[30].replace('"docid": [', '"docid": [,')
        neg.write_text("".join(lines))
        where = f"{neg.name}:31: malformed JSON"
    pool_dir = cache_root() / "pool"
    before = set(pool_dir.iterdir()) if pool_dir.exists() else set()
    with pytest.raises(DataError, match=where):
        PassagePool.load(_specs(root, neg, group_random_k=2))
    assert (set(pool_dir.iterdir()) if pool_dir.exists() else set()) == before


_FRAGMENTED_HEAP = """
import numpy as np
from sycl.data.pool_build import trim_heap

def anon():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("RssAnon:"))

x = np.ones(30 << 20, np.uint8); del x  # freeing a mapped 30 MB block raises glibc's mmap threshold
blocks = [np.ones(20 << 20, np.uint8) for _ in range(20)]  # so these 400 MB live on the heap
top = np.ones(20 << 20, np.uint8)  # and this one keeps the heap from shrinking at its top
del blocks
before = anon()
trim_heap()
print(before, anon())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_trim_heap_returns_freed_heap_pages():
    # what each chunk of the on-disk merge and of the streamed conversion calls: without it the holes
    # that freed ~32 MB arrays leave on the heap stay resident (benchmarks/RESULTS.md, issue 14)
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert before - after > 300e6, (before, after)
