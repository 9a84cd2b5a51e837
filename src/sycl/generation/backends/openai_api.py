"""Any OpenAI-compatible chat-completions server: ``vllm serve``, Ollama, llama.cpp
``llama-server``, hosted APIs.

Requests run on one ``httpx.AsyncClient`` with at most ``concurrency`` in flight. A request
is retried on 429, 5xx, timeouts, connection errors and unreadable response bodies, with
exponential backoff and full jitter (``uniform(0, min(backoff_max, backoff_base * 2**k))``),
waiting exactly what a ``Retry-After`` header asks for (capped at ``retry_after_max``).

A server that does not accept connections stops the run instead: when one request has failed
to connect (refused, unknown host, connect timeout) ``connect_attempts`` times in a row, or
gives up on a connection failure after ``connect_attempts`` of them across all requests, with
no HTTP answer from the server to any request in between, :class:`ServerUnreachable` is raised
out of :meth:`OpenAIBackend.stream` and every other request is abandoned. :meth:`prepare`
makes the same check with ``GET /models`` before the first request, so a server that is down
from the start fails the run before anything is written. An HTTP answer of any status (5xx
included) proves the server is there and keeps the retry logic above.

The API key is sent as a bearer token. Every answer, error body and error message goes
through one :class:`~sycl.generation.backends.redact.Redactor` as it arrives, before any
truncation: pieces of the key and echoed credential headers never reach a completion, the
journal, the manifest or a log. An answer that had to be redacted is flagged
(``Completion.redacted``); the pipeline rejects it like a malformed one.

Structured output is negotiated, because servers differ in what ``response_format`` they take
(vLLM: ``json_schema``; llama.cpp ``llama-server``: ``json_schema``, and ``json_object`` with a
``schema``; llama-cpp-python's server: ``json_object`` with a ``schema`` only, answering
``json_schema`` with HTTP 500; Ollama on ``/v1``: ``json_schema``; some hosted APIs: none).
A JSON-mode request is sent in the backend's current mode, tried in this order:

1. ``json_schema``: ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``;
2. ``json_object``: ``{"type": "json_object", "schema": ...}``;
3. ``none``: no ``response_format``; the prompt alone asks for JSON (the tolerant parser copes).

The first rejection of a mode (HTTP 400 or 422, or a 5xx whose body names ``response_format``,
``json_schema`` or ``json_object``) moves the whole backend to the next mode and resends at
once: a deterministic error is never retried with backoff. The mode it settles on is logged
and reported by :meth:`OpenAIBackend.describe` (the manifest's ``structured_output``).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import AsyncIterator, Iterable

import httpx

from sycl.generation.backends.base import Backend, BackendUnavailable, ChatRequest, Completion
from sycl.generation.backends.redact import Redactor
from sycl.log import get_logger

log = get_logger(__name__)

STRUCTURED_MODES = ("json_schema", "json_object", "none")  # tried in this order
_NAMES_RESPONSE_FORMAT = re.compile(r"response_format|json_schema|json_object", re.I)
# failures to open a connection: the server is not there (not a slow or failing server)
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


class ServerUnreachable(BackendUnavailable):
    """The server did not accept a connection ``connect_attempts`` times in a row; the run stops."""


def rejects_response_format(status: int, body: str) -> bool:
    """Whether an error answer to a request carrying ``response_format`` means "not this format".

    400 and 422 always count (a request error that changing the format cannot fix then fails
    once more in the next mode and is reported); a 5xx counts when its body names the field,
    as llama-cpp-python's validation error does. Other 5xx are transient and retried.
    """
    if status in (400, 422):
        return True
    return status >= 500 and bool(_NAMES_RESPONSE_FORMAT.search(body or ""))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when is not None else None


class OpenAIBackend(Backend):
    """Chat completions over HTTP. ``base_url`` ends before ``/chat/completions`` (e.g. ``.../v1``)."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 300.0,
        structured_output: str = "json_schema",
        connect_attempts: int = 3,
    ):
        if structured_output not in STRUCTURED_MODES:
            raise ValueError(f"structured_output must be one of {STRUCTURED_MODES}, not {structured_output!r}")
        url = httpx.URL(base_url.strip().rstrip("/"))
        self.base_url = str(url.copy_with(username=None, password=None)) if url.userinfo else str(url)
        self.connect_attempts = max(1, connect_attempts)
        self.model = model or ""
        self._api_key = api_key or None
        self._redact = Redactor([self._api_key, url.password])
        self._responses = 0  # HTTP answers received, of any status: proof the server is there
        self._refused_in_a_row = 0  # connection failures of all requests since the last answer
        self._unreachable: ServerUnreachable | None = None
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.structured_output = structured_output
        self.structured_output_rejections: list[dict] = []
        self.transport_retries = 0
        self._json_requests = 0
        self._basic_auth = (url.username, url.password) if url.userinfo else None
        self._headers = {"Content-Type": "application/json"}
        if self._api_key:
            self._headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = self._new_client(concurrency)

    def _new_client(self, connections: int) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=self._headers,
            auth=self._basic_auth,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 30.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model": self._redact(self.model),
            "base_url": self._redact(self.base_url),
            "structured_output": self.structured_output,
            "structured_output_rejections": self.structured_output_rejections,
            "concurrency": self.concurrency,
        }

    @property
    def supports_json_schema(self) -> bool:
        return self.structured_output != "none"

    def _degrade(self, mode: str, status: int, body: str) -> None:
        """Move from ``mode`` to the next one (unless a concurrent request already did)."""
        if self.structured_output != mode:
            return
        nxt = STRUCTURED_MODES[STRUCTURED_MODES.index(mode) + 1]
        self.structured_output = nxt
        snippet = body[:200]  # redacted whole by the caller
        self.structured_output_rejections.append({"mode": mode, "status": status, "body": snippet})
        log.warning(
            "server rejected response_format %s (HTTP %d: %s); asking with %s from now on",
            mode,
            status,
            snippet,
            "json_object and a schema" if nxt == "json_object" else "JSON requested in the prompt only",
        )

    def _unreachable_error(self, err: Exception, attempts: int) -> ServerUnreachable:
        return ServerUnreachable(
            self._redact(
                f"cannot reach the server at {self.base_url}: {attempts} connection attempts in a row failed "
                f"({type(err).__name__}: {err}); is it running, and is --base-url right? "
                "Finished queries stay in the journal: rerun the same command to go on"
            )
        )

    async def prepare(self) -> None:
        """Check the server accepts connections (``GET /models``), then resolve the model."""
        if not self.model:
            await self.resolve_model()  # asks GET /models itself, and fails on any error
            return
        for attempt in range(self.connect_attempts):
            try:
                await self._client.get("models")
                return  # any answer, even 404 or 401: the server is there
            except CONNECT_ERRORS as err:
                last = err
            except httpx.TransportError:
                return  # it accepted the connection; completions have their own retries
            if attempt + 1 < self.connect_attempts:
                await asyncio.sleep(self._delay(attempt, None))
        raise self._unreachable_error(last, self.connect_attempts)

    async def resolve_model(self) -> str:
        """The ``model`` given, else the first model the server lists at ``/models``."""
        if self.model:
            return self.model
        try:
            resp = await self._client.get("models")
            resp.raise_for_status()
            models = [m["id"] for m in resp.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise BackendUnavailable(
                self._redact(f"no --model given and {self.base_url}/models failed: {type(err).__name__}: {err}")
            ) from None
        if not models:
            raise BackendUnavailable(f"no --model given and {self.base_url}/models lists none")
        self.model = models[0]
        return self.model

    def _payload(self, req: ChatRequest, mode: str) -> dict:
        body = {
            "model": self.model,
            "messages": req.messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
        }
        if req.seed is not None:
            body["seed"] = req.seed
        if req.json_schema is not None and mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.schema_name, "schema": req.json_schema, "strict": True},
            }
        elif req.json_schema is not None and mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": req.json_schema}
        return body

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0.0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    async def complete(self, req: ChatRequest, client: httpx.AsyncClient | None = None) -> Completion:
        """One request with retries; never raises for transport problems (see ``Completion.error``),
        except :class:`ServerUnreachable` when the server stopped accepting connections."""
        client = client or self._client
        t0 = time.monotonic()
        retries = 0
        refused = 0  # this request's connection failures in a row, with no answer from the server meanwhile
        answers_seen = self._responses
        if req.json_schema is not None:
            self._json_requests += 1
        while True:
            if self._unreachable is not None:
                raise self._unreachable
            mode = self.structured_output if req.json_schema is not None else "none"
            retry_after = None
            try:
                resp = await client.post("chat/completions", json=self._payload(req, mode))
            except CONNECT_ERRORS as err:
                refused = refused + 1 if self._responses == answers_seen else 1
                answers_seen = self._responses
                self._refused_in_a_row += 1
                last_try = retries >= self.max_retries
                if refused >= self.connect_attempts or (last_try and self._refused_in_a_row >= self.connect_attempts):
                    self._unreachable = self._unreachable or self._unreachable_error(err, self._refused_in_a_row)
                    raise self._unreachable from None
                error = f"connection error ({type(err).__name__}: {err})"
            except httpx.TimeoutException as err:
                error = f"timeout ({type(err).__name__}, limit {self.timeout:g} s)"
            except httpx.TransportError as err:
                error = f"connection error ({type(err).__name__}: {err})"
            else:
                self._responses += 1
                self._refused_in_a_row = refused = 0
                status = resp.status_code
                body = self._redact(resp.text)  # whole, before any cut: a cut never keeps a piece of the key
                if status == 200:
                    try:
                        data = resp.json()
                        choice = data["choices"][0]
                        text = (choice.get("message") or {}).get("content") or ""
                        usage = data.get("usage") or {}
                        clean = self._redact(text)
                        return Completion(
                            text=clean,
                            finish_reason=choice.get("finish_reason"),
                            prompt_tokens=int(usage.get("prompt_tokens") or 0),
                            completion_tokens=int(usage.get("completion_tokens") or 0),
                            retries=retries,
                            seconds=time.monotonic() - t0,
                            redacted=clean != text,
                        )
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
                        error = f"unreadable response body ({type(err).__name__}): {body[:200]!r}"
                elif mode != "none" and rejects_response_format(status, body):
                    self._degrade(mode, status, body)
                    continue  # at once, in the next mode: the same request would fail the same way
                elif status == 429 or status >= 500:
                    error = f"HTTP {status}: {body[:200]}"
                    retry_after = parse_retry_after(resp.headers.get("retry-after"))
                else:
                    return Completion(
                        None, error=f"HTTP {status}: {body[:300]}", retries=retries, seconds=time.monotonic() - t0
                    )
            if retries >= self.max_retries:
                return Completion(
                    None,
                    error=self._redact(f"{error} (gave up after {retries} retries)"),
                    retries=retries,
                    seconds=time.monotonic() - t0,
                )
            await asyncio.sleep(self._delay(retries, retry_after))
            retries += 1
            self.transport_retries += 1

    async def stream(self, requests: Iterable[ChatRequest]) -> AsyncIterator[tuple[ChatRequest, Completion]]:
        """Run ``requests`` (consumed lazily) with ``concurrency`` workers; yield as each finishes.

        Each worker owns a one-connection client: httpcore's shared pool costs O(connections)
        per request, which at concurrency 64 is most of the client's CPU time.
        """
        if not self.model:
            await self.resolve_model()
        it = iter(requests)
        results: asyncio.Queue = asyncio.Queue()
        done_marker = object()

        async def worker():
            client = self._new_client(1)
            try:
                for req in it:  # a shared iterator: each request is taken by exactly one worker
                    results.put_nowait((req, await self.complete(req, client)))
            except ServerUnreachable as err:
                results.put_nowait(err)
            finally:
                try:
                    await client.aclose()
                finally:
                    results.put_nowait(done_marker)

        workers = [asyncio.create_task(worker()) for _ in range(self.concurrency)]
        alive = len(workers)
        try:
            while alive:
                item = await results.get()
                if item is done_marker:
                    alive -= 1
                    continue
                if isinstance(item, ServerUnreachable):
                    raise item  # the finally below abandons every other request
                yield item
            await asyncio.gather(*workers)  # re-raise a worker's unexpected exception
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def aclose(self) -> None:
        if self._json_requests:
            log.info(
                "openai backend: structured output settled on %s (%s)",
                self.structured_output,
                {
                    "json_schema": "response_format json_schema",
                    "json_object": "response_format json_object with a schema",
                    "none": "JSON asked for in the prompt only",
                }[self.structured_output],
            )
        await self._client.aclose()
