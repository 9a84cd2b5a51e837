"""A server that is not there ends ``sycl generate`` at once, with one error and no empty data set.

Before: a closed port or a ``--base-url`` that is not a URL retried every query 6 times (27 s
for 15 queries), exited 1 and left empty ``corpus.jsonl``/``queries.jsonl``/``qrels``, and the
manifest said ``transport_retries: 0`` while the journal recorded 6 per query.

Times are measured past the start of a ``sycl`` process (``startup``: what ``sycl generate --help``
takes on this machine, seconds under load on a shared CPU), so the bound holds on a busy machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from generation_server import REPO, ChatServer, sycl_generate

DATASET_FILES = ("corpus.jsonl", "queries.jsonl", "qrels", "manifest.json")
QUICK = 5.0  # seconds a run may take past the process start (the old behaviour took 27 s)


@pytest.fixture(scope="module")
def startup() -> float:
    t0 = time.monotonic()
    proc = sycl_generate(["--help"])
    assert proc.returncode == 0
    return time.monotonic() - t0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nobody listens there


def write_queries(path: Path, n: int, extra: dict[str, str] | None = None) -> Path:
    queries = {f"q{i:02d}": f"unreachable topic {i}" for i in range(n)} | (extra or {})
    path.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    return path


def args(qfile: Path, out: Path, url: str, *more: str) -> list[str]:
    base = ["--queries", str(qfile), "--out", str(out), "--backend", "openai", "--base-url", url, "--model", "m"]
    return [*base, "--judge", "none", *more]


def error_lines(proc) -> list[str]:
    return [x for x in proc.stderr.decode().splitlines() if x.startswith("sycl generate: error:")]


def assert_no_data_set(out: Path) -> None:
    for name in DATASET_FILES:
        assert not (out / name).exists(), name
    if out.exists():  # what may stay (the journal, for a rerun) is never an empty data file
        assert all(p.stat().st_size > 0 or p.name.endswith(".lock") for p in out.rglob("*") if p.is_file())


def test_closed_port_stops_the_run_in_seconds(tmp_path, startup):
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = sycl_generate(args(write_queries(tmp_path / "q.jsonl", 15), out, f"http://127.0.0.1:{closed_port()}/v1"))
    seconds = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr.decode()
    assert seconds - startup < QUICK, f"{seconds:.1f} s, of which {startup:.1f} s starting the process"
    (line,) = error_lines(proc)
    assert "cannot reach the server at http://127.0.0.1:" in line and "connection attempts in a row" in line
    assert "generated" not in proc.stdout.decode()  # no summary of an empty data set
    assert_no_data_set(out)
    assert not out.exists()  # the probe failed before the journal was opened


@pytest.mark.parametrize("url", ["notaurl", "http//127.0.0.1:8000/v1", "localhost:8000/v1", "http://:8000/v1"])
def test_a_base_url_that_is_not_a_url_is_rejected_before_any_work(tmp_path, url, startup):
    out = tmp_path / "out"
    t0 = time.monotonic()
    proc = sycl_generate(args(write_queries(tmp_path / "q.jsonl", 15), out, url))
    assert proc.returncode == 2, proc.stderr.decode()
    assert time.monotonic() - t0 - startup < QUICK
    (line,) = error_lines(proc)
    assert "base_url" in proc.stderr.decode() and url in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode(), line
    assert not out.exists()


def test_server_dying_mid_run_stops_it_and_a_rerun_resumes(tmp_path):
    qfile = write_queries(tmp_path / "q.jsonl", 60)
    out = tmp_path / "out"
    server = ChatServer(tmp_path, latency=0.05)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "sycl.cli", "generate", *args(qfile, out, server.url, "--concurrency", "2")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        journal = out / "journal.jsonl"
        deadline = time.monotonic() + 60
        while (not journal.exists() or journal.read_bytes().count(b"\n") < 4) and time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop()  # the server goes away mid-run
        killed = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        seconds = time.monotonic() - killed
    finally:
        proc.kill()
        server.stop()
    assert proc.returncode == 2, stderr.decode()
    assert seconds < QUICK, f"{seconds:.1f} s"
    assert "cannot reach the server" in stderr.decode() and "rerun the same command" in stderr.decode()
    assert_no_data_set(out)
    done = [json.loads(x) for x in journal.read_text().splitlines()]
    assert 4 <= len(done) < 60 and all(r["status"] == "done" for r in done)  # no unit failed for the outage

    again = ChatServer(tmp_path)  # back, on another port
    try:
        rerun = sycl_generate(args(qfile, out, again.url), timeout=120)
    finally:
        again.stop()
    assert rerun.returncode == 0, rerun.stderr.decode()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["done"] == 60 and manifest["this_run"]["skipped_from_journal"] == len(done)


def test_manifest_counts_the_transport_retries_the_journal_records(tmp_path):
    server = ChatServer(tmp_path)
    try:
        failing = {f"f{i}": f"always failing {i} fault:500xall" for i in range(3)}
        qfile = write_queries(tmp_path / "q.jsonl", 2, failing)
        out = tmp_path / "out"
        proc = sycl_generate(args(qfile, out, server.url, "--max-retries", "2", "--max-failure-rate", "1.0"))
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr.decode()
    journal = [json.loads(x) for x in (out / "journal.jsonl").read_text().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(r["transport_retries"] for r in journal) == 6  # 3 failed queries, 2 retries each
    assert manifest["counts"]["transport_retries"] == manifest["this_run"]["transport_retries"] == 6
    assert manifest["counts"]["failed"] == 3 and manifest["counts"]["done"] == 2


def test_without_retries_a_few_refused_requests_still_stop_the_backend():
    from sycl.generation.backends.base import ChatRequest
    from sycl.generation.backends.openai_api import OpenAIBackend, ServerUnreachable

    backend = OpenAIBackend(f"http://127.0.0.1:{closed_port()}/v1", "m", concurrency=1, max_retries=0)
    requests = [
        ChatRequest(id=str(i), messages=[{"role": "user", "content": "x"}], max_tokens=8, temperature=0.0, top_p=1.0)
        for i in range(50)
    ]
    seen = []

    async def go():
        try:
            async for req, comp in backend.stream(requests):
                seen.append(comp)
        finally:
            await backend.aclose()

    with pytest.raises(ServerUnreachable, match="3 connection attempts in a row"):
        asyncio.run(go())
    assert len(seen) == 2 and all("connection error" in c.error for c in seen)  # the third refusal stops it


def test_quickstart_with_an_unreachable_server_reports_one_line(tmp_path):
    """``sycl quickstart`` (and ``sycl run``) report an unreachable server like ``generate``: exit 2, no traceback."""
    out = tmp_path / "qs"
    cmd = [sys.executable, "-m", "sycl.cli", "quickstart", "--out", str(out), "--backend", "openai"]
    cmd += ["--base-url", f"http://127.0.0.1:{closed_port()}/v1", "--model", "m"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, cwd=tmp_path, env=env, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("sycl quickstart: error:")]
    assert "cannot reach the server" in line
