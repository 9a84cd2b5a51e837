"""The ``sycl`` command: help, version, and ``sycl validate`` on tiny and real collections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sycl import __version__
from sycl.cli import COMMANDS, main

SYCL = Path(sys.executable).parent / "sycl"


def _sycl(*args, **kw):
    exe = [str(SYCL)] if SYCL.exists() else [sys.executable, "-m", "sycl.cli"]
    return subprocess.run([*exe, *args], capture_output=True, text=True, timeout=120, **kw)


def test_console_script_help():
    out = _sycl("--help")
    assert out.returncode == 0
    assert "usage: sycl" in out.stdout
    for name in COMMANDS:
        assert name in out.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sycl {__version__}"


def test_validate_help_lists_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--allow-unknown-ids" in text and "--json" in text and "hf://datasets" in text


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_validate_prints_table_and_exits_0(tiny_beir, capsys):
    folder = tiny_beir(n_queries=2, levels=(2, 0), splits=("train",))
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "6 documents" in out and "2 queries" in out and "valid" in out
    assert "label 0" in out and "label 2" in out and "train" in out


def test_validate_json_and_out_file(tiny_beir, capsys, tmp_path):
    folder = tiny_beir(n_queries=2, levels=(3, 1))
    assert main(["-q", "validate", str(folder), "--json", "--out", str(tmp_path / "r.json")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "validation" and report["documents"] == 6
    assert report["splits"][0]["labels"] == {"1": 2, "3": 2}
    assert json.loads((tmp_path / "r.json").read_text()) == report


def test_validate_bad_input_exits_2_naming_file_and_line(tiny_beir, capsys):
    folder = tiny_beir(n_queries=2)
    qrels = folder / "qrels" / "test.tsv"
    with open(qrels, "a") as fh:
        fh.write("q0\tghost\t1\n")
    n = len(qrels.read_text().splitlines())
    assert main(["validate", str(folder)]) == 2
    assert f"sycl validate: error: {qrels}:{n}: unknown document id 'ghost'" in capsys.readouterr().err
    assert main(["-q", "validate", str(folder), "--allow-unknown-ids", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"][0]["unknown_document_judgements"] == 1


def test_validate_offline_name_exits_2(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SYCL_BEIR_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path))
    assert main(["-q", "validate", "trec-covid"]) == 2
    err = capsys.readouterr().err
    assert "no network is reachable" in err and "local BEIR folder" in err


# Counts read from the files themselves (wc/cut/sort over qrels/*.tsv), see ../shared/datasets/README.md.
REAL = {
    "scifact": dict(
        documents=5183, queries=1109, empty=0, splits={"test": (300, 339, {"1": 339}), "train": (809, 919, {"1": 919})}
    ),
    "cranfield": dict(
        documents=1400, queries=225, empty=2, splits={"test": (225, 1837, {"1": 363, "2": 734, "3": 387, "4": 353})}
    ),
    "cisi": dict(documents=1460, queries=112, empty=0, splits={"test": (76, 3114, {"1": 3114})}),
}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(REAL))
def test_validate_real_collections_exact_counts(shared_datasets, name, capsys):
    assert main(["-q", "validate", str(shared_datasets / name), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    want = REAL[name]
    assert (report["documents"], report["queries"], report["empty_documents"]) == (
        want["documents"],
        want["queries"],
        want["empty"],
    )
    got = {s["name"]: (s["queries_judged"], s["judgements"], s["labels"]) for s in report["splits"]}
    assert got == want["splits"]
    assert all(s["unknown_query_judgements"] == s["unknown_document_judgements"] == 0 for s in report["splits"])
