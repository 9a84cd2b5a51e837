"""The OpenAI-compatible client against a real server process with injected faults."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from sycl.generation.backends.base import BackendUnavailable, ChatRequest
from sycl.generation.backends.openai_api import OpenAIBackend, parse_retry_after


def req(query: str, schema: dict | None = None) -> ChatRequest:
    return ChatRequest(
        id=query,
        messages=[
            {
                "role": "user",
                "content": f'Search query: "{query}"\nWrite a passage that is related to this query, which means: x.',
            }
        ],
        max_tokens=64,
        temperature=0.0,
        top_p=1.0,
        seed=1,
        json_schema=schema,
    )


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
    out = run(
        b,
        [
            req(f"{unique} a fault:429x1"),
            req(f"{unique} b fault:500x2"),
            req(f"{unique} c fault:badbodyx1"),
            req(f"{unique} ok"),
        ],
    )
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
    # connect_attempts above the 3 attempts made: one request's failure, not yet "server unreachable"
    b = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_base=0.01, connect_attempts=4)
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


SCHEMA = {
    "type": "object",
    "properties": {"level_1": {"type": "array", "items": {"type": "string"}}},
    "required": ["level_1"],
}


def test_server_without_response_format_falls_back_to_the_prompt(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=1, max_retries=0)
    out = run(b, [req(f"{unique} fault:noschemaxall", SCHEMA)])
    c = out[f"{unique} fault:noschemaxall"]
    assert c.error is None and c.text and c.retries == 0
    assert b.structured_output == "none" and b.supports_json_schema is False
    last = chat_server.entries()[-3:]
    assert [(e["status"], e["format"]) for e in last] == [(400, "json_schema"), (400, "json_object"), (200, None)]


@pytest.mark.parametrize("fault,status", [("schema400", 400), ("schema422", 422), ("schema500", 500)])
def test_json_schema_rejected_degrades_to_json_object_with_schema(chat_server, unique, fault, status):
    """llama-cpp-python's server answers json_schema with a 500 naming response_format; others 400/422."""
    b = OpenAIBackend(chat_server.url, "m", concurrency=1, max_retries=6)
    out = run(b, [req(f"{unique} fault:{fault}xall", SCHEMA)])
    c = out[f"{unique} fault:{fault}xall"]
    assert c.error is None and c.retries == 0 and b.transport_retries == 0
    assert json.loads(c.text)["level_1"]  # the schema still shaped the answer
    assert b.structured_output == "json_object"
    assert b.describe()["structured_output"] == "json_object"
    assert b.describe()["structured_output_rejections"][0]["status"] == status
    last = chat_server.entries()[-2:]
    assert [(e["status"], e["format"]) for e in last] == [(status, "json_schema"), (200, "json_object")]


@pytest.mark.parametrize("fault,status", [("format422", 422), ("format500", 500)])
def test_every_response_format_rejected_degrades_to_the_prompt(chat_server, unique, fault, status):
    b = OpenAIBackend(chat_server.url, "m", concurrency=1, max_retries=6)
    out = run(b, [req(f"{unique} fault:{fault}xall", SCHEMA), req(f"{unique} second fault:{fault}xall", SCHEMA)])
    assert all(c.error is None and c.retries == 0 for c in out.values())
    assert b.structured_output == "none"
    assert [r["mode"] for r in b.describe()["structured_output_rejections"]] == ["json_schema", "json_object"]
    formats = [(e["status"], e["format"]) for e in chat_server.entries()[-4:]]
    # the second request starts in the settled mode: no rejection of its own
    assert formats == [(status, "json_schema"), (status, "json_object"), (200, None), (200, None)]


def test_concurrent_rejections_degrade_one_step_each(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=8, max_retries=0)
    out = run(b, [req(f"{unique} {i} fault:schema500xall", SCHEMA) for i in range(8)])
    assert all(c.error is None for c in out.values())
    assert b.structured_output == "json_object"  # not pushed on to "none" by the other seven
    assert len(b.structured_output_rejections) == 1


def test_plain_server_error_with_a_schema_is_retried_not_degraded(chat_server, unique):
    b = OpenAIBackend(chat_server.url, "m", concurrency=1, max_retries=2, backoff_base=0.01)
    c = run(b, [req(f"{unique} fault:500x1", SCHEMA)])[f"{unique} fault:500x1"]
    assert c.error is None and c.retries == 1 and b.structured_output == "json_schema"


def test_structured_output_can_start_lower():
    assert OpenAIBackend("http://x/v1", "m", structured_output="json_object").structured_output == "json_object"
    with pytest.raises(ValueError, match="structured_output"):
        OpenAIBackend("http://x/v1", "m", structured_output="grammar")


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
