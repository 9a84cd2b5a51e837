"""Data set sources: local folders, BEIR archives over HTTP, the hub cache, and the offline error."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sycl.io import DataError, read_qrels, read_queries
from sycl.io.corpus import Corpus
from sycl.io.sources import convert_hub_layout, resolve_dataset
from sycl.io.validate import validate_folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_folder_is_returned_as_is(tiny_beir):
    folder = tiny_beir()
    assert resolve_dataset(folder) == folder
    assert resolve_dataset(str(folder)) == folder


def test_unknown_spec_and_file(tmp_path):
    with pytest.raises(DataError, match="not found: neither a local folder"):
        resolve_dataset(tmp_path / "missing")
    with pytest.raises(DataError, match="not found"):
        resolve_dataset("scifakt")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match="found a file"):
        resolve_dataset(tmp_path / "f.txt")
    with pytest.raises(DataError, match="expected hf://datasets/<owner>/<name>"):
        resolve_dataset("hf://models/foo")


def test_beir_name_offline_says_no_network(monkeypatch, tmp_path):
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYCL_BEIR_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    with pytest.raises(DataError) as info:
        resolve_dataset("scifact")
    msg = str(info.value)
    assert "no network is reachable" in msg and "pass a local BEIR folder" in msg and "scifact.zip" in msg
    assert not (tmp_path / "cache" / "beir" / "scifact").exists()
    assert list((tmp_path / "cache" / "beir").iterdir()) == []  # temporary download removed


def test_hf_offline_says_no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        resolve_dataset("hf://datasets/sycl-test/does-not-exist@main/sub")
    msg = str(info.value)
    assert msg.startswith("hf://datasets/sycl-test/does-not-exist@main/sub: no network is reachable")
    assert "pass a local BEIR folder" in msg


@pytest.fixture
def http_server(tmp_path):
    """A real HTTP server process on 127.0.0.1 serving ``tmp_path/www``."""
    www = tmp_path / "www"
    www.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(www)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield www, f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_beir_archive_download_unzip_and_cache(http_server, tiny_beir, monkeypatch, tmp_path):
    www, url = http_server
    folder = tiny_beir(name="src", splits=("test", "train"))
    with zipfile.ZipFile(www / "scifact.zip", "w") as zf:  # the BEIR archives hold one top folder
        for p in folder.rglob("*"):
            if p.is_file():
                zf.write(p, Path("scifact") / p.relative_to(folder))
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYCL_BEIR_URL", url)
    got = resolve_dataset("scifact")
    assert got == tmp_path / "cache" / "beir" / "scifact"
    r = validate_folder(got)
    assert (r.documents, r.queries, [s.name for s in r.splits]) == (14, 3, ["test", "train"])
    (www / "scifact.zip").unlink()  # second call: served from the cache, no download
    assert resolve_dataset("scifact") == got
    with pytest.raises(DataError, match="has no folder 'android'"):
        resolve_dataset("scifact/android")


def test_beir_archive_http_error_and_bad_zip(http_server, monkeypatch, tmp_path):
    www, url = http_server
    monkeypatch.setenv("SYCL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYCL_BEIR_URL", url)
    with pytest.raises(DataError, match="download failed: HTTP 404"):
        resolve_dataset("nfcorpus")
    (www / "fiqa.zip").write_bytes(b"this is not a zip")
    with pytest.raises(DataError, match="not a valid zip archive"):
        resolve_dataset("fiqa")
    assert list((tmp_path / "cache" / "beir").iterdir()) == []


def _mteb_layout(root: Path) -> Path:
    """An MTEB-style hub repository: parquet configs corpus/, queries/, qrels (config 'default')."""
    (root / "corpus").mkdir(parents=True)
    (root / "queries").mkdir()
    (root / "qrels").mkdir()
    pq.write_table(
        pa.table({"_id": ["d1", "d2", "d3"], "title": ["A", None, ""], "text": ["alpha", "beta", "gamma"]}),
        root / "corpus" / "test-00000-of-00001.parquet",
    )
    pq.write_table(
        pa.table({"id": ["q1", "q2"], "text": ["first?", "second?"]}), root / "queries" / "test-00000-of-00001.parquet"
    )
    pq.write_table(
        pa.table({"query-id": ["q1", "q1", "q2"], "corpus-id": ["d1", "d2", "d3"], "score": [2, 0, 1]}),
        root / "qrels" / "test-00000-of-00001.parquet",
    )
    pq.write_table(
        pa.table({"query-id": ["q2"], "corpus-id": ["d1"], "score": [1]}), root / "qrels" / "dev-00000-of-00001.parquet"
    )
    return root


def test_convert_mteb_parquet_layout(tmp_path):
    src = _mteb_layout(tmp_path / "repo")
    dst = convert_hub_layout(src, tmp_path / "out" / "beir")
    assert read_queries(dst) == {"q1": "first?", "q2": "second?"}
    assert read_qrels(dst / "qrels" / "test.tsv") == {"q1": {"d1": 2, "d2": 0}, "q2": {"d3": 1}}
    c = Corpus.open(dst, cache_dir=tmp_path / "cc")
    assert c.texts(c.rows_of(["d1", "d2"])) == ["A alpha", "beta"]
    r = validate_folder(dst)
    assert [s.name for s in r.splits] == ["dev", "test"] and r.split("test").judgements == 3
    assert sorted(p.name for p in dst.parent.iterdir()) == ["beir"]  # no temporary folder left


def test_convert_gzipped_jsonl_layout(tmp_path):
    import gzip

    src = tmp_path / "repo"
    (src / "qrels").mkdir(parents=True)
    with gzip.open(src / "corpus.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"_id": "d1", "title": "", "text": "x"}) + "\n")
    with gzip.open(src / "queries.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"_id": "q1", "text": "y"}) + "\n")
    (src / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    dst = convert_hub_layout(src, tmp_path / "out")
    assert validate_folder(dst).split("test").labels == {1: 1}


def test_convert_reports_missing_parts(tmp_path):
    src = _mteb_layout(tmp_path / "repo")
    for p in (src / "qrels").iterdir():
        p.unlink()
    with pytest.raises(DataError, match="no qrels found"):
        convert_hub_layout(src, tmp_path / "out")
    pq.write_table(pa.table({"q": ["q1"], "d": ["d1"], "score": [1]}), src / "qrels" / "test-0.parquet")
    with pytest.raises(DataError, match="no q column"):
        convert_hub_layout(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hf_dataset_from_the_hub_cache_offline(tmp_path):
    """A hub data set already in the Hugging Face cache resolves offline and is converted to BEIR."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "datasets--sycl-test--tiny"
    _mteb_layout(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "SYCL_CACHE": str(tmp_path / "sc"),
    }
    code = "from sycl.io.sources import resolve_dataset; print(resolve_dataset('hf://datasets/sycl-test/tiny'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip().splitlines()[-1])
    assert folder.is_relative_to(tmp_path / "sc" / "hub")
    assert validate_folder(folder).split("test").queries_judged == 2
