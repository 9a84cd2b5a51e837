"""Multi-level and binary training sets, batch order and the collator's layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sycl.data import BinarySet, Collator, MultiLevelSet, PassagePool, SourceConfig, batch_order
from sycl.data.collator import local_slice
from sycl.io.errors import DataError


@pytest.fixture
def beir(tmp_path, beir_writer):
    queries = {"q0": "alpha query", "q1": "beta query", "q2": "gamma query"}
    docs = [{"_id": f"{q}-{lev}", "text": f"{q} passage at level {lev}"} for q in queries for lev in range(4)]
    qrels = {
        "train": {
            "q0": {"q0-3": 3, "q0-2": 2, "q0-1": 1, "q0-0": 0},
            "q1": {"q1-2": 2, "q1-0": 0},  # two passages: cycled
            "q2": {"q2-3": 3},
        }
    }  # one passage
    return beir_writer(tmp_path / "b", docs, queries, qrels)


def labels_of(ds, i):
    return ds.group(i)[2].tolist()


def test_multilevel_strategies_and_cycling(beir):
    pool = PassagePool.load([SourceConfig(path=str(beir))])
    most = MultiLevelSet(pool, group_size=3, strategy="most_relevant")
    least = MultiLevelSet(pool, group_size=3, strategy="least_relevant")
    assert labels_of(most, 0) == [3, 2, 1]
    assert labels_of(least, 0) == [2, 1, 0]  # the three lowest, ordered highest first
    assert labels_of(most, 1) == [2, 2, 0]  # cycled: 2, 0, 2
    assert labels_of(most, 2) == [3, 3, 3]
    rnd = MultiLevelSet(pool, group_size=6, strategy="random", seed=1)
    q, passages, labels = rnd.group(0)
    assert sorted(labels.tolist()) == [0, 1, 1, 2, 3, 3] or len(set(passages.tolist())) == 4
    assert len(set(passages.tolist())) == 4  # every passage used before any repeats


def test_random_selection_changes_with_epoch_not_with_call(beir):
    pool = PassagePool.load([SourceConfig(path=str(beir))])
    ds = MultiLevelSet(pool, group_size=2, strategy="random", seed=0)
    draws = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        a = ds.group(0)[1].tolist()
        assert ds.group(0)[1].tolist() == a  # deterministic within an epoch
        draws.add(tuple(sorted(a)))
    assert len(draws) > 1


def test_binary_positive_first_and_negatives(beir):
    pool = PassagePool.load([SourceConfig(path=str(beir))])
    ds = BinarySet(pool, group_size=3, positive_threshold=2)
    assert len(ds) == 2  # q2 has no negative
    for i in range(len(ds)):
        q, passages, labels = ds.group(i)
        assert labels.tolist() == [1, 0, 0]
        g = pool.groups()
        lab = dict(zip(*g.of(q)))
        assert lab[passages[0]] >= 2 and all(lab[p] < 2 for p in passages[1:])
    assert ds.label_counts() == {"1": 3, "0": 3}


def test_binary_rejects_a_passage_that_is_both(beir, tmp_path):
    neg = tmp_path / "bm25.jsonl"
    neg.write_text(json.dumps({"qid": "q0", "docid": ["q0-3", "q1-3"], "score": [0, 0]}) + "\n")
    pool = PassagePool.load([SourceConfig(path=str(beir), min_score=1), SourceConfig(path=str(beir), qrels=str(neg))])
    with pytest.raises(DataError, match=r"both positive and negative.*'q0'.*q0-3"):
        BinarySet(pool, group_size=3, positive_threshold=1)
    MultiLevelSet(pool, group_size=3)  # a multi-level set keeps the higher label instead
    assert 3.0 in pool.groups().of(0)[1].tolist()


@pytest.fixture(scope="module")
def encoder():
    from sycl.modeling import BiEncoder

    return BiEncoder.from_pretrained(max_query_length=16, max_passage_length=6)


def test_batch_texts_and_collator_layout(beir, encoder):
    pool = PassagePool.load([SourceConfig(path=str(beir))])
    ds = MultiLevelSet(pool, group_size=2, strategy="most_relevant")
    tb = ds.batch([0, 1])
    assert tb.queries == ["alpha query", "beta query"]
    assert tb.passages == [
        "q0 passage at level 3",
        "q0 passage at level 2",
        "q1 passage at level 2",
        "q1 passage at level 0",
    ]
    assert tb.labels.shape == (2, 2) and tb.labels.tolist() == [[3, 2], [2, 0]]
    feats = Collator(encoder)(tb)
    assert feats["query"]["input_ids"].shape[0] == 2
    assert feats["passage"]["input_ids"].shape[0] == 4
    assert feats["passage"]["input_ids"].shape[1] == 6  # truncated to max_passage_length
    assert feats["labels"].dtype.is_floating_point and tuple(feats["labels"].shape) == (2, 2)


def test_batch_order_global_batches_split_by_rank():
    one = batch_order(10, batch_size=4, seed=3, epoch=0, world_size=1)
    assert [len(b) for b in one] == [4, 4, 2]
    two = batch_order(10, batch_size=2, seed=3, epoch=0, world_size=2)
    assert [len(b) for b in two] == [4, 4]  # the incomplete last batch is dropped with 2 processes
    assert np.array_equal(np.concatenate(two), np.concatenate(one)[:8])
    assert np.array_equal(np.concatenate([local_slice(two[0], r, 2) for r in range(2)]), two[0])
    assert not np.array_equal(np.concatenate(batch_order(10, 4, 3, 1)), np.concatenate(one))


def test_binary_with_random_k_keeps_both_sides(tmp_path, beir_writer):
    queries = {"q0": "only query"}
    docs = [{"_id": f"d{j}", "text": f"passage {j}"} for j in range(6)]
    qrels = {"train": {"q0": {"d0": 1, **{f"d{j}": 0 for j in range(1, 6)}}}}
    root = beir_writer(tmp_path / "r", docs, queries, qrels)
    pool = PassagePool.load([SourceConfig(path=str(root), group_random_k=2)])
    ds = BinarySet(pool, group_size=3)
    for epoch in range(6):  # some epochs draw two negatives only; the positive must still come first
        ds.set_epoch(epoch)
        q, passages, labels = ds.group(0)
        assert pool.passage_id(int(passages[0])).endswith("/d0") and labels.tolist() == [1, 0, 0]
