"""The generation loop: units -> requests -> backend -> accepted passages -> journal.

Requests go to the backend in rounds. Round 1 holds the first attempt of every unfinished
unit (finished ones are skipped by their journal key); an answer that is malformed,
truncated, empty, missing a level, made of meta-text or echoing a credential (the backend
redacted it: see ``Completion.redacted``) is asked again in the next round,
up to ``max_attempts`` per request slot (a slot is the whole JSON answer, or one level in
per-level mode). A unit is journaled the moment its last slot is accepted ("done") or a
slot runs out of attempts or hits a transport failure ("failed", with the raw answer).
Nothing is written to the data set here: :mod:`sycl.generation.dataset` compiles it from
the journal afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sycl.generation.backends.base import Backend, ChatRequest, Completion
from sycl.generation.config import GenerationConfig
from sycl.generation.journal import Journal
from sycl.generation.parsing import AnswerError, accept_passages, parse_json_answer
from sycl.generation.prompts import json_schema
from sycl.generation.units import Unit, UnitState, make_request
from sycl.log import progress

RAW_LIMIT = 4000  # characters of a failed answer kept in its failure record
_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


@dataclass
class RunStats:
    """Counters of one invocation (units skipped because the journal had them are ``skipped``)."""

    units: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    transport_retries: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    rejections: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        tps = self.completion_tokens / self.seconds if self.seconds else 0.0
        return {
            "units": self.units,
            "skipped_from_journal": self.skipped,
            "done": self.done,
            "failed": self.failed,
            "retried": self.retried,
            "transport_retries": self.transport_retries,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
            "completion_tokens_per_s": round(tps, 2),
            "requests_per_s": round(self.requests / self.seconds, 2) if self.seconds else 0.0,
            "rejections": dict(sorted(self.rejections.items(), key=lambda kv: -kv[1])),
        }


def trim_to_sentence(text: str) -> str:
    """Cut a length-truncated passage after its last complete sentence ("" if it has none)."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else ""


class GenerationRun:
    """One pass over ``units`` with ``backend``, journaling each unit as it finishes."""

    def __init__(self, cfg: GenerationConfig, backend: Backend, journal: Journal, units: list[Unit]):
        self.cfg = cfg
        self.backend = backend
        self.journal = journal
        self.units = units
        self.levels = cfg.levels
        self.mode = cfg.resolved_mode()
        self.max_attempts = cfg.resolved_max_attempts()
        self.schema = json_schema(cfg.levels, cfg.passages_per_level) if self.mode == "json" else None
        self.stats = RunStats(units=len(units))
        self._bar = None

    def _slots(self) -> list[int | None]:
        return [None] if self.mode == "json" else [lv.label for lv in self.levels]

    def _first_round(self, todo: list[Unit]) -> Iterator[ChatRequest]:
        for unit in todo:  # lazily: a million units never sit in memory as requests
            state = UnitState(unit)
            for slot in self._slots():
                yield make_request(self.cfg, state, slot, self.levels, self.schema)

    async def run(self) -> RunStats:
        """Generate every unit the journal does not mark done; returns the counters."""
        t0 = time.monotonic()
        todo = [u for u in self.units if self.journal.status.get(u.key) != "done"]
        self.stats.skipped = len(self.units) - len(todo)
        self._bar = progress(total=len(todo), desc="generate", unit="query")
        try:
            requests: Iterable[ChatRequest] = self._first_round(todo)
            for _ in range(self.max_attempts):
                retry: list[ChatRequest] = []
                async for req, comp in self.backend.stream(requests):
                    self._handle(req, comp, retry)
                if not retry:
                    break
                requests = retry
        finally:
            self._bar.close()
            self.journal.sync()
            self.stats.seconds = time.monotonic() - t0
        return self.stats

    def _handle(self, req: ChatRequest, comp: Completion, retry: list[ChatRequest]) -> None:
        state, slot = req.tag
        st = self.stats
        st.requests += 1
        st.transport_retries += comp.retries
        state.transport_retries += comp.retries
        state.prompt_tokens += comp.prompt_tokens
        state.completion_tokens += comp.completion_tokens
        state.seconds += comp.seconds
        st.prompt_tokens += comp.prompt_tokens
        st.completion_tokens += comp.completion_tokens
        state.pending.discard(slot)
        if state.failed:  # another slot of this unit already failed for good
            return
        if comp.error is not None:
            self._fail(state, f"transport: {comp.error}", "")
            return
        try:
            accepted = self._accept(state, slot, comp)
        except AnswerError as err:
            reason = str(err)
            key = reason.split(":")[0][:60]
            st.rejections[key] = st.rejections.get(key, 0) + 1
            if state.attempts.get(slot, 0) < self.max_attempts:
                st.retried += 1
                retry.append(make_request(self.cfg, state, slot, self.levels, self.schema))
            else:
                self._fail(state, reason, comp.text or "")
            return
        state.accepted.update(accepted)
        if not state.pending and all(lv.label in state.accepted for lv in self.levels):
            self._done(state)

    def _accept(self, state: UnitState, slot: int | None, comp: Completion) -> dict[int, list[str]]:
        text = comp.text or ""
        if comp.redacted:  # the server echoed the API key or a credential header into the passages
            raise AnswerError("answer echoes a credential (redacted, asked again)")
        if not text.strip():
            raise AnswerError("empty answer")
        if slot is None:
            candidates = parse_json_answer(text, self.levels)
        else:
            if comp.finish_reason == "length":
                text = trim_to_sentence(text)
                if not text:
                    raise AnswerError("truncated answer (hit max_tokens inside the first sentence)")
            candidates = {slot: [text]}
        prior = [(lab, t) for lab, ts in state.accepted.items() for t in ts]
        return accept_passages(
            candidates,
            self.levels,
            self.cfg.passages_per_level,
            state.unit.query,
            self.cfg.min_words,
            self.cfg.near_duplicate_jaccard,
            accepted=prior,
        )

    def _record(self, state: UnitState, status: str) -> dict:
        u = state.unit
        return {
            "key": u.key,
            "query_id": u.query_id,
            "sample": u.sample,
            "status": status,
            "attempts": sum(state.attempts.values()),
            "transport_retries": state.transport_retries,
            "tokens": {"prompt": state.prompt_tokens, "completion": state.completion_tokens},
            "seconds": round(state.seconds, 4),
            "time": round(time.time(), 3),
        }

    def _done(self, state: UnitState) -> None:
        rec = self._record(state, "done")
        rec["passages"] = {str(lv.label): state.accepted[lv.label] for lv in self.levels}
        self.journal.append(rec)
        self.stats.done += 1
        self._bar.update(1)

    def _fail(self, state: UnitState, error: str, raw: str) -> None:
        state.failed = True
        rec = self._record(state, "failed")
        rec["error"] = error
        rec["raw"] = raw[:RAW_LIMIT]
        self.journal.append(rec)
        self.stats.failed += 1
        self._bar.update(1)
