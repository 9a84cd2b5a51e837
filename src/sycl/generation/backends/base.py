"""What every generation backend takes and returns.

A backend turns :class:`ChatRequest` objects into :class:`Completion` objects and yields
them as they finish (``stream``), so the pipeline can journal each finished query at once.
Transport problems (HTTP errors, timeouts) are retried inside the backend; a request whose
retries run out comes back as a completion with ``error`` set. Judging the *content* of an
answer is the pipeline's job.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

from sycl.io.errors import UserError


class BackendUnavailable(UserError, RuntimeError):
    """A backend cannot start here (missing optional package, missing model file); says how to fix it."""


@dataclass
class ChatRequest:
    """One chat completion to produce. ``json_schema``: constrain the answer (when supported),
    under the name ``schema_name`` (OpenAI's ``json_schema.name``)."""

    id: str
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int | None = None
    json_schema: dict | None = None
    schema_name: str = "ranking_context"
    tag: object = field(default=None, repr=False, compare=False)  # the pipeline's bookkeeping


@dataclass
class Completion:
    """The answer to a request: ``text`` (``None`` on transport failure, then ``error``).

    ``finish_reason`` is ``"stop"`` or ``"length"`` (hit ``max_tokens``); token counts are
    as reported by the server or counted by the tokenizer; ``retries`` counts transport retries;
    ``redacted``: a credential (a piece of the API key, an echoed header) was cut out of ``text``.
    """

    text: str | None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    retries: int = 0
    seconds: float = 0.0
    redacted: bool = False


class Backend(ABC):
    """A source of chat completions; use as an async context manager or call :meth:`aclose`."""

    name: str = "backend"
    model: str = ""
    structured_output: str = "none"  # how answers are constrained: json_schema, json_object or none

    @abstractmethod
    def stream(self, requests: Iterable[ChatRequest]) -> AsyncIterator[tuple[ChatRequest, Completion]]:
        """Yield ``(request, completion)`` for every request, in completion order."""

    def describe(self) -> dict:
        """Settings for the manifest (never secrets)."""
        return {"backend": self.name, "model": self.model, "structured_output": self.structured_output}

    async def prepare(self) -> None:
        """Anything that needs the event loop before the first request (e.g. ask a server for its model)."""
        return None

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


class BatchBackend(Backend):
    """A local model that answers a list of requests at once (``generate_batch``).

    ``stream`` cuts the requests into chunks of ``chunk_size``, runs each chunk in a worker
    thread (the event loop stays free) and yields its completions as soon as it finishes.
    """

    chunk_size: int = 32

    @abstractmethod
    def generate_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Completions for ``requests``, same order."""

    async def stream(self, requests: Iterable[ChatRequest]) -> AsyncIterator[tuple[ChatRequest, Completion]]:
        for chunk in _chunks(iter(requests), self.chunk_size):
            results = await asyncio.to_thread(self.generate_batch, chunk)
            for req, comp in zip(chunk, results):
                yield req, comp


def _chunks(it: Iterator[ChatRequest], n: int) -> Iterator[list[ChatRequest]]:
    while True:
        chunk = []
        for req in it:
            chunk.append(req)
            if len(chunk) >= n:
                break
        if not chunk:
            return
        yield chunk
