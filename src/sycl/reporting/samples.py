"""A few ranking contexts of a generated data set, for people to read: query, then passages by level.

Reads ``queries.jsonl``, ``qrels/train.tsv`` and streams ``corpus.jsonl`` only until the sampled
passages are found, so large generated sets cost little.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sycl.io.beir import iter_lines, list_splits, qrels_path, read_qrels, read_queries
from sycl.io.errors import DataError


@dataclass
class SamplePassage:
    doc_id: str
    level: int
    title: str
    text: str  # capped to the report's length limit, with an ellipsis when cut


@dataclass
class SampleContext:
    query_id: str
    query: str
    passages: list[SamplePassage]  # sorted by level, highest first


def cap(text: str, limit: int) -> str:
    """``text`` with whitespace collapsed, cut at a word boundary to at most ``limit`` characters."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "\u2026"


def training_qrels(folder: Path) -> tuple[Path, dict[str, dict[str, int]]] | None:
    """``(path, qrels)`` of the training split of a generated folder (``train``, else the only split)."""
    splits = list_splits(folder)
    if not splits:
        return None
    split = "train" if "train" in splits else splits[0]
    path = qrels_path(folder, split)
    return path, read_qrels(path)


def label_counts(qrels: dict[str, dict[str, int]]) -> dict[int, int]:
    """Number of judged passages per label, ``{label: n}``."""
    return dict(Counter(lab for per in qrels.values() for lab in per.values()))


def sample_contexts(folder: str | Path, n: int = 3, max_chars: int = 320) -> list[SampleContext]:
    """Up to ``n`` ranking contexts of the generated folder, preferring queries with the most levels.

    Ties keep file order, so the sample is deterministic. Passages missing from the corpus raise
    :class:`DataError` naming the qrels file (the data set is inconsistent).
    """
    folder = Path(folder)
    if n <= 0:
        return []
    found = training_qrels(folder)
    if found is None:
        return []
    qrels_file, qrels = found
    queries = read_queries(folder / "queries.jsonl")
    order = {qid: i for i, qid in enumerate(queries)}
    candidates = [q for q in qrels if q in queries]
    candidates.sort(key=lambda q: (-len(set(qrels[q].values())), -len(qrels[q]), order[q]))
    chosen = candidates[:n]
    wanted = {did for q in chosen for did in qrels[q]}
    docs: dict[str, tuple[str, str]] = {}
    corpus = folder / "corpus.jsonl"
    for lineno, line in iter_lines(corpus):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(corpus, f"malformed JSON: {err.msg} (column {err.colno})", lineno) from None
        did = str(obj.get("_id", "")) if isinstance(obj, dict) else ""
        if did in wanted:
            docs[did] = (str(obj.get("title") or ""), str(obj.get("text") or ""))
            if len(docs) == len(wanted):
                break
    missing = sorted(wanted - set(docs))
    if missing:
        raise DataError(qrels_file, f"{len(missing)} judged passage(s) not in {corpus.name}, e.g. {missing[0]!r}")
    out = []
    for q in chosen:
        ps = [SamplePassage(d, lab, cap(docs[d][0], 120), cap(docs[d][1], max_chars)) for d, lab in qrels[q].items()]
        ps.sort(key=lambda p: -p.level)
        out.append(SampleContext(q, cap(queries[q], max_chars), ps))
    return out
