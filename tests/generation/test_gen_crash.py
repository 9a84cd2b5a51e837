"""Crash safety: ``sycl generate`` killed with SIGKILL mid-run, then rerun, equals an
uninterrupted run: the same (query, level) items, the same texts, no duplicates, no gaps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sycl.io.beir import read_qrels

N_QUERIES = 160


def journal_lines(out: Path) -> int:
    p = out / "journal.jsonl"
    return p.read_bytes().count(b"\n") if p.exists() else 0


def command(server_url: str, qfile: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sycl.cli",
        "-q",
        "generate",
        "--queries",
        str(qfile),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--base-url",
        server_url,
        "--model",
        "m",
        "--concurrency",
        "4",
        "--judge",
        "none",
    ]


def corpus(out: Path) -> list[tuple[str, str]]:
    return [(json.loads(x)["_id"], json.loads(x)["text"]) for x in (out / "corpus.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory, chat_server_class):
    server = chat_server_class(tmp_path_factory.mktemp("slow-server"), latency=0.03)
    yield server
    server.stop()


def test_sigkill_mid_run_then_rerun_equals_uninterrupted_run(slow_server, tmp_path, write_queries):
    queries = {f"q{i:03d}": f"crash test topic {i}" for i in range(N_QUERIES)}
    queries["q050"] = "crash test fault:missingx1 needs a retry"
    qfile = write_queries(tmp_path / "q.jsonl", queries)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))

    killed_at = []
    out = tmp_path / "interrupted"
    for threshold in (10, 60):  # two kills at different points
        proc = subprocess.Popen(
            command(slow_server.url, qfile, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while journal_lines(out) < threshold and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL, "the run finished before it could be killed"
        killed_at.append(journal_lines(out))
        assert not (out / "manifest.json").exists()
    assert killed_at[0] < killed_at[1] < N_QUERIES
    done = subprocess.run(command(slow_server.url, qfile, out), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    clean = tmp_path / "clean"
    ref = subprocess.run(command(slow_server.url, qfile, clean), env=env, capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr

    got, want = corpus(out), corpus(clean)
    ids = [i for i, _ in got]
    assert len(ids) == len(set(ids)) == 4 * N_QUERIES  # no duplicates, no gaps
    assert sorted(got) == sorted(want)  # same items and the same texts
    items = {(q, lab) for q, docs in read_qrels(out / "qrels" / "train.tsv").items() for lab in docs.values()}
    assert items == {(q, lab) for q in queries for lab in (3, 2, 1, 0)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["done"] == N_QUERIES and manifest["failures"] == []
    assert manifest["this_run"]["skipped_from_journal"] >= killed_at[1] - 1
