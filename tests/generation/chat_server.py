"""A small OpenAI-compatible chat-completions server for tests and benchmarks, with faults.

Run ``python chat_server.py [--port 0] [--latency S] [--log FILE]``; it prints ``PORT <n>``
once listening on 127.0.0.1 (:class:`ChatServer` starts one for a test). Raw asyncio HTTP/1.1 with keep-alive, so it can serve far more
than 500 requests/s on one core.

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions``. Answers are deterministic
documents built from the query words: a JSON object with every ``level_<label>`` key (JSON
mode: when the request has ``response_format`` or the prompt names ``level_`` keys) or one
passage (per-level mode).

Faults are requested by markers in the query text, ``fault:<kind>x<N>`` (the first N
requests for that prompt misbehave; ``xall``: every one). A prompt is the user message,
so in per-level mode each level counts on its own. Kinds:
``429`` (with ``Retry-After: 1``), ``500``, ``stall`` (sleeps 30 s), ``malformed`` (prose,
no JSON), ``missing`` (level 0 missing), ``truncated`` (JSON cut off, finish_reason length),
``meta`` ("This passage is irrelevant to the query."), ``badbody`` (HTTP 200, body not JSON),
``empty`` (empty content), ``echo401`` (401 whose body echoes the Authorization header),
``noschema`` (400 when ``response_format`` is present).

Servers that echo the request's headers (a debugging proxy, a verbose error page), the API
key among them: ``echo`` (a normal answer whose every passage ends with the headers),
``echomalformed`` (an answer of prose quoting the headers, no JSON), ``echo500`` / ``echo400``
(that status; the body dumps the headers, padded so that its 200th character falls in the
middle of the key, where the client cuts a body it keeps) and ``echo403`` (likewise, 300th).

Servers that reject a structured-output mode, as real ones do (see ``REJECT``):
``schema400`` / ``schema422`` (``json_schema`` rejected with that status, ``json_object`` taken),
``schema500`` (llama-cpp-python: ``json_schema`` answered with a 500 validation error naming
``response_format``), ``format422`` / ``format500`` (every ``response_format`` rejected, as
some hosted APIs do; the 500 body names the field).
A ``json_object`` request's ``schema`` shapes the answer like a ``json_schema`` one.

Relevance-judge prompts (the user message asks for ``final_score``) are graded from the
passage this server wrote: ``{"final_score": G}`` with a ``response_format``, UMBRELA's
``##final score: G`` without. Faults: ``judgeswap`` (grade 3 - G), ``judgeprose`` (no grade).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

WORDS = (
    "river stone market engine garden winter copper signal harbor orchard lantern canyon meadow "
    "ledger violin compass glacier pepper marble thunder velvet falcon quarry saddle beacon "
    "cobalt tundra walnut prism anchor"
).split()
FAULT = re.compile(r"fault:(\w+?)x(\d+|all)")
QUERY = re.compile(r'Search query: "(.*?)"', re.S)
LEVEL_NAME = re.compile(r"that is (.+?) to this query")
N_PER = re.compile(r"Write (\d+) passage")
PASSAGE = re.compile(r'Passage: "(.*)"', re.S)
ANSWER_LEVEL = re.compile(r"the documented answer is \w+ (\d)")


def grade(text: str) -> int:
    """The level :func:`passage` wrote ``text`` for."""
    m = ANSWER_LEVEL.search(text)
    if m:
        return int(m.group(1))
    return 1 if text.startswith("Background on") else 0


class State:
    def __init__(self, latency: float, log_path: str | None):
        self.latency = latency
        self.counts: dict[str, int] = {}
        self.requests = 0
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None


def passage(query: str, label: int, seed: int, words: int = 30) -> str:
    rng = random.Random(f"{query}|{label}|{seed}")
    q = FAULT.sub("", query).strip()
    body = " ".join(rng.choice(WORDS) for _ in range(words))
    if label >= 2:
        return f"{q.capitalize()}: the documented answer is {rng.choice(WORDS)} {label}. {body.capitalize()}."
    if label == 1:
        return f"Background on {q}, with history and context. {body.capitalize()}."
    return f"{body.capitalize()}. Seasonal notes on {rng.choice(WORDS)} and {rng.choice(WORDS)} trade."


def answer(body: dict, state: State) -> tuple[int, dict, bytes, str | None]:
    """``(status, extra headers, response body, fault)`` for a chat-completions request."""
    msgs = body.get("messages") or []
    user = next((m.get("content", "") for m in reversed(msgs) if m.get("role") == "user"), "")
    m = QUERY.search(user)
    query = m.group(1) if m else user[:80]
    seed = int(body.get("seed") or 0)
    fault = None
    fm = FAULT.search(query)
    if fm:
        n = state.counts.get(user, 0)
        state.counts[user] = n + 1
        if fm.group(2) == "all" or n < int(fm.group(2)):
            fault = fm.group(1)
    if fault == "429":
        return 429, {"Retry-After": "1"}, b'{"error": {"message": "rate limited"}}', fault
    if fault == "500":
        return 500, {}, b'{"error": {"message": "internal error"}}', fault
    if fault == "badbody":
        return 200, {}, b"<html>gateway hiccup</html>", fault
    if fault == "echo401":
        return 401, {}, json.dumps({"error": f"bad key: {state.auth}"}).encode(), fault
    if fault in ECHO_CUT:
        return int(fault[4:]), {}, echo_body(state.headers, ECHO_CUT[fault]), fault
    if fault == "noschema" and "response_format" in body:
        return 400, {}, b'{"error": {"message": "response_format json_schema is not supported"}}', fault
    rf = body.get("response_format") or {}
    if fault in REJECT and rf.get("type") in REJECT[fault][0]:
        return REJECT[fault][1], {}, REJECT[fault][2], fault
    schema = (rf.get("json_schema") or {}).get("schema") or rf.get("schema")
    finish = "stop"
    obj = None
    if "final_score" in user:
        pm = PASSAGE.search(user)
        g = grade(pm.group(1) if pm else "")
        g = 3 - g if fault == "judgeswap" else g
        content = json.dumps({"final_score": g}) if rf else f"##final score: {g}"
        if fault == "judgeprose":
            content = "The passage seems fine to me."
    elif schema or "level_" in user:
        keys = schema["required"] if schema else [f"level_{d}" for d in re.findall(r"level_(\d+)", user)]
        labels = [int(k.split("_")[1]) for k in keys]
        labels = list(dict.fromkeys(labels))
        n = (
            schema["properties"][f"level_{labels[0]}"].get("minItems", 1)
            if schema
            else int((N_PER.search(user) or [0, 1])[1])
        )
        obj = {f"level_{lab}": [passage(query, lab, seed * 10 + i) for i in range(n)] for lab in labels}
        if fault == "missing":
            obj.pop(f"level_{labels[-1]}", None)
        if fault == "meta":
            obj[f"level_{labels[-1]}"] = ["This passage is irrelevant to the query."] * n
        content = json.dumps(obj)
        if fault == "truncated":
            content, finish = content[: len(content) // 2], "length"
    else:
        lm = LEVEL_NAME.search(user)
        name = lm.group(1) if lm else "related"
        label = {"perfectly relevant": 3, "highly relevant": 2, "related": 1, "irrelevant": 0}.get(name, 1)
        content = passage(query, label, seed)
        if fault == "meta":
            content = "This passage is irrelevant to the query and does not answer it at all."
    if fault == "echo":
        sent = echo_text(state.headers)
        if obj is not None:
            content = json.dumps({k: [f"{p} Request headers: {sent}." for p in v] for k, v in obj.items()})
        else:
            content = f"{content} Request headers: {sent}."
    if fault == "malformed":
        content = "I think these are good passages but I forgot the format, sorry"
    if fault == "echomalformed":
        content = f"I cannot write these passages. You sent me: {echo_text(state.headers)}"
    if fault == "empty":
        content = ""
    resp = {
        "id": f"cmpl-{state.requests}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": len(user.split()),
            "completion_tokens": len(content.split()),
            "total_tokens": len(user.split()) + len(content.split()),
        },
    }
    return 200, {}, json.dumps(resp).encode(), fault


ECHO_CUT = {"echo500": 200, "echo400": 200, "echo403": 300}  # fault -> where the client cuts the body


def echo_text(headers: dict[str, str]) -> str:
    """The request's headers as a debugging server prints them: ``name: value; ...``."""
    return "; ".join(f"{k}: {v}" for k, v in headers.items())


def echo_body(headers: dict[str, str], cut: int) -> bytes:
    """An error body dumping ``headers`` (Authorization first), padded so that character ``cut``
    falls in the middle of the credential: a client that cuts the body there keeps half of it."""
    auth = headers.get("authorization", "")
    ordered = {"authorization": auth, **headers}

    def body(pad: int) -> str:
        return json.dumps({"error": {"message": "upstream failed " + "." * pad, "request_headers": ordered}})

    token = auth.split()[-1] if auth else ""
    middle = body(0).index(auth) + len(auth) - len(token) + len(token) // 2
    return body(max(0, cut - middle)).encode()


REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
# fault -> (response_format types rejected, status, body)
LLAMA_CPP_PYTHON_500 = json.dumps(
    {
        "error": {
            "message": "1 validation error for CreateChatCompletionRequest\n"
            "response_format.type\n  Input should be 'text' or 'json_object' "
            "[type=literal_error, input_value='json_schema', input_type=str]",
            "type": "internal_server_error",
        }
    }
).encode()
REJECT = {
    "schema400": ({"json_schema"}, 400, b'{"error": {"message": "Unsupported response_format type json_schema"}}'),
    "schema422": (
        {"json_schema"},
        422,
        b'{"detail": [{"loc": ["body", "response_format", "type"], "msg": "unexpected value"}]}',
    ),
    "schema500": ({"json_schema"}, 500, LLAMA_CPP_PYTHON_500),
    "format422": (
        {"json_schema", "json_object"},
        422,
        b'{"detail": "Extra inputs are not permitted: response_format"}',
    ),
    "format500": ({"json_schema", "json_object"}, 500, b'{"error": "unknown field response_format"}'),
}


class ChatServer:
    """A running ``chat_server.py``; ``url`` ends in ``/v1``; ``log`` holds one line per completion."""

    def __init__(self, tmp: Path, latency: float = 0.0):
        self.log = tmp / f"server-{uuid.uuid4().hex[:6]}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--port",
                "0",
                "--latency",
                str(latency),
                "--log",
                str(self.log),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"chat server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def entries(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: State) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(length) if length else b""
            state.requests += 1
            state.auth = headers.get("authorization", "")
            state.headers = headers
            extra: dict = {}
            if method == "GET" and path.rstrip("/").endswith("/models"):
                status, out = 200, b'{"object": "list", "data": [{"id": "test-model", "object": "model"}]}'
            elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                body = json.loads(raw)
                status, extra, out, fault = answer(body, state)
                if state.log:
                    state.log.write(
                        json.dumps(
                            {
                                "t": time.time(),
                                "status": status,
                                "fault": fault,
                                "auth": bool(state.auth),
                                "seed": body.get("seed"),
                                "schema": "response_format" in body,
                                "format": (body.get("response_format") or {}).get("type"),
                            }
                        )
                        + "\n"
                    )
                    state.log.flush()
                if fault == "stall":
                    await asyncio.sleep(30)
                if state.latency:
                    await asyncio.sleep(state.latency)
            else:
                status, out = 404, b'{"error": "not found"}'
            hdr = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            writer.write(
                f"HTTP/1.1 {status} {REASONS.get(status, 'X')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(out)}\r\n{hdr}\r\n".encode("latin-1")
                + out
            )
            if headers.get("connection", "").lower() == "close":
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, latency: float, log_path: str | None) -> None:
    state = State(latency, log_path)
    state.auth = ""
    state.headers = {}
    server = await asyncio.start_server(lambda r, w: handle(r, w, state), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every completion")
    ap.add_argument("--log", help="append one JSON line per completion request")
    a = ap.parse_args()
    try:
        asyncio.run(main(a.port, a.latency, a.log))
    except KeyboardInterrupt:
        sys.exit(0)
