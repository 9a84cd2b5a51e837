"""Validation of BEIR folders: counts on good folders, file + line + problem on bad ones."""

from __future__ import annotations

import json

import pytest

from sycl.io import DataError
from sycl.io.validate import validate_folder


def _append(path, text: str | bytes):
    with open(path, "ab") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def _n_lines(path) -> int:
    return len(path.read_bytes().splitlines())


def _check(err: DataError, path, line, *words):
    assert err.path is not None and err.path.endswith(str(path.name)), err
    assert err.path in (str(path), str(path.resolve()))
    assert err.line == line, err
    for w in words:
        assert w in str(err), (w, str(err))


def test_counts_of_a_good_folder(tiny_beir):
    folder = tiny_beir(n_queries=3, levels=(3, 2, 1, 0), splits=("train", "test"), extra_docs=2)
    r = validate_folder(folder)
    assert (r.documents, r.queries, r.empty_documents) == (14, 3, 0)
    assert [s.name for s in r.splits] == ["test", "train"]
    t = r.split("train")
    assert (t.queries_judged, t.judgements, t.labels) == (3, 12, {0: 3, 1: 3, 2: 3, 3: 3})
    assert r.warnings == []
    d = r.to_dict()
    assert d["kind"] == "validation" and d["splits"][0]["labels"] == {"0": 3, "1": 3, "2": 3, "3": 3}
    json.dumps(d)


def test_trec_and_grouped_qrels_in_a_folder(tiny_beir):
    folder = tiny_beir(n_queries=2, levels=(1, 0))
    (folder / "qrels" / "trec.txt").write_text("q0 0 q0-l1 1\nq1 0 q1-l1 2\n")
    (folder / "qrels" / "bm25.jsonl").write_text(json.dumps({"qid": "q0", "docid": ["x0", "x1"]}) + "\n")
    r = validate_folder(folder)
    assert r.split("trec").labels == {1: 1, 2: 1} and r.split("trec").queries_judged == 2
    assert (r.split("bm25").judgements, r.split("bm25").labels) == (2, {0: 2})


@pytest.mark.parametrize(
    "bad, problem",
    [
        ('{"_id": "z", "text": "unterminated', "malformed JSON"),
        ('{"title": "t", "text": "no id"}', "missing field '_id'"),
        ('{"_id": "z", "title": "t"}', "missing field 'text'"),
        ('{"_id": "q0-l3", "text": "duplicate"}', "duplicate document id 'q0-l3' (first on line 1)"),
    ],
)
def test_bad_corpus(tiny_beir, bad, problem):
    folder = tiny_beir()
    corpus = folder / "corpus.jsonl"
    _append(corpus, bad + "\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, corpus, _n_lines(corpus), problem)


def test_corpus_wrong_encoding(tiny_beir):
    folder = tiny_beir()
    corpus = folder / "corpus.jsonl"
    _append(corpus, '{"_id": "z", "text": "na\xefve"}\n'.encode("latin-1"))
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, corpus, _n_lines(corpus), "not valid UTF-8", "0xef")


def test_empty_corpus_and_queries(tiny_beir):
    folder = tiny_beir()
    (folder / "corpus.jsonl").write_text("")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, folder / "corpus.jsonl", None, "file is empty")
    folder = tiny_beir(name="b")
    (folder / "queries.jsonl").write_text("\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, folder / "queries.jsonl", None, "file is empty: no queries")


@pytest.mark.parametrize(
    "bad, problem",
    [
        ('{"_id": "q0", "text": "again"}', "duplicate query id 'q0' (first on line 1)"),
        ('{"_id": "q9"}', "missing field 'text'"),
        ('{"_id": "q9", "text": "x"', "malformed JSON"),
    ],
)
def test_bad_queries(tiny_beir, bad, problem):
    folder = tiny_beir()
    queries = folder / "queries.jsonl"
    _append(queries, bad + "\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, queries, _n_lines(queries), problem)


def test_queries_wrong_encoding(tiny_beir):
    folder = tiny_beir()
    queries = folder / "queries.jsonl"
    queries.write_bytes(queries.read_text().encode("utf-16"))
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, queries, 1, "UTF-16")


@pytest.mark.parametrize(
    "row, problem",
    [
        ("q0\tx0\trelevant", "score 'relevant' is not a number"),
        ("q0\tq0-l3\t1", "duplicate judgement for query 'q0', document 'q0-l3' (first on line 2)"),
        ("q0 x0", "expected 3 columns"),
    ],
)
def test_bad_qrels(tiny_beir, row, problem):
    folder = tiny_beir()
    qrels = folder / "qrels" / "test.tsv"
    _append(qrels, row + "\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, qrels, _n_lines(qrels), problem)


def test_empty_qrels_and_missing_files(tiny_beir):
    folder = tiny_beir()
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, folder / "qrels" / "dev.tsv", None, "file is empty: no judgements")
    folder = tiny_beir(name="noqrels")
    for p in (folder / "qrels").iterdir():
        p.unlink()
    with pytest.raises(DataError, match="no qrels files"):
        validate_folder(folder)
    (folder / "queries.jsonl").unlink()
    with pytest.raises(DataError, match="queries.jsonl not found"):
        validate_folder(folder)
    with pytest.raises(DataError, match="folder not found"):
        validate_folder(folder / "nope")


def test_unknown_document_id_is_an_error_or_a_counted_warning(tiny_beir):
    folder = tiny_beir(n_queries=2)
    qrels = folder / "qrels" / "test.tsv"
    _append(qrels, "q0\tghost-1\t1\nq1\tghost-2\t0\nq1\tghost-1\t2\n")
    first_bad = _n_lines(qrels) - 2
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(
        info.value,
        qrels,
        first_bad,
        "unknown document id 'ghost-1'",
        "3 judgement(s) reference 2 document id(s)",
        "--allow-unknown-ids",
    )
    r = validate_folder(folder, allow_unknown=True)
    s = r.split("test")
    assert (s.unknown_document_judgements, s.unknown_query_judgements, s.judgements) == (3, 0, 11)
    assert len(r.warnings) == 1 and f"test.tsv:{first_bad}:" in r.warnings[0] and "2 document id(s)" in r.warnings[0]


def test_unknown_query_id_is_an_error_or_a_counted_warning(tiny_beir):
    folder = tiny_beir(n_queries=2)
    qrels = folder / "qrels" / "test.tsv"
    _append(qrels, "q77\tq0-l3\t1\n")
    with pytest.raises(DataError) as info:
        validate_folder(folder)
    _check(info.value, qrels, _n_lines(qrels), "unknown query id 'q77'", "not in queries.jsonl")
    r = validate_folder(folder, allow_unknown=True)
    assert r.split("test").unknown_query_judgements == 1
    assert r.split("test").queries_judged == 3
    assert any("1 query id(s) not in queries.jsonl" in w for w in r.warnings)


def test_empty_documents_are_warned(tiny_beir):
    folder = tiny_beir()
    _append(folder / "corpus.jsonl", '{"_id": "blank", "title": "", "text": ""}\n')
    r = validate_folder(folder)
    assert r.empty_documents == 1 and "1 document(s) have an empty title and text" in r.warnings[0]
