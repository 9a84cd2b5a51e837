"""An LLM grades every generated passage on the levels' scale, UMBRELA-style.

Does the generator write the levels it was asked for? A (preferably strong) LLM reads each
passage with its query and grades it on the same scale (default the TREC DL 0-3 scale), with
our own wording of the UMBRELA prompt (Upadhyay, Pradeep, Thakur, Craswell, Lin: "UMBRELA:
UMbrela is the (Open-Source Reproduction of the) Bing RELevance Assessor", arXiv 2406.06519),
which reproduces the relevance-assessment prompt of Thomas, Spielman, Craswell, Mitra: "Large
language models can accurately predict searcher preferences" (SIGIR 2024, arXiv 2309.10621):
the TREC DL grade definitions, how to tell neighbouring grades apart, then the intent (M),
trustworthiness (T) and overall (O) steps, answered with the final grade only
(``sycl/resources/prompts/judge_umbrela.txt``; ``llm_judge.prompt_template`` for your own).

The judge is the generator (the default) or any model on any backend (``LLMJudgeConfig``).
In JSON the answer is ``{"final_score": G}``, constrained by a JSON schema where the backend
negotiates one; ``##final score: G`` (UMBRELA's own format) and a bare digit are read too.
An answer without a grade is asked again (``max_attempts``), then counted as unjudged.

Written: ``llm_judgements.jsonl`` (one row per passage: intended level, grade) and the
manifest's ``llm_judge`` block (:func:`sycl.generation.agreement.agreement_summary`: Cohen's
kappa, confusion matrix, share of contexts in the expected order). ``action`` ``drop``
removes passages graded differently from their level (a context left empty disappears);
``relabel`` writes the grade as the passage's qrels label (its id keeps the intended level).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sycl.generation.agreement import agreement_summary
from sycl.generation.backends import Backend, BatchBackend, ChatRequest, create_backend
from sycl.generation.config import GenerationConfig, LLMJudgeConfig
from sycl.generation.dataset import Context
from sycl.generation.levels import RelevanceLevel
from sycl.generation.parsing import AnswerError, extract_json_object
from sycl.generation.prompts import PromptTemplate, load_template
from sycl.io.atomic import atomic_open
from sycl.log import get_logger, progress

log = get_logger(__name__)
JUDGEMENTS = "llm_judgements.jsonl"
_SCORE_KEYS = ("final_score", "score", "grade", "relevance", "O")
_FINAL = re.compile(r"final[ _]?score\W{0,6}(-?\d+)", re.I)
_BARE = re.compile(r"\W*(-?\d+)\W*")


def grade_schema(labels: Sequence[int]) -> dict:
    """JSON schema of a grade answer: ``{"final_score": one of labels}``."""
    return {
        "type": "object",
        "properties": {"final_score": {"type": "integer", "enum": sorted(labels)}},
        "required": ["final_score"],
        "additionalProperties": False,
    }


def parse_grade(text: str | None, labels: Sequence[int]) -> int:
    """The grade in an answer (JSON ``final_score``, ``##final score: G`` or a bare number);
    :class:`AnswerError` when there is none or it is off the scale."""
    text = (text or "").strip()
    if not text:
        raise AnswerError("empty answer")
    value = None
    try:
        obj = extract_json_object(text)
        value = next((obj[k] for k in _SCORE_KEYS if k in obj), None)
    except AnswerError:
        pass
    if value is None:
        m = _FINAL.search(text) or _BARE.fullmatch(text)
        value = m.group(1) if m else None
    try:
        grade = int(str(value).strip())
    except (TypeError, ValueError):
        raise AnswerError(f"no grade in the answer: {text[:80]!r}") from None
    if grade not in labels:
        raise AnswerError(f"grade {grade} is not on the scale {sorted(labels)}")
    return grade


def load_judge_template(path: str | Path | None = None) -> PromptTemplate:
    """``path`` or the shipped UMBRELA-style template."""
    return load_template("judge", path)


def render_judge_prompt(
    template: PromptTemplate, query: str, passage: str, levels: Sequence[RelevanceLevel]
) -> list[dict[str, str]]:
    labels = [lv.label for lv in levels]
    names = ", ".join(str(lab) for lab in labels[:-1]) + (" or " if len(labels) > 1 else "") + str(labels[-1])
    return template.render(
        query=query,
        passage=passage,
        labels=names,
        min_label=min(labels),
        max_label=max(labels),
        levels="\n".join(f"{lv.label} = {lv.name}: {lv.definition}." for lv in levels),
    )


def judge_generation_config(cfg: GenerationConfig) -> GenerationConfig:
    """The generation settings with the judge's backend, model, server and concurrency in place."""
    j: LLMJudgeConfig = cfg.llm_judge
    update = {
        k: getattr(j, k)
        for k in ("backend", "model", "base_url", "api_key_env", "concurrency")
        if getattr(j, k) is not None
    }
    if j.backend is not None and j.backend != cfg.backend and j.model is None:
        update["model"] = None  # another backend: the generator's model name means nothing there
    return cfg.model_copy(update=update)


def _judge_backend(cfg: GenerationConfig, jcfg: GenerationConfig, generator: Backend | None) -> Backend:
    same = (jcfg.backend, jcfg.model) == (cfg.backend, cfg.model)
    if same and isinstance(generator, BatchBackend):
        return generator  # an in-process model (vLLM above all) is not loaded twice
    if same and jcfg.backend == "openai" and jcfg.base_url == cfg.base_url and generator is not None:
        jcfg = jcfg.model_copy(update={"structured_output": generator.structured_output})  # already negotiated
    return create_backend(jcfg)


async def _grade_all(
    backend: Backend, requests: list[ChatRequest], labels: Sequence[int], max_attempts: int, make
) -> tuple[dict[int, int], dict[int, str], dict]:
    grades: dict[int, int] = {}
    problems: dict[int, str] = {}
    stats = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "retried": 0}
    bar = progress(total=len(requests), desc="llm judge", unit="passage")
    try:
        await backend.prepare()
        pending = requests
        for attempt in range(max_attempts):
            retry: list[ChatRequest] = []
            async for req, comp in backend.stream(pending):
                i = req.tag
                stats["requests"] += 1
                stats["prompt_tokens"] += comp.prompt_tokens
                stats["completion_tokens"] += comp.completion_tokens
                if comp.error is not None:
                    problems[i] = f"transport: {comp.error}"
                    bar.update(1)
                    continue
                try:
                    grades[i] = parse_grade(comp.text, labels)
                    problems.pop(i, None)
                    bar.update(1)
                except AnswerError as err:
                    problems[i] = f"{err}"
                    if attempt + 1 < max_attempts:
                        stats["retried"] += 1
                        retry.append(make(i, attempt + 1))
                    else:
                        bar.update(1)
            if not retry:
                break
            pending = retry
    finally:
        bar.close()
        await backend.aclose()
    return grades, problems, stats


def run_llm_judge(
    cfg: GenerationConfig, contexts: list[Context], out: str | Path, generator: Backend | None = None
) -> tuple[dict, list[Context]]:
    """Grade every passage of ``contexts``; returns ``(manifest block, contexts after the action)``
    and writes ``out/llm_judgements.jsonl``."""
    t0 = time.monotonic()
    j = cfg.llm_judge
    jcfg = judge_generation_config(cfg)
    levels = cfg.levels
    labels = [lv.label for lv in levels]
    template = load_judge_template(j.prompt_template)
    schema = grade_schema(labels)
    items = [(c, pid, lab, text) for c in contexts for pid, lab, text in c.passages]
    messages = [render_judge_prompt(template, c.query, text, levels) for c, _, _, text in items]

    def make(i: int, attempt: int) -> ChatRequest:
        return ChatRequest(
            id=f"judge#{items[i][1]}#{attempt}",
            messages=messages[i],
            max_tokens=j.max_tokens,
            temperature=j.temperature,
            top_p=1.0,
            seed=(cfg.seed + 1_000_003 * attempt) % 2**31,
            json_schema=schema,
            schema_name="relevance_grade",
            tag=i,
        )

    backend = _judge_backend(cfg, jcfg, generator)
    grades, problems, stats = asyncio.run(
        _grade_all(backend, [make(i, 0) for i in range(len(items))], labels, j.max_attempts, make)
    )
    with atomic_open(Path(out) / JUDGEMENTS) as fh:
        for i, (c, pid, lab, _) in enumerate(items):
            row = {"query_id": c.query_id, "sample": c.sample, "doc_id": pid, "intended": lab, "judged": grades.get(i)}
            if i in problems:
                row["problem"] = problems[i][:300]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = {
        **backend.describe(),
        "prompt": {"source": template.source, "sha256": template.sha256},
        "action": j.action,
        **agreement_summary(
            [((c.query_id, c.sample), lab, grades.get(i)) for i, (c, _, lab, _) in enumerate(items)], labels
        ),
        "problems": sorted({p.split(":")[0][:60] for p in problems.values()}),
        **{k: v for k, v in stats.items()},
    }
    kept, dropped, relabelled = _apply(j.action, contexts, items, grades)
    summary.update(dropped=dropped, relabelled=relabelled, seconds=round(time.monotonic() - t0, 3))
    log.info(
        "llm judge %s: kappa %s, exact agreement %s, expected order %s (%d of %d passages graded)",
        summary.get("model"),
        summary["cohen_kappa"],
        summary["exact_agreement"],
        summary["share_expected_order"],
        summary["judged"],
        summary["passages"],
    )
    return summary, kept


def _apply(action: str, contexts: list[Context], items: list, grades: dict[int, int]) -> tuple[list[Context], int, int]:
    """Contexts after ``action``; ungraded passages are always kept with their intended level."""
    if action == "report":
        return contexts, 0, 0
    grade_of = {(id(c), pid): grades.get(i) for i, (c, pid, _, _) in enumerate(items)}
    out, dropped, relabelled = [], 0, 0
    for c in contexts:
        passages = []
        for pid, lab, text in c.passages:
            g = grade_of.get((id(c), pid))
            if g is None or g == lab:
                passages.append((pid, lab, text))
            elif action == "drop":
                dropped += 1
            else:
                passages.append((pid, g, text))
                relabelled += 1
        passages.sort(key=lambda p: -p[1])
        if passages:
            out.append(replace(c, passages=passages))
    return out, dropped, relabelled
