"""``sycl compare`` pairs queries only of evaluations that scored the same data set.

It used to pair any two results with the same name and split whose query ids matched: a SciFact
cut and a Cranfield cut, both folders called ``tiny`` with queries ``0..n``, came out as a
"significant" difference of -19.9 points.
"""

from __future__ import annotations

import json
import shutil

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


def test_a_copy_at_another_path_is_the_same_data_set(outputs, tmp_path, minilm, capsys):
    """Paired by content: the same files copied elsewhere (another machine's path) are the same data set."""
    root, first, _ = outputs
    copy = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(first, copy)
    evaluate(minilm, [str(copy)], root / "copy", show_progress=False, precision="fp32")
    a, c = (json.loads((root / d / "metrics.json").read_text())["results"][0] for d in ("a", "copy"))
    assert a["origin"] != c["origin"] and a["content"] == c["content"]
    assert main(["-q", "compare", f"A={root / 'a'}", f"copy={root / 'copy'}"]) == 0
    assert "| tiny/test | nDCG@10 | copy | A |" in capsys.readouterr().out


def test_a_corpus_edited_in_place_is_not_the_same_data_set(outputs, minilm, capsys):
    """Same path, same judgements, other passages: pairing them would compare two different tasks."""
    root, first, _ = outputs
    corpus = first / "corpus.jsonl"
    lines = corpus.read_text().splitlines()
    doc = json.loads(lines[0])
    doc["text"] = "volcanic eruptions and lava flows " + doc["text"]
    corpus.write_text("\n".join([json.dumps(doc), *lines[1:]]) + "\n")
    evaluate(minilm, [str(first)], root / "edited", show_progress=False, precision="fp32")
    assert main(["-q", "compare", f"A={root / 'a'}", f"edited={root / 'edited'}"]) == 2
    line = capsys.readouterr().err.strip()
    edited = root / "edited" / "metrics.json"
    assert line.startswith(f"sycl compare: error: {edited}: tiny/test was read from the same files as tiny/test in")
    assert "its corpus changed between the two evaluations" in line and "\n" not in line


def test_outputs_without_content_fall_back_to_the_origin(outputs, capsys):
    """metrics.json written before ``content`` was recorded still pair when their origins match."""
    root, _, _ = outputs
    for name in ("a", "a-again"):
        path = root / name / "metrics.json"
        report = json.loads(path.read_text())
        for entry in report["results"]:
            del entry["content"]
        path.write_text(json.dumps(report))
    assert main(["-q", "compare", f"A={root / 'a'}", f"again={root / 'a-again'}"]) == 0
