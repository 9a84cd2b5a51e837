"""Compiling the generated data set from the journal, and writing it in BEIR layout.

Passage ids encode query, level and index: ``<query id>-L<label>-<index>``, where
``index = sample * passages_per_level + i``; they do not depend on run order, so an
interrupted-and-resumed run and an uninterrupted one name the same passages alike.

The folder is written file by file, each atomically, with ``manifest.json`` removed first and
written last: a folder with a manifest is a complete data set, one without is not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from sycl.generation.journal import index_journal, read_records_at
from sycl.generation.units import Unit
from sycl.io.beir import write_corpus, write_qrels, write_queries
from sycl.io.records import GenerationManifest, write_record

SPLIT = "train"


def passage_id(query_id: str, label: int, index: int) -> str:
    return f"{query_id}-L{label}-{index}"


@dataclass
class Context:
    """One ranking context: ``passages`` are ``(passage id, label, text)``, most relevant first."""

    query_id: str
    query: str
    sample: int
    passages: list[tuple[str, int, str]]


@dataclass
class Compiled:
    """What the journal holds for the current units."""

    contexts: list[Context] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0  # requests sent for the units in this data set (done and failed)
    transport_retries: int = 0  # likewise, as the journal records them


def compile_journal(journal_path: str | Path, units: list[Unit], passages_per_level: int) -> Compiled:
    """Contexts of the units marked done (journal order is irrelevant: output follows ``units``),
    and the latest failure record of every unit that is not done.

    Two passes: the first keeps only where each unit's record starts, the second reads the records
    in unit order. Holding the parsed records of 500k units made compiling and writing take 2.08 GB
    instead of 1.11 (``benchmarks/RESULTS.md``, issue 14).
    """
    wanted = {u.key for u in units}
    done: dict[str, int] = {}
    failed: dict[str, int] = {}
    for offset, rec in index_journal(journal_path):
        key = rec["key"]
        if key not in wanted:
            continue  # a unit of other settings: kept in the journal, not in this data set
        if rec.get("status") == "done":
            done.setdefault(key, offset)  # a unit is never redone once done; keep the first record
        else:
            failed[key] = offset
    del wanted
    found = [(u, done.get(u.key, failed.get(u.key))) for u in units]
    out = Compiled()
    records = read_records_at(journal_path, (at for _, at in found if at is not None))
    for unit, at in found:
        if at is None:
            continue
        rec = next(records)
        if unit.key not in done:
            out.failures.append(
                {
                    "query_id": unit.query_id,
                    "sample": unit.sample,
                    "error": rec.get("error", ""),
                    "raw": rec.get("raw", ""),
                }
            )
            out.attempts += int(rec.get("attempts", 0))
            out.transport_retries += int(rec.get("transport_retries", 0))  # a failed unit's retries count too
            continue
        passages = []
        for label_str, texts in sorted(rec["passages"].items(), key=lambda kv: -int(kv[0])):
            for i, text in enumerate(texts[:passages_per_level]):
                pid = passage_id(unit.query_id, int(label_str), unit.sample * passages_per_level + i)
                passages.append((pid, int(label_str), text))
        out.contexts.append(Context(unit.query_id, unit.query, unit.sample, passages))
        tok = rec.get("tokens") or {}
        out.prompt_tokens += int(tok.get("prompt", 0))
        out.completion_tokens += int(tok.get("completion", 0))
        out.attempts += int(rec.get("attempts", 0))
        out.transport_retries += int(rec.get("transport_retries", 0))
    return out


def write_dataset(out: str | Path, contexts: list[Context], manifest: GenerationManifest) -> None:
    """Write ``corpus.jsonl``, ``queries.jsonl``, ``qrels/train.tsv`` and, last, ``manifest.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (out / "manifest.json").unlink()
    write_corpus(
        out / "corpus.jsonl", ({"_id": pid, "title": "", "text": text} for c in contexts for pid, _, text in c.passages)
    )
    queries: dict[str, str] = {}
    for c in contexts:
        queries.setdefault(c.query_id, c.query)
    write_queries(out / "queries.jsonl", queries)
    # passage ids are unique across contexts: rows need no merging into a per-query dict (2M entries at 500k queries)
    write_qrels(
        out / "qrels" / f"{SPLIT}.tsv", ((c.query_id, pid, label) for c in contexts for pid, label, _ in c.passages)
    )
    write_record(out / "manifest.json", manifest)


def counts_per_level(contexts: list[Context], labels: list[int]) -> dict[str, int]:
    counts = {str(lab): 0 for lab in labels}
    for c in contexts:
        for _, label, _ in c.passages:
            counts[str(label)] = counts.get(str(label), 0) + 1
    return counts
