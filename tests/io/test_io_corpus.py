"""The memory-mapped corpus: conversion (fast and checked paths), lookup, bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pytest

from sycl.io import DataError
from sycl.io.corpus import Corpus
from sycl.io.hashing import hash_ids


def _corpus(path, rows: list, raw_tail: bytes = b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for r in rows:
            fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)).encode() + b"\n")
        fh.write(raw_tail)
    return path


def _docs(n, prefix="d"):
    return [
        {"_id": f"{prefix}{i}", "title": f"title {i}" if i % 2 else "", "text": f"text of passage {i} ünïcödé"}
        for i in range(n)
    ]


def test_open_lookup_and_texts(tmp_path):
    src = _corpus(
        tmp_path / "c" / "corpus.jsonl", _docs(1000) + [{"_id": "m", "text": "t", "metadata": {"a": [1, {"b": 2}]}}]
    )
    c = Corpus.open(tmp_path / "c", cache_dir=tmp_path / "cache")
    assert len(c) == 1001 and c.meta["path"] == "fast"
    assert c.id_at(7) == "d7"
    rows = c.rows_of(["d999", "d0", "m", "d500"])
    assert rows.tolist() == [999, 0, 1000, 500]
    assert c.texts(rows[:2]) == ["title 999 text of passage 999 ünïcödé", "text of passage 0 ünïcödé"]
    assert c.rows_of(["d1", "nope"], missing="ignore").tolist() == [1, -1]
    with pytest.raises(DataError, match=r"1 unknown document id\(s\), e.g. \['nope'\]"):
        c.rows_of(["nope"])
    batches = list(c.iter_batches(batch_size=300))
    assert [len(r) for r, _ in batches] == [300, 300, 300, 101]
    assert batches[3][1][-1] == "t" and batches[0][0][0] == 0
    assert c.source == src.resolve()


def test_numeric_ids_use_checked_path_with_same_result(tmp_path):
    _corpus(tmp_path / "corpus.jsonl", [{"_id": 10, "text": "a"}, {"_id": "x", "title": None, "text": "b"}])
    c = Corpus.open(tmp_path / "corpus.jsonl", cache_dir=tmp_path / "cache")
    assert c.meta["path"] == "checked"
    assert c.ids.to_pylist() == ["10", "x"]
    assert c.rows_of(["x", "10"]).tolist() == [1, 0]


def test_fast_and_checked_paths_agree(tmp_path):
    docs = _docs(2000)
    _corpus(tmp_path / "a" / "corpus.jsonl", docs)
    # an integer id in the last line forces the checked path for the whole file
    _corpus(tmp_path / "b" / "corpus.jsonl", docs + [{"_id": 5, "text": "int id"}])
    fast = Corpus.open(tmp_path / "a", cache_dir=tmp_path / "cache")
    checked = Corpus.open(tmp_path / "b", cache_dir=tmp_path / "cache")
    assert (fast.meta["path"], checked.meta["path"]) == ("fast", "checked")
    assert checked.table.slice(0, 2000).equals(fast.table)
    ids = [f"d{i}" for i in range(0, 2000, 7)]
    assert (fast.rows_of(ids) == checked.rows_of(ids)).all()


def test_conversion_is_cached_and_refreshed_on_change(tmp_path):
    src = _corpus(tmp_path / "corpus.jsonl", _docs(10))
    cache = tmp_path / "cache"
    Corpus.open(src, cache_dir=cache)
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 1 and not entries[0].startswith(".")
    Corpus.open(src, cache_dir=cache)
    assert sorted(p.name for p in cache.iterdir()) == entries
    _corpus(src, _docs(12))
    os.utime(src, ns=(1, 10**18))
    assert len(Corpus.open(src, cache_dir=cache)) == 12
    assert len(list(cache.iterdir())) == 2


def test_checksum_is_the_files_and_is_computed_once_per_conversion(tmp_path, monkeypatch):
    """Evaluations record the corpus's checksum; a second one reads it from the conversion, not the 3 GB file."""
    from sycl.io import corpus as corpus_module
    from sycl.io.integrity import file_checksum

    src = _corpus(tmp_path / "corpus.jsonl", _docs(10))
    cache = tmp_path / "cache"
    first = Corpus.open(src, cache_dir=cache).checksum()
    assert first == file_checksum(src)

    def reread(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(corpus_module, "file_checksum", reread)
    assert Corpus.open(src, cache_dir=cache).checksum() == first
    monkeypatch.undo()
    _corpus(src, _docs(12))  # a changed file is a new conversion, with its own checksum
    os.utime(src, ns=(1, 10**18))
    changed = Corpus.open(src, cache_dir=cache).checksum()
    assert changed == file_checksum(src) != first


def test_empty_documents_are_counted_not_rejected(tmp_path):
    _corpus(
        tmp_path / "corpus.jsonl",
        [{"_id": "a", "title": "", "text": ""}, {"_id": "b", "text": "x"}, {"_id": "c", "title": " ", "text": "\n"}],
    )
    c = Corpus.open(tmp_path / "corpus.jsonl", cache_dir=tmp_path / "cache")
    assert c.empty_documents == 2 and len(c) == 3


@pytest.mark.parametrize(
    "bad, line, problem",
    [
        ('{"_id": "z", "text": "unterminated', 4, "malformed JSON"),
        ('{"text": "no id"}', 4, "missing field '_id'"),
        ('{"_id": "z"}', 4, "missing field 'text'"),
        ('{"_id": "", "text": "x"}', 4, "field '_id' must be a non-empty string"),
        ('{"_id": "z", "text": ["x"]}', 4, "field 'text' must be a string, got list"),
        ('{"_id": "z", "title": 3, "text": "x"}', 4, "field 'title' must be a string, got int"),
        ('["not", "an", "object"]', 4, "expected a JSON object"),
        ('{"_id": "d1", "text": "again"}', 4, "duplicate document id 'd1' (first on line 2)"),
    ],
)
def test_bad_corpus_names_file_line_problem(tmp_path, bad, line, problem):
    src = _corpus(tmp_path / "corpus.jsonl", _docs(3) + [bad])
    with pytest.raises(DataError) as info:
        Corpus.open(src, cache_dir=tmp_path / "cache")
    err = info.value
    assert (err.path, err.line) == (str(src.resolve()), line)
    assert problem in str(err) and str(err).startswith(f"{src.resolve()}:{line}: ")
    assert not any(p.name.endswith(("arrow", ".npy")) for p in (tmp_path / "cache").rglob("*"))  # nothing left behind


def test_duplicate_far_apart_in_large_file(tmp_path):
    src = _corpus(tmp_path / "corpus.jsonl", _docs(120_000) + [{"_id": "d77777", "text": "dup"}])
    with pytest.raises(DataError, match="duplicate document id 'd77777' \\(first on line 77778\\)") as info:
        Corpus.open(src, cache_dir=tmp_path / "cache")
    assert info.value.line == 120_001


def test_bad_encoding_in_corpus(tmp_path):
    src = _corpus(tmp_path / "corpus.jsonl", _docs(5), raw_tail='{"_id": "z", "text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8") as info:
        Corpus.open(src, cache_dir=tmp_path / "cache")
    assert info.value.line == 6


def test_empty_corpus(tmp_path):
    src = _corpus(tmp_path / "corpus.jsonl", [])
    with pytest.raises(DataError, match="file is empty: no documents"):
        Corpus.open(src, cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="file not found"):
        Corpus.open(tmp_path / "missing", cache_dir=tmp_path / "cache")


def test_hash_ids_consistent_across_inputs():
    ids = ["", "a", "ab", "ba", "a" * 300, "ü", "doc-1", "doc-10", "doc-01"]
    h = hash_ids(ids)
    assert h.dtype == np.uint64 and len(set(h.tolist())) == len(ids)
    arr = pa.array(["pad", "pad"] + ids)
    assert (hash_ids(arr.slice(2)) == h).all()  # respects Arrow slice offsets
    chunked = pa.chunked_array([ids[:4], ids[4:]])
    assert (hash_ids(chunked) == h).all()
    assert (hash_ids(np.array(ids, dtype=object)) == h).all()
    assert hash_ids([]).shape == (0,)


def test_rows_of_survives_hash_collision(tmp_path, monkeypatch):
    """Fake a collision by making every id hash alike: lookups must still be exact."""
    from sycl.io import corpus as corpus_mod

    _corpus(tmp_path / "corpus.jsonl", _docs(4))
    c = Corpus.open(tmp_path / "corpus.jsonl", cache_dir=tmp_path / "cache")
    h0 = hash_ids(["d2"])[0]
    c._hash = np.full(4, h0, dtype=np.uint64)
    c._row = np.arange(4, dtype=np.int64)
    monkeypatch.setattr(corpus_mod, "hash_ids", lambda ids: np.full(len(ids), h0, dtype=np.uint64))
    assert c.rows_of(["d3", "d0", "zz"], missing="ignore").tolist() == [3, 0, -1]


def test_lookup_across_record_batches(tmp_path):
    """Rows spread over several Arrow record batches come back in the order asked for."""
    docs = _docs(120_000) + [{"_id": 120_000, "text": "int id: checked path, 50k-row batches"}]
    _corpus(tmp_path / "corpus.jsonl", docs)
    c = Corpus.open(tmp_path / "corpus.jsonl", cache_dir=tmp_path / "cache")
    assert c.ids.num_chunks == 3
    ids = ["d119999", "d3", "120000", "d60001", "d3", "d50000"]
    rows = c.rows_of(ids)
    assert rows.tolist() == [119999, 3, 120000, 60001, 3, 50000]
    assert c.take("_id", rows).to_pylist() == ids
    assert c.texts(rows)[0] == "title 119999 text of passage 119999 ünïcödé"
    assert c.texts([]) == []
    with pytest.raises(IndexError):
        c.take("text", [len(c)])
