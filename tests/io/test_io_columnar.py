"""Arrow fast paths agree with the line readers and hand bad input back to them."""

from __future__ import annotations

import json

import pytest

from sycl.io import DataError, read_qrels, read_queries
from sycl.io.beir import qrels_dict
from sycl.io.beir import read_qrels_arrow as read_qrels_table
from sycl.io.columnar import QRELS_SCHEMA, queries_fast


def _tsv(path, rows, header=True):
    path.write_text(
        ("query-id\tcorpus-id\tscore\n" if header else "") + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows)
    )
    return path


def test_qrels_table_fast_path_matches_dicts(tmp_path):
    rows = [(f"q{i % 50}", f"d {i}", i % 4) for i in range(1000)]
    t = read_qrels_table(_tsv(tmp_path / "a.tsv", rows))
    assert t.schema == QRELS_SCHEMA and t.num_rows == 1000
    assert t.column("corpus-id")[1].as_py() == "d 1"  # spaces inside ids kept, file order kept
    expected = {}
    for q, d, s in rows:
        expected.setdefault(q, {})[d] = s
    assert qrels_dict(t) == expected == read_qrels(tmp_path / "a.tsv")
    t2 = read_qrels_table(_tsv(tmp_path / "b.tsv", rows, header=False))
    assert t2.equals(t)


def test_qrels_table_other_layouts(tmp_path):
    (tmp_path / "t.txt").write_text("1 0 a 2\n1 0 b 0\n")
    assert read_qrels_table(tmp_path / "t.txt").to_pylist() == [
        {"query-id": "1", "corpus-id": "a", "score": 2},
        {"query-id": "1", "corpus-id": "b", "score": 0},
    ]
    (tmp_path / "g.jsonl").write_text(json.dumps({"qid": "q", "docid": ["x"], "score": ["3"]}) + "\n")
    assert read_qrels_table(tmp_path / "g.jsonl").column("score").to_pylist() == [3]


@pytest.mark.parametrize(
    "bad, problem",
    [
        (("q1", "d1", "2.0x"), "is not a number"),
        (("q1", "d1", "0.5"), "not an integer label"),
        (("q0", "d0", "1"), "duplicate judgement for query 'q0', document 'd0' (first on line 2)"),
    ],
)
def test_bad_qrels_fall_back_to_line_errors(tmp_path, bad, problem):
    p = _tsv(tmp_path / "q.tsv", [(f"q{i}", f"d{i}", 1) for i in range(300)] + [bad])
    for reader in (read_qrels, read_qrels_table):
        with pytest.raises(DataError) as info:
            reader(p)
        assert info.value.line == 302 and problem in str(info.value)


def test_scores_written_as_floats_are_integer_labels(tmp_path):
    p = _tsv(tmp_path / "q.tsv", [("q", "a", "2.0"), ("q", "b", "0")])
    assert read_qrels(p) == {"q": {"a": 2, "b": 0}}


def test_queries_fast_path_agrees_and_declines(tmp_path):
    p = tmp_path / "queries.jsonl"
    p.write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": f"text {i}", "metadata": {"x": i}}) + "\n" for i in range(500))
    )
    fast = queries_fast(p)
    assert fast is not None and list(fast)[:2] == ["q0", "q1"] and len(fast) == 500
    assert read_queries(p) == fast
    p.write_text('{"_id": 1, "text": "numeric id"}\n')
    assert queries_fast(p) is None and read_queries(p) == {"1": "numeric id"}
    p.write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    assert queries_fast(p) is None
    with pytest.raises(DataError, match="duplicate query id 'a'"):
        read_queries(p)
