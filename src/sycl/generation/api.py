"""The Python entry point of the generation stage: ``generate(config) -> Path``.

``sycl generate``, ``sycl quickstart`` and ``sycl run`` all call :func:`run_generate`. The
embedded and transformers models stay loaded for the life of the process, so a second call
does not pay the load again.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import sycl
from sycl.generation.backends import Backend, create_backend
from sycl.generation.config import GenerationConfig
from sycl.generation.dataset import SPLIT, compile_journal, counts_per_level, write_dataset
from sycl.generation.journal import Journal
from sycl.generation.loop import GenerationRun, RunStats
from sycl.generation.prompts import PromptTemplate, load_template
from sycl.generation.units import build_units
from sycl.io.atomic import atomic_open, check_output_folder
from sycl.io.beir import qrels_path, read_qrels, read_queries
from sycl.io.errors import DataError
from sycl.io.records import GenerationManifest
from sycl.log import get_logger

log = get_logger(__name__)
JOURNAL = "journal.jsonl"
_BAD_ID = re.compile(r"\s")


class GenerationFailed(RuntimeError):
    """More answers failed than ``max_failure_rate`` allows (the data set is still written)."""

    def __init__(self, message: str, result: GenerationResult):
        super().__init__(message)
        self.result = result


@dataclass
class GenerationResult:
    """``path`` of the data set, its ``manifest`` (as written), and whether failures exceeded the threshold."""

    path: Path
    manifest: dict
    failure_rate: float
    too_many_failures: bool


def load_queries(path: str | Path, split: str | None = None, limit: int | None = None) -> dict[str, str]:
    """Queries to generate for: a ``queries.jsonl``/TSV file, or a BEIR folder (with ``split``:
    only the queries judged in that split, in file order). ``limit`` keeps the first N."""
    path = Path(path)
    if path.is_dir():
        queries = read_queries(path / "queries.jsonl")
        if split:
            judged = read_qrels(qrels_path(path, split))
            queries = {q: t for q, t in queries.items() if q in judged}
            if not queries:
                raise DataError(path, f"no query of queries.jsonl is judged in split {split!r}")
    else:
        if split:
            raise DataError(path, "--split needs a BEIR folder (with qrels/), not a queries file")
        queries = read_queries(path)
    for qid in queries:
        if _BAD_ID.search(qid):
            raise DataError(path, f"query id {qid!r} contains whitespace; it cannot be written to qrels TSV")
    if limit is not None:
        queries = dict(list(queries.items())[:limit])
    return queries


async def _generate_async(
    cfg: GenerationConfig, backend: Backend, queries: dict[str, str], template: PromptTemplate, journal_path: Path
):
    try:
        await backend.prepare()
        units = build_units(cfg, queries, backend.model, template)
        with Journal(journal_path) as journal:
            stats = await GenerationRun(cfg, backend, journal, units).run()
        return units, stats
    finally:
        await backend.aclose()


def run_generate(cfg: GenerationConfig, backend: Backend | None = None) -> GenerationResult:
    """Generate (resuming from the journal), judge, compile and write the data set to ``cfg.out``.

    ``backend`` overrides the one ``cfg.backend`` names (for callers that built their own).
    Raises :class:`DataError` for bad input; :class:`~sycl.generation.backends.BackendUnavailable`
    when the backend cannot start here, or its server stops accepting connections (then no data
    set files are written; finished queries stay in the journal for a rerun).
    """
    if cfg.queries is None or cfg.out is None:
        raise DataError(None, "generation needs 'queries' and 'out'")
    out = check_output_folder(cfg.out)
    t_start = time.monotonic()
    queries = load_queries(cfg.queries, cfg.split, cfg.limit)
    mode = cfg.resolved_mode()
    template = load_template(mode, cfg.prompt_template)
    # the folder is created by the journal, once the backend is ready: a failed start leaves nothing
    backend = backend or create_backend(cfg)
    units, stats = asyncio.run(_generate_async(cfg, backend, queries, template, out / JOURNAL))
    compiled = compile_journal(out / JOURNAL, units, cfg.passages_per_level)
    contexts = compiled.contexts
    quality = llm_judge = None
    if cfg.llm_judge.enabled and contexts:
        from sycl.generation.llm_judge import run_llm_judge

        llm_judge, contexts = run_llm_judge(cfg, contexts, out, generator=backend)
    if cfg.judge and cfg.judge.lower() != "none" and contexts:
        quality, contexts = _judge(cfg, contexts, out)
    slots = 1 if mode == "json" else len(cfg.levels)
    finished = len(compiled.contexts) + len(compiled.failures)
    failure_rate = len(compiled.failures) / finished if finished else 0.0
    manifest = _manifest(
        cfg, backend, template, stats, compiled, contexts, (quality, llm_judge), queries, slots, t_start
    )
    write_dataset(out, contexts, manifest)
    too_many = failure_rate > cfg.max_failure_rate
    return GenerationResult(out, manifest.model_dump(mode="json"), failure_rate, too_many)


def generate(cfg: GenerationConfig) -> Path:
    """:func:`run_generate`, raising :class:`GenerationFailed` when failures exceed the threshold."""
    result = run_generate(cfg)
    if result.too_many_failures:
        raise GenerationFailed(
            f"{result.failure_rate:.1%} of the contexts failed (allowed: "
            f"{cfg.max_failure_rate:.1%}); see {result.path / 'manifest.json'}",
            result,
        )
    return result.path


def _judge(cfg: GenerationConfig, contexts, out: Path):
    from sycl.generation.quality import quality_report, resolve_judge, score_contexts

    t0 = time.monotonic()
    _, name = resolve_judge(cfg.judge)
    scores = score_contexts(contexts, cfg.judge)
    summary, rows = quality_report(contexts, scores, name)
    kept = contexts
    if cfg.filter_inconsistent:
        keep = {(r["query_id"], r["sample"]) for r in rows if r["kendall_tau"] >= cfg.min_tau}
        kept = [c for c in contexts if (c.query_id, c.sample) in keep]
        for r in rows:
            r["kept"] = (r["query_id"], r["sample"]) in keep
    summary["filter_inconsistent"] = cfg.filter_inconsistent
    summary["min_tau"] = cfg.min_tau
    summary["dropped"] = len(contexts) - len(kept)
    summary["seconds"] = round(time.monotonic() - t0, 3)
    with atomic_open(out / "quality.jsonl") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return summary, kept


def _manifest(
    cfg: GenerationConfig,
    backend: Backend,
    template: PromptTemplate,
    stats: RunStats,
    compiled,
    contexts,
    judges: tuple[dict | None, dict | None],
    queries,
    slots: int,
    t_start: float,
) -> GenerationManifest:
    """The manifest; ``judges``: the embedding judge's and the LLM judge's summaries (or None)."""
    labels = [lv.label for lv in cfg.levels]
    finished = len(compiled.contexts) + len(compiled.failures)
    passages = sum(len(c.passages) for c in contexts)
    return GenerationManifest.model_validate(
        {
            "sycl_version": sycl.__version__,
            **backend.describe(),
            "mode": cfg.resolved_mode(),
            "prompt": {"source": template.source, "template": template.text, "sha256": template.sha256},
            "sampling": {
                "temperature": cfg.sampling.temperature,
                "top_p": cfg.sampling.top_p,
                "max_tokens": cfg.resolved_max_tokens(),
                "seed": cfg.seed,
                "passages_per_level": cfg.passages_per_level,
                "samples_per_query": cfg.samples_per_query,
                "passage_words": cfg.passage_words,
                "max_attempts": cfg.resolved_max_attempts(),
            },
            "levels": {lv.label: lv.definition for lv in cfg.levels},
            "level_names": {lv.label: lv.name for lv in cfg.levels},
            "queries_source": str(cfg.queries),
            "split": cfg.split,
            "output_split": SPLIT,
            "counts": {
                "queries": len(queries),
                "contexts": len(contexts),
                "done": len(compiled.contexts),
                "failed": len(compiled.failures),
                "retried": max(0, compiled.attempts - slots * finished),
                "transport_retries": compiled.transport_retries,
                "passages": passages,
                "filtered": len(compiled.contexts) - len(contexts),
            },
            "counts_per_level": counts_per_level(contexts, labels),
            "tokens": {"prompt": compiled.prompt_tokens, "completion": compiled.completion_tokens},
            "timings": {
                "seconds": round(stats.seconds, 3),
                "tokens_per_s": round(stats.completion_tokens / stats.seconds, 2) if stats.seconds else 0.0,
                "requests_per_s": round(stats.requests / stats.seconds, 2) if stats.seconds else 0.0,
                "total_seconds": round(time.monotonic() - t_start, 3),
            },
            "this_run": stats.to_dict(),
            "failures": compiled.failures,
            "quality": judges[0],
            "llm_judge": judges[1],
        }
    )
