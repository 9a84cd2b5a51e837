"""``sycl compare`` pairs queries only of evaluations that scored the same data set.

It used to pair any two results with the same name and split whose query ids matched: a SciFact
cut and a Cranfield cut, both folders called ``tiny`` with queries ``0..n``, came out as a
"significant" difference of -19.9 points.
"""

from __future__ import annotations

import json

import pytest

from sycl.cli import main
from sycl.evaluation import evaluate


@pytest.fixture
def outputs(tiny_beir, tmp_path, minilm):
    """Evaluations of one model on two different folders both named ``tiny`` (same query ids), and again on the first."""
    first = tiny_beir(name="one/tiny", levels=(3, 2, 1, 0))
    other = tiny_beir(name="two/tiny", levels=(2, 0), extra_docs=5)
    settings = {"show_progress": False, "precision": "fp32"}
    for out, data in (("a", first), ("b", other), ("a-again", first)):
        evaluate(minilm, [str(data)], tmp_path / out, **settings)
    return tmp_path, first, other


def test_two_data_sets_with_one_name_are_not_paired(outputs, capsys):
    root, first, other = outputs
    a, b = root / "a" / "metrics.json", root / "b" / "metrics.json"
    assert json.loads(a.read_text())["results"][0]["dataset"] == json.loads(b.read_text())["results"][0]["dataset"]
    assert main(["-q", "compare", f"A={a}", f"B={b}", "--out", str(root / "cmp.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip()
    assert (
        line.startswith(f"sycl compare: error: {b}: tiny/test is not the data set called tiny/test in {a}")
        and "\n" not in line
    )
    for named in (a, b, first / "qrels" / "test.tsv", other / "qrels" / "test.tsv"):
        assert str(named) in line, named
    assert not (root / "cmp.json").exists()


def test_the_same_data_set_is_paired(outputs, capsys):
    root, _, _ = outputs
    assert main(["-q", "compare", f"A={root / 'a'}", f"again={root / 'a-again'}"]) == 0
    assert "| tiny/test | nDCG@10 | again | A |" in capsys.readouterr().out


def test_an_output_without_the_fingerprint_is_an_error_that_says_what_to_do(outputs, capsys):
    root, _, _ = outputs
    old = root / "old" / "metrics.json"
    old.parent.mkdir()
    report = json.loads((root / "a-again" / "metrics.json").read_text())
    for entry in report["results"]:
        del entry["qrels_sha256"], entry["origin"]
    old.write_text(json.dumps(report))
    assert main(["-q", "compare", str(root / "a"), str(old)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"sycl compare: error: {old}: tiny/test: no 'origin' or 'qrels_sha256'")
    assert "re-run sycl evaluate" in line
