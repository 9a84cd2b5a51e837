"""BEIR/TREC readers and writers: round trips and bad input naming file, line and problem."""

from __future__ import annotations

import json

import pytest

from sycl.io import (
    DataError,
    list_splits,
    qrels_path,
    read_qrels,
    read_queries,
    read_run,
    write_corpus,
    write_qrels,
    write_queries,
    write_run,
)
from sycl.io.beir import iter_jsonl, iter_qrels


def _write(path, text: str | bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _raises(path, line, *words):
    """Context manager asserting a DataError naming ``path``, ``line`` and every word."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(DataError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            err = self.info.value
            assert err.path == str(path)
            assert err.line == line
            msg = str(err)
            assert msg.startswith(f"{path}:{line}: " if line is not None else f"{path}: ")
            for w in words:
                assert w in msg, (w, msg)
            return handled

    return _Check()


# ------------------------------------------------------------------ round trips


def test_queries_roundtrip_keeps_order_and_unicode(tmp_path):
    q = {"b": "naïve query", "a": "второй запрос", "10": "tab\tinside"}
    assert write_queries(tmp_path / "queries.jsonl", q) == 3
    back = read_queries(tmp_path / "queries.jsonl")
    assert back == q and list(back) == ["b", "a", "10"]
    assert read_queries(tmp_path) == q  # a folder means its queries.jsonl


def test_queries_tsv(tmp_path):
    p = _write(tmp_path / "queries.tsv", "qid\ttext\n1\tfirst query\n2\tsecond\tquery\n")
    assert read_queries(p) == {"1": "first query", "2": "second\tquery"}


def test_corpus_writer_output_is_beir_jsonl(tmp_path):
    n = write_corpus(
        tmp_path / "corpus.jsonl",
        [{"_id": 1, "text": "x"}, {"_id": "b", "title": "T", "text": "y", "metadata": {"k": 1}}],
    )
    assert n == 2
    rows = [obj for _, obj in iter_jsonl(tmp_path / "corpus.jsonl")]
    assert rows == [
        {"_id": "1", "title": "", "text": "x"},
        {"_id": "b", "title": "T", "text": "y", "metadata": {"k": 1}},
    ]


def test_qrels_roundtrip_beir_tsv(tmp_path):
    qrels = {"q1": {"d1": 3, "d2": 0}, "q2": {"d 3": 1}}
    assert write_qrels(tmp_path / "qrels" / "test.tsv", qrels) == 3
    assert (tmp_path / "qrels" / "test.tsv").read_text().splitlines()[0] == "query-id\tcorpus-id\tscore"
    assert read_qrels(tmp_path / "qrels" / "test.tsv") == qrels  # ids with spaces survive in TSV
    assert list_splits(tmp_path) == ["test"]
    assert qrels_path(tmp_path, "test") == tmp_path / "qrels" / "test.tsv"


def test_qrels_trec_four_columns(tmp_path):
    p = _write(tmp_path / "qrels.txt", "301 0 FBIS3-10082 1\n301 0 FBIS3-10169 0\n302 Q0 LA-1 2.0\n")
    qrels = read_qrels(p)
    assert qrels == {"301": {"FBIS3-10082": 1, "FBIS3-10169": 0}, "302": {"LA-1": 2}}
    write_qrels(tmp_path / "qrels" / "test.tsv", qrels)  # TREC -> BEIR -> same judgements
    assert read_qrels(tmp_path / "qrels" / "test.tsv") == qrels


def test_qrels_grouped_jsonl(tmp_path):
    p = _write(
        tmp_path / "negatives.jsonl",
        json.dumps({"qid": "q1", "docid": ["a", "b"], "score": [1, 0]})
        + "\n"
        + json.dumps({"qid": "q2", "docid": [7, "c"]})
        + "\n",
    )
    qrels = read_qrels(p)
    assert qrels == {"q1": {"a": 1, "b": 0}, "q2": {"7": 0, "c": 0}}
    write_qrels(tmp_path / "g.tsv", qrels)  # grouped -> BEIR -> same judgements
    assert read_qrels(tmp_path / "g.tsv") == qrels
    assert [r[0] for r in iter_qrels(p)] == [1, 1, 2, 2]


def test_run_roundtrip_ranks_by_score(tmp_path):
    run = {"q1": {"d1": 0.5, "d2": 2.25, "d3": 0.5}, "q2": {"x": -1.0}}
    assert write_run(tmp_path / "r.trec", run, tag="t") == 4
    lines = (tmp_path / "r.trec").read_text().splitlines()
    assert lines[0] == "q1 Q0 d2 1 2.250000 t"
    assert lines[1].split()[2:4] == ["d1", "2"] and lines[2].split()[2:4] == ["d3", "3"]
    assert read_run(tmp_path / "r.trec") == run


def test_unknown_split_lists_known(tmp_path, tiny_beir):
    folder = tiny_beir(splits=("train", "test"))
    with pytest.raises(DataError, match="unknown split 'dev'; available: test, train"):
        qrels_path(folder, "dev")


# ------------------------------------------------------------------ bad input


def test_malformed_json_names_line_and_column(tmp_path):
    p = _write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "ok"}\n{"_id": "2", "text": "unterminated}\n')
    with _raises(p, 2, "malformed JSON", "column"):
        read_queries(p)


def test_json_that_is_not_an_object(tmp_path):
    p = _write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "ok"}\n\n["a", "b"]\n')
    with _raises(p, 3, "expected a JSON object, got list"):
        read_queries(p)


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"text": "no id"}', "missing field '_id'"),
        ('{"_id": "2"}', "missing field 'text'"),
        ('{"_id": "2", "text": ""}', "field 'text' is empty"),
        ('{"_id": "2", "text": 5}', "field 'text' must be a string, got int"),
    ],
)
def test_query_fields(tmp_path, line, problem):
    p = _write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "ok"}\n' + line + "\n")
    with _raises(p, 2, problem):
        read_queries(p)


def test_duplicate_query_id(tmp_path):
    p = _write(
        tmp_path / "queries.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"}\n{"_id": "a", "text": "z"}\n'
    )
    with _raises(p, 3, "duplicate query id 'a'", "first on line 1"):
        read_queries(p)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_queries_file(tmp_path, content):
    p = _write(tmp_path / "queries.jsonl", content)
    with _raises(p, None, "file is empty"):
        read_queries(p)


def test_wrong_encoding_names_exact_line(tmp_path):
    body = "".join(json.dumps({"_id": str(i), "text": "plain"}) + "\n" for i in range(500))
    bad = '{"_id": "x", "text": "caf\xe9"}\n'.encode("latin-1")
    p = _write(tmp_path / "queries.jsonl", body.encode() + bad)
    with _raises(p, 501, "not valid UTF-8", "0xe9", "column"):
        read_queries(p)


def test_utf16_file_is_recognised(tmp_path):
    p = _write(tmp_path / "queries.jsonl", '{"_id": "1", "text": "x"}\n'.encode("utf-16"))
    with _raises(p, 1, "UTF-16"):
        read_queries(p)


def test_utf8_bom_is_accepted(tmp_path):
    p = _write(tmp_path / "queries.jsonl", b'\xef\xbb\xbf{"_id": "1", "text": "x"}\n')
    assert read_queries(p) == {"1": "x"}


@pytest.mark.parametrize(
    "row, problem",
    [
        ("q1\td1\thigh", "score 'high' is not a number"),
        ("q1\td1\t1.5", "is not an integer label"),
        ("q1\td1\tnan", "is not finite"),
        ("q1\td1", "expected 3 columns"),
    ],
)
def test_bad_qrels_rows(tmp_path, row, problem):
    p = _write(tmp_path / "qrels" / "test.tsv", f"query-id\tcorpus-id\tscore\nq0\td0\t1\n{row}\n")
    with _raises(p, 3, problem):
        read_qrels(p)


def test_duplicate_judgement(tmp_path):
    p = _write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq1\td1\t2\n")
    with _raises(p, 4, "duplicate judgement for query 'q1', document 'd1'", "first on line 2"):
        read_qrels(p)


def test_header_only_qrels_is_empty(tmp_path):
    p = _write(tmp_path / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\n")
    with _raises(p, None, "file is empty: no judgements"):
        read_qrels(p)


@pytest.mark.parametrize(
    "obj, problem",
    [
        ({"qid": "q", "docid": "a"}, "'docid' must be a list"),
        ({"qid": "q", "docid": ["a", "b"], "score": [1]}, "as long as 'docid'"),
        ({"qid": "q", "docid": ["a"], "score": ["x"]}, "score 'x' is not a number"),
        ({"docid": ["a"]}, "missing field 'qid'"),
    ],
)
def test_bad_grouped_qrels(tmp_path, obj, problem):
    p = _write(
        tmp_path / "g.jsonl", json.dumps({"qid": "ok", "docid": ["z"], "score": [1]}) + "\n" + json.dumps(obj) + "\n"
    )
    with _raises(p, 2, problem):
        read_qrels(p)


def test_bad_run_line(tmp_path):
    p = _write(tmp_path / "r.trec", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 high t\n")
    with _raises(p, 2, "score 'high' is not a number"):
        read_run(p)
    p = _write(tmp_path / "r2.trec", "q1 Q0 d1 1 0.5\n")
    with _raises(p, 1, "expected 6 columns"):
        read_run(p)


def test_missing_file(tmp_path):
    with _raises(tmp_path / "nope.tsv", None, "file not found"):
        read_qrels(tmp_path / "nope.tsv")
