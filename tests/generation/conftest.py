"""Fixtures of the generation tests: a real chat-completions server process on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from chat_server import ChatServer


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory):
    server = ChatServer(tmp_path_factory.mktemp("chat-server"))
    yield server
    server.stop()


@pytest.fixture
def unique() -> str:
    """A word unique to the test, to keep the server's per-prompt fault counters apart."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def write_queries():
    """``write_queries(path, {qid: text}) -> path``: a BEIR queries.jsonl."""

    def write(path: Path, queries: dict[str, str]) -> Path:
        with open(path, "w", encoding="utf-8") as fh:
            for qid, text in queries.items():
                fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
        return path

    return write


@pytest.fixture
def server_config(chat_server):
    """``server_config(queries_file, out, **overrides)``: a GenerationConfig against the test's chat server."""
    from sycl.generation import GenerationConfig

    def make(queries: Path, out: Path, **kw) -> GenerationConfig:
        base = dict(
            queries=queries,
            out=out,
            backend="openai",
            base_url=chat_server.url,
            model="m",
            concurrency=8,
            request_timeout=5,
            max_retries=2,
            judge="none",
            max_failure_rate=1.0,
        )
        return GenerationConfig(**{**base, **kw})

    return make


@pytest.fixture(scope="session")
def chat_server_class():
    """The :class:`ChatServer` class, for tests that need a server with their own settings.

    (``from conftest import ...`` would resolve to whichever ``conftest`` module was imported first.)
    """
    return ChatServer
