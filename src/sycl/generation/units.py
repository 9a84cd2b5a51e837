"""Units of work: one ranking context (a query, a sample index) and the requests that make it.

A unit's key is ``<query id>|<prompt hash>|<sample>``. The prompt hash covers every message
the unit sends and the settings that shape the answer (model, mode, sampling, levels,
passages per level, acceptance rules), so a rerun with the same settings finds its finished
units in the journal, and a rerun with changed settings does not reuse stale ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sycl.generation.backends.base import ChatRequest
from sycl.generation.config import GenerationConfig
from sycl.generation.levels import RelevanceLevel
from sycl.generation.prompts import PromptTemplate, render_json_prompt, render_level_prompt


class Prompts:
    """Renders a query's messages: ``{label: messages}`` per level (per-level mode) or ``{None: messages}``."""

    def __init__(self, cfg: GenerationConfig, template: PromptTemplate):
        self.cfg, self.template, self.mode = cfg, template, cfg.resolved_mode()

    def render(self, text: str) -> dict[int | None, list[dict]]:
        cfg = self.cfg
        if self.mode == "json":
            return {
                None: render_json_prompt(self.template, text, cfg.levels, cfg.passages_per_level, cfg.passage_words)
            }
        return {
            lv.label: render_level_prompt(
                self.template, text, lv, cfg.levels, cfg.passages_per_level, cfg.passage_words
            )
            for lv in cfg.levels
        }


@dataclass(slots=True)
class Unit:
    """One ranking context to generate. Its messages are rendered when they are sent, not kept:
    with 500k units holding theirs, a resumed run peaked at 1.28 GB instead of 0.40 while
    generating (``benchmarks/RESULTS.md``, issue 14)."""

    key: str
    query_id: str
    query: str
    sample: int
    seed: int
    prompts: Prompts

    @property
    def messages(self) -> dict[int | None, list[dict]]:
        return self.prompts.render(self.query)


@dataclass
class UnitState:
    """Progress of a unit during a run: accepted passages, attempts per request slot, tokens."""

    unit: Unit
    accepted: dict[int, list[str]] = field(default_factory=dict)
    attempts: dict[int | None, int] = field(default_factory=dict)
    pending: set = field(default_factory=set)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    transport_retries: int = 0
    seconds: float = 0.0
    failed: bool = False


def settings_fingerprint(cfg: GenerationConfig, model: str, template: PromptTemplate) -> dict:
    """The settings that decide a unit's answer (hashed into every unit key)."""
    return {
        "model": model,
        "backend": cfg.backend,
        "mode": cfg.resolved_mode(),
        "template": template.sha256,
        "levels": [lv.model_dump() for lv in cfg.levels],
        "passages_per_level": cfg.passages_per_level,
        "passage_words": cfg.passage_words,
        "min_words": cfg.min_words,
        "near_duplicate_jaccard": cfg.near_duplicate_jaccard,
        "temperature": cfg.sampling.temperature,
        "top_p": cfg.sampling.top_p,
        "max_tokens": cfg.resolved_max_tokens(),
        "seed": cfg.seed,
    }


def build_units(cfg: GenerationConfig, queries: dict[str, str], model: str, template: PromptTemplate) -> list[Unit]:
    """Every unit of a run, in query order then sample order."""
    settings = json.dumps(settings_fingerprint(cfg, model, template), sort_keys=True)
    prompts = Prompts(cfg, template)
    units = []
    for qid, text in queries.items():
        msgs = prompts.render(text)
        digest = hashlib.sha256((settings + json.dumps([[k, v] for k, v in msgs.items()])).encode("utf-8"))
        phash = digest.hexdigest()[:16]
        for s in range(cfg.samples_per_query):
            seed = (int(phash[:8], 16) + 7919 * s + 104729 * cfg.seed) % (2**31)
            units.append(Unit(f"{qid}|{phash}|{s}", qid, text, s, seed, prompts))
    return units


def make_request(
    cfg: GenerationConfig, state: UnitState, slot: int | None, levels: list[RelevanceLevel], schema: dict | None
) -> ChatRequest:
    """The next request for ``slot`` (a level label, or ``None`` for the whole JSON answer, which
    carries ``schema``); each attempt gets its own seed so a retry can answer differently."""
    unit = state.unit
    attempt = state.attempts.get(slot, 0)
    state.attempts[slot] = attempt + 1
    state.pending.add(slot)
    level_ix = 0 if slot is None else 1 + [lv.label for lv in levels].index(slot)
    return ChatRequest(
        id=f"{unit.key}#{'all' if slot is None else slot}#{attempt}",
        messages=unit.messages[slot],
        max_tokens=cfg.resolved_max_tokens(),
        temperature=cfg.sampling.temperature,
        top_p=cfg.sampling.top_p,
        seed=(unit.seed + 31 * level_ix + 1_000_003 * attempt) % (2**31),
        json_schema=schema if slot is None else None,
        tag=(state, slot),
    )
