"""Source specs: filter -> select -> relabel, id namespacing, merging sources, readers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sycl.config import validate
from sycl.data import DataConfig, PassagePool, SourceConfig
from sycl.data.tables import read_qrels_table
from sycl.io.errors import DataError


def per_query(pool: PassagePool, epoch: int = 0) -> dict[str, dict[str, float]]:
    g = pool.groups(epoch)
    out = {}
    for q in range(pool.n_queries):
        ps, ls = g.of(q)
        out[pool.query_ids[q].as_py()] = {
            pool.passage_id(int(p)).split("/", 1)[1]: float(lab) for p, lab in zip(ps, ls)
        }
    return out


def test_score_filter_is_min_inclusive_max_exclusive(graded_beir):
    pool = PassagePool.load([SourceConfig(path=str(graded_beir()), min_score=1, max_score=3)])
    got = per_query(pool)
    assert got["q0"] == {"d0-2": 2.0, "d0-1": 1.0}


def test_score_transform_constant_floor_ceil(tmp_path, graded_beir):
    root = graded_beir()
    const = per_query(PassagePool.load([SourceConfig(path=str(root), score_transform=3)]))
    assert set(const["q1"].values()) == {3.0}
    qrels = tmp_path / "frac.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq0\td0-3\t2.6\nq0\td0-2\t1.2\nq1\td1-1\t0.5\n")
    spec = dict(corpus=str(root), queries=str(root / "queries.jsonl"), qrels=str(qrels))
    raw = per_query(PassagePool.load([SourceConfig(**spec)]))
    assert raw["q0"] == pytest.approx({"d0-3": 2.6, "d0-2": 1.2})
    floor = per_query(PassagePool.load([SourceConfig(**spec, score_transform="floor")]))
    ceil = per_query(PassagePool.load([SourceConfig(**spec, score_transform="ceil")]))
    assert floor["q0"] == {"d0-3": 2.0, "d0-2": 1.0} and floor["q1"] == {"d1-1": 0.0}
    assert ceil["q0"] == {"d0-3": 3.0, "d0-2": 2.0} and ceil["q1"] == {"d1-1": 1.0}


def test_filter_happens_before_selection_and_relabel_after(graded_beir):
    # top-1 among labels < 3 is the level-2 passage; it is then relabelled to 1
    pool = PassagePool.load([SourceConfig(path=str(graded_beir()), max_score=3, group_top_k=1, score_transform=1)])
    assert per_query(pool)["q2"] == {"d2-2": 1.0}


def test_top_bottom_first_selection(graded_beir):
    root = graded_beir(levels=(1, 3, 0, 2))  # file order 1, 3, 0, 2
    top = per_query(PassagePool.load([SourceConfig(path=str(root), group_top_k=2)]))["q0"]
    bottom = per_query(PassagePool.load([SourceConfig(path=str(root), group_bottom_k=2)]))["q0"]
    first = per_query(PassagePool.load([SourceConfig(path=str(root), group_first_k=2)]))["q0"]
    assert set(top) == {"d0-3", "d0-2"}
    assert set(bottom) == {"d0-0", "d0-1"}
    assert list(first) == ["d0-1", "d0-3"]


def test_random_k_is_resampled_per_epoch_and_reproducible(graded_beir):
    root = graded_beir(n_queries=6, levels=tuple(range(8)))
    spec = SourceConfig(path=str(root), group_random_k=3)
    pool = PassagePool.load([spec], seed=5)
    e0, e1 = per_query(pool, 0), per_query(pool, 1)
    assert all(len(v) == 3 for v in e0.values())
    assert e0 != e1  # 6 queries x C(8,3) draws: equal only by a ~1e-10 chance
    assert per_query(PassagePool.load([spec], seed=5), 1) == e1


def test_query_subset(tmp_path, graded_beir):
    root = graded_beir()
    subset = tmp_path / "subset.txt"
    subset.write_text("q1\nq3\n")
    pool = PassagePool.load([SourceConfig(path=str(root), query_subset=str(subset))])
    assert sorted(per_query(pool)) == ["q1", "q3"]


def test_clashing_doc_ids_are_namespaced_and_queries_merged(tmp_path, graded_beir, beir_writer):
    a = graded_beir("a", prefix="A")
    # same document ids, other texts; the same queries (same ids and texts) through a copy of a's queries
    b = beir_writer(
        tmp_path / "b",
        [{"_id": f"d0-{lev}", "text": f"B doc level {lev}"} for lev in range(4)],
        {"q0": "query A0"},
        {"train": {"q0": {"d0-3": 1, "d0-0": 0}}},
    )
    pool = PassagePool.load([SourceConfig(name="a", path=str(a)), SourceConfig(name="b", path=str(b))])
    assert pool.n_queries == 4
    ps, ls = pool.groups().of(0)
    ids = [pool.passage_id(int(p)) for p in ps]
    assert ids == ["a/d0-3", "a/d0-2", "a/d0-1", "a/d0-0", "b/d0-3", "b/d0-0"]
    texts = pool.texts(ps)
    assert texts[0] == "Adoc 0 level 3" and texts[4] == "B doc level 3"


def test_same_corpus_shares_passages_and_keeps_highest_label(tmp_path, graded_beir):
    root = graded_beir()
    neg = tmp_path / "neg.jsonl"  # grouped JSONL as written by `sycl mine`
    neg.write_text(json.dumps({"qid": "q0", "docid": ["d1-3", "d0-3"], "score": [0, 0]}) + "\n")
    pool = PassagePool.load([SourceConfig(path=str(root)), SourceConfig(path=str(root), qrels=str(neg))])
    got = per_query(pool)["q0"]
    assert got == {"d0-3": 3.0, "d0-2": 2.0, "d0-1": 1.0, "d0-0": 0.0, "d1-3": 0.0}
    g = pool.groups()
    assert float(g.label_min[g.indptr[0]]) == 0.0  # the merged pair remembers its lower label


def test_same_query_id_other_text_stays_separate(graded_beir):
    a = graded_beir("a", n_queries=1, prefix="A")
    b = graded_beir("b", n_queries=1, prefix="B")
    pool = PassagePool.load([SourceConfig(path=str(a)), SourceConfig(path=str(b))])
    assert pool.n_queries == 2 and pool.query_text([0, 1]) == ["query A0", "query B0"]


def test_unknown_ids_name_the_qrels_file(tmp_path, graded_beir):
    root = graded_beir()
    bad = tmp_path / "bad.tsv"
    bad.write_text("q0\tnope\t1\n")
    with pytest.raises(DataError, match="bad.tsv.*not in corpus.*nope"):
        PassagePool.load([SourceConfig(path=str(root), qrels=str(bad))])
    bad.write_text("q9\td0-1\t1\n")
    with pytest.raises(DataError, match="bad.tsv.*query id.*q9"):
        PassagePool.load([SourceConfig(path=str(root), qrels=str(bad))])


def test_fast_and_checked_qrels_readers_agree(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("query-id\tcorpus-id\tscore\nq1\tdA\t2\nq2\tdB\t0.5\n")
    trec = tmp_path / "b.txt"
    trec.write_text("q1  0   dA 2\nq2 0 dB   0.5\n")  # ragged spaces: the checked path
    a, b = read_qrels_table(tsv), read_qrels_table(trec)
    assert a.qid.to_pylist() == b.qid.to_pylist() == ["q1", "q2"]
    assert a.docid.to_pylist() == b.docid.to_pylist() == ["dA", "dB"]
    assert np.array_equal(a.score, b.score)
    broken = tmp_path / "c.tsv"
    broken.write_text("q1\tdA\t1\nq2\tdB\tx\n")
    with pytest.raises(DataError, match=r"c.tsv:2: score 'x' is not a number"):
        read_qrels_table(broken)


def test_spec_errors_name_keys():
    with pytest.raises(DataError) as err:
        validate(DataConfig, {"sources": [{"path": "x", "min_scor": 1}], "group_size": 0})
    text = str(err.value)
    assert "sources.0.min_scor: unknown key" in text and "group_size" in text
    with pytest.raises(DataError, match="sources.0.*group_top_k, group_random_k|group_random_k, group_top_k"):
        validate(DataConfig, {"sources": [{"path": "x", "group_top_k": 1, "group_random_k": 2}]})
    with pytest.raises(DataError, match="min_score"):
        validate(DataConfig, {"sources": [{"path": "x", "min_score": 2, "max_score": 2}]})
    with pytest.raises(DataError, match="path"):
        validate(DataConfig, {"sources": [{"corpus": "c.jsonl"}]})


def test_cached_pool_is_mapped_and_invalidated_by_edits(graded_beir):
    root = graded_beir()
    spec = [SourceConfig(path=str(root), max_score=3)]
    first = per_query(PassagePool.load(spec))
    again = PassagePool.load(spec)
    assert isinstance(again.sources[0].passage, np.memmap)  # read from the cache
    assert isinstance(again.groups().passages, np.memmap)  # epoch-independent groups cached too
    assert per_query(again) == first
    qrels = root / "qrels" / "train.tsv"
    qrels.write_text(qrels.read_text() + "q0\td1-3\t1\n")
    edited = PassagePool.load(spec)
    assert edited.folder != again.folder  # another key: the edited file is converted again
    assert per_query(edited)["q0"] == {**first["q0"], "d1-3": 1.0}
    assert per_query(PassagePool.load(spec, cache=False)) == per_query(edited)
