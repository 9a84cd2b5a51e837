"""Retrieval measures through ``ir-measures`` on ``pytrec-eval-terrier`` (trec_eval's code).

Measures are named as ir-measures prints them without a relevance parameter (``nDCG@10``,
``RR@10``, ``R@100``, ``R@1000``, ``AP@1000``); the relevance level used by binary measures
is reported beside them. nDCG is graded with trec_eval's linear gain (the label is the
gain) and ignores the level. Binary measures count ``label >= relevance_level`` as relevant
(MS MARCO dev: 1; TREC DL: 2).

Everything is computed by pytrec_eval, so ties are ordered as trec_eval orders them
(score descending, then document id descending), as in BEIR. pytrec_eval has no
reciprocal rank with a cutoff; ``RR@k`` is its ``recip_rank`` on each query's first ``k``
documents in that same order, which is what the cutoff means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ir_measures

from sycl.evaluation.config import DEFAULT_MEASURES
from sycl.io.errors import DataError

_GRADED = {"nDCG", "Judged"}  # measures that do not take a binary relevance level


def _provider():
    return ir_measures.providers.registry["pytrec_eval"]


def _plan(name: str, relevance_level: int):
    """``(measure for pytrec_eval, cutoff to apply to the run first or None)``."""
    try:
        m = ir_measures.parse_measure(name)
    except (ValueError, NameError, SyntaxError) as err:
        raise DataError(None, f"unknown measure {name!r} ({err})") from None
    if m.NAME not in _GRADED and "rel" in m.SUPPORTED_PARAMS and "rel" not in m.params:
        m = m(rel=relevance_level)
    if _provider().supports(m):
        return m, None
    params = dict(m.params)
    cutoff = params.pop("cutoff", None)
    bare = type(m)(**params)
    if cutoff is None or not _provider().supports(bare):
        raise DataError(None, f"measure {name!r} is not supported by pytrec_eval")
    return bare, int(cutoff)


def trec_order(docs: Mapping[str, float]) -> list[str]:
    """Document ids in trec_eval's order: score descending, then id descending."""
    return [d for d, _ in sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def truncate(run: Mapping[str, Mapping[str, float]], cutoff: int) -> dict[str, dict[str, float]]:
    """Each query's first ``cutoff`` documents in trec_eval's order."""
    return {q: {d: docs[d] for d in trec_order(docs)[:cutoff]} for q, docs in run.items()}


def compute_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    measures: Sequence[str] = DEFAULT_MEASURES,
    relevance_level: int = 1,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Return ``(means, per_query)``: ``{measure: mean}`` and ``{measure: {qid: value}}``.

    Every judged query counts: one with no retrieved document scores 0 (ir-measures' rule,
    stricter than trec_eval's default of skipping it); run queries without judgements are
    ignored.
    """
    qrels = {q: {d: int(v) for d, v in docs.items()} for q, docs in qrels.items()}
    run = {q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in qrels}
    groups: dict[int | None, list[tuple[str, object]]] = {}
    for name in measures:
        measure, cutoff = _plan(name, relevance_level)
        groups.setdefault(cutoff, []).append((name, measure))
    per_query: dict[str, dict[str, float]] = {name: {} for name in measures}
    for cutoff, items in groups.items():
        sub = run if cutoff is None else truncate(run, cutoff)
        by_measure = {m: name for name, m in items}
        evaluator = _provider().evaluator([m for _, m in items], qrels)
        for res in evaluator.iter_calc(sub):
            per_query[by_measure[res.measure]][res.query_id] = float(res.value)
    means = {name: (sum(v.values()) / len(v) if v else 0.0) for name, v in per_query.items()}
    return means, per_query
