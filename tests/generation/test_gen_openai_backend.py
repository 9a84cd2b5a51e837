"""The OpenAI-compatible client against a real server process with injected faults."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

from sycl.generation.backends.base import BackendUnavailable, ChatRequest
from sycl.generation.backends.openai_api import OpenAIBackend, parse_retry_after


def req(query: str, schema: dict | None = None) -> ChatRequest:
    return ChatRequest(id=query, messages=[{"role": "user", "content": f'Search query: "{query}"\nWrite a passage '
                                            "that is related to this query, which means: x."}],
                       max_tokens=64, temperature=0.0, top_p=1.0, seed=1, json_schema=schema)


def run(backend: OpenAIBackend, requests: list[ChatRequest]):
    async def go():
        try:
            return {r.id: c async for r, c in backend.stream(requests)}
        finally:
            await backend.aclose()
    return asyncio.run(go())


def test_retry_after_header_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 0 <= parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") < 1  # a past date: no wait


def test_429_is_retried_after_retry_after_and_5xx_badbody_with_backoff(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=4, timeout=10, max_retries=3, backoff_base=0.05)
    t0 = time.monotonic()
    out = run(b, [req(f"{unique} a fault:429x1"), req(f"{unique} b fault:500x2"), req(f"{unique} c fault:badbodyx1"),
                  req(f"{unique} ok")])
    elapsed = time.monotonic() - t0
    assert all(c.error is None and c.text for c in out.values())
    assert out[f"{unique} a fault:429x1"].retries == 1
    assert out[f"{unique} b fault:500x2"].retries == 2
    assert out[f"{unique} c fault:badbodyx1"].retries == 1
    assert out[f"{unique} ok"].retries == 0
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    assert b.transport_retries == 4


def test_stall_past_timeout_is_retried(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=2, timeout=0.5, max_retries=2, backoff_base=0.01)
    out = run(b, [req(f"{unique} fault:stallx1")])
    c = out[f"{unique} fault:stallx1"]
    assert c.error is None and c.retries == 1


def test_gives_up_after_max_retries_with_a_clear_error(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=2, timeout=5, max_retries=2, backoff_base=0.01)
    c = run(b, [req(f"{unique} fault:500xall")])[f"{unique} fault:500xall"]
    assert c.text is None and c.retries == 2 and "HTTP 500" in c.error and "gave up after 2 retries" in c.error


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_base=0.01)
    c = run(b, [req("x")])["x"]
    assert c.text is None and "connection error" in c.error and c.retries == 2


def test_api_key_is_sent_and_never_appears_in_errors(chat_server, unique):
    key = "sk-test-SECRET-123456"
    b = OpenAIBackend(chat_server.url, "m", api_key=key, max_retries=0)
    out = run(b, [req(f"{unique} fault:echo401xall"), req(f"{unique} fine")])
    bad = out[f"{unique} fault:echo401xall"]
    assert bad.text is None and "HTTP 401" in bad.error
    assert key not in bad.error and "***" in bad.error  # the server echoed it; the client redacted it
    assert chat_server.entries()[-1]["auth"] is True


def test_server_without_json_schema_support_falls_back(chat_server, unique):
    schema = {"type": "object", "properties": {"level_1": {"type": "array", "items": {"type": "string"}}},
              "required": ["level_1"]}
    b = OpenAIBackend(chat_server.url, "m", max_retries=0)
    out = run(b, [req(f"{unique} fault:noschemaxall", schema)])
    c = out[f"{unique} fault:noschemaxall"]
    assert c.error is None and c.text and c.retries == 0
    assert b.supports_json_schema is False
    last = chat_server.entries()[-2:]
    assert [(e["status"], e["schema"]) for e in last] == [(400, True), (200, False)]


def test_model_is_taken_from_the_server_when_not_given(chat_server):
    async def resolve(backend):
        try:
            return await backend.resolve_model()
        finally:
            await backend.aclose()

    assert asyncio.run(resolve(OpenAIBackend(chat_server.url, None))) == "test-model"
    bad = OpenAIBackend("http://127.0.0.1:9/v1", None, api_key="sk-hidden-999")
    with pytest.raises(BackendUnavailable, match="no --model given") as err:
        asyncio.run(resolve(bad))
    assert "sk-hidden-999" not in str(err.value)
