"""The API key never reaches a generated data set, its journal or the logs, whatever the server echoes.

A real server process on 127.0.0.1 echoes the request's headers (``Authorization: Bearer <key>``)
into a successful answer's passages, a malformed answer, and 4xx/5xx error bodies padded so that
the client's cut (200 or 300 characters) falls in the middle of the key; ``sycl generate`` runs
against it as a real process, and then every byte it wrote is searched for the key and for every
8-character piece of it.
"""

from __future__ import annotations

import json

import pytest
from generation_server import ChatServer, sycl_generate

MARK = "***"  # what the key and echoed credentials are replaced with
KEY = "sk-hostile-7Qm2Xv9LpR4tZk8WnB3yJd6HcF1sGa5E"
PIECES = [KEY[i : i + 8] for i in range(len(KEY) - 7)]  # any longer leak holds one of these


def leaks(data: bytes) -> list[str]:
    return [p for p in PIECES if p.encode() in data]


def test_redactor_replaces_every_piece_of_the_key_and_echoed_headers():
    from sycl.generation.backends.redact import Redactor

    r = Redactor([KEY])
    assert r(f"error: {KEY} end") == f"error: {MARK} end"
    assert r("x" * 150 + KEY[:9]) == "x" * 150 + MARK  # a body cut mid-key keeps a prefix
    assert r(f"wrapped {KEY[13:21]} line") == f"wrapped {MARK} line"  # a middle piece
    assert r(f"{KEY}{KEY[3:20]}") == MARK
    assert r('{"authorization": "Bearer other-token-123456", "host": "h"}') == (
        f'{{"authorization": "{MARK}", "host": "h"}}'
    )
    assert r("Authorization: Basic dXNlcjpwYXNz\r\nHost: h") == f"Authorization: {MARK}\r\nHost: h"
    assert r("x-api-key=abc123def") == f"x-api-key={MARK}"
    assert r("curl -H Bearer eyJhbGci0iJIUzI1") == f"curl -H Bearer {MARK}"
    assert r("Bearer tokens are common in prose.") == "Bearer tokens are common in prose."
    assert r(f"only {KEY[:7]} is kept") == f"only {KEY[:7]} is kept"  # shorter than 8: not a secret on its own
    assert Redactor(["abc"])("xabcx") == f"x{MARK}x"  # a short secret: replaced whole


QUERIES = {
    "clean": "plain harbor question",
    "echo-once": "copper signal fault:echox1",  # the first answer's passages quote the headers, the retry not
    "echo-all": "winter orchard fault:echoxall",  # every answer does: the unit fails with its raw answer kept
    "malformed": "velvet falcon fault:echomalformedxall",  # prose quoting the headers, no JSON
    "http500": "marble quarry fault:echo500xall",  # retried 5xx, body cut at 200 characters
    "http403": "cobalt tundra fault:echo403xall",  # final 4xx, body cut at 300 characters
    "http400": "walnut prism fault:echo400xall",  # structured-output rejections (cut at 200), then a final 400
    "http401": "anchor beacon fault:echo401xall",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("secrets")
    server = ChatServer(tmp)
    try:
        qfile = tmp / "queries.jsonl"
        qfile.write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
        out = tmp / "out"
        args = ["--queries", str(qfile), "--out", str(out), "--backend", "openai", "--base-url", server.url]
        args += ["--model", "m", "--api-key-env", "SYCL_HOSTILE_KEY", "--max-retries", "1", "--max-attempts", "2"]
        args += ["--judge", "none", "--max-failure-rate", "1.0", "--concurrency", "2", "--request-timeout", "10"]
        proc = sycl_generate(args, env={"SYCL_HOSTILE_KEY": KEY})
        (tmp / "stdout.log").write_bytes(proc.stdout)
        (tmp / "stderr.log").write_bytes(proc.stderr)
        yield tmp, out, proc, server.entries()
    finally:
        server.stop()


def test_the_server_really_echoed_the_key(generated):
    _, out, proc, entries = generated
    assert proc.returncode == 0, proc.stderr.decode()
    assert all(e["auth"] for e in entries)  # the key was sent with every request
    faults = {e["fault"] for e in entries}
    assert {"echo", "echomalformed", "echo500", "echo403", "echo400", "echo401"} <= faults


def test_no_piece_of_the_key_is_stored_or_logged(generated):
    tmp, out, _, _ = generated
    files = [p for p in out.rglob("*") if p.is_file()] + [tmp / "stdout.log", tmp / "stderr.log"]
    assert {"manifest.json", "journal.jsonl", "corpus.jsonl"} <= {p.name for p in files}
    found = {str(p.relative_to(tmp)): leaks(p.read_bytes()) for p in files}
    assert {name: pieces for name, pieces in found.items() if pieces} == {}


def test_echoing_answers_are_rejected_and_errors_keep_the_marker(generated):
    _, out, _, _ = generated
    manifest = json.loads((out / "manifest.json").read_text())
    failures = {f["query_id"]: f for f in manifest["failures"]}
    assert set(failures) == {"echo-all", "malformed", "http500", "http403", "http400", "http401"}
    for qid in ("echo-all", "malformed"):  # rejected content: the raw answer is kept, redacted
        assert "echoes a credential" in failures[qid]["error"] and MARK in failures[qid]["raw"]
    for qid in ("http500", "http403", "http400", "http401"):
        assert MARK in failures[qid]["error"], failures[qid]
    assert any("echoes a credential" in k for k in manifest["this_run"]["rejections"])
    assert [r["status"] for r in manifest["structured_output_rejections"]] == [400, 400]
    assert all(MARK in r["body"] for r in manifest["structured_output_rejections"])
    # the unit whose first answer echoed the headers was asked again and kept clean passages
    corpus = [json.loads(x) for x in (out / "corpus.jsonl").read_text().splitlines()]
    again = [d["text"] for d in corpus if d["_id"].startswith("echo-once-")]
    assert len(again) == 4 and not any(MARK in t or "authorization" in t.lower() for t in again)
    assert len([d for d in corpus if d["_id"].startswith("clean-")]) == 4
