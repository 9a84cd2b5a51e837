"""The evaluation pipeline: encode, search, score, and write ``metrics.json``, runs and a summary.

``evaluate(model, datasets, out_dir, **settings)`` is what ``sycl evaluate`` runs; other
stages (``sycl run``, ``sycl quickstart``) call it in-process, passing an already loaded
:class:`~sycl.modeling.BiEncoder` to avoid reloading it. Under ``torchrun`` each process
encodes and searches its own contiguous share of the corpus; the per-shard top-k lists are
gathered and merged on every rank with the same total order, so the metrics equal those of
one process. Rank 0 writes the outputs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from sycl.distributed import DistContext
from sycl.evaluation.config import EvaluationConfig
from sycl.evaluation.identity import dataset_content, dataset_origin, qrels_fingerprint
from sycl.evaluation.metrics import compute_metrics
from sycl.evaluation.suites import DatasetEntry, available_suites, expand
from sycl.evaluation.summary import render_summary
from sycl.io.atomic import atomic_write_text, check_output_folder
from sycl.io.beir import qrels_path, read_qrels, read_queries
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError
from sycl.io.records import EvaluationResult, MetricsRecord, write_record
from sycl.io.sources import resolve_dataset, resolve_location
from sycl.io.trec import write_run
from sycl.kernels.decisions import kernels_entry, require_encode_backend, resolve_search_precision
from sycl.log import get_logger
from sycl.modeling.encoder import BiEncoder, fit_max_lengths
from sycl.retrieval.cache import EmbeddingCache, model_fingerprint
from sycl.retrieval.encoding import CorpusTexts, ListTexts, encode
from sycl.retrieval.search import TopK, exact_search, merge_topk

_log = get_logger(__name__)


def _load_model(model, s: EvaluationConfig) -> BiEncoder:
    overrides = s.overrides()
    if isinstance(model, BiEncoder):
        if not overrides:
            return model
        enc = copy.copy(model)  # shares the weights; only the settings differ
        enc.settings = {**model.settings, **overrides}
        fit_max_lengths(enc.settings, overrides, model.transformer.config, model.tokenizer, str(model.source))
        return enc
    return BiEncoder.from_pretrained(str(model), **overrides)


def _check_judgements(qrels: dict, corpus: Corpus, qfile: Path, strict: bool) -> dict:
    """Count judgements whose document is not in the corpus; all missing (or any, if strict) is an error."""
    pairs = [(q, d) for q, docs in qrels.items() for d in docs]
    rows = corpus.rows_of([d for _, d in pairs], missing="ignore")
    missing = [pairs[i] for i in np.nonzero(rows < 0)[0]]
    info = {
        "judgements": len(pairs),
        "missing_documents": len(missing),
        "missing_examples": [f"{q}:{d}" for q, d in missing[:5]],
    }
    if missing and (strict or len(missing) == len(pairs)):
        raise DataError(
            qfile,
            f"{len(missing)} of {len(pairs)} judgements point at documents missing from "
            f"{corpus.source} (e.g. {', '.join(info['missing_examples'])})"
            + ("" if strict else ": is this the right corpus?"),
        )
    if missing:
        _log.warning(
            "%s: %d of %d judgements point at documents missing from the corpus (e.g. %s); "
            "they count as relevant but unretrievable",
            qfile,
            len(missing),
            len(pairs),
            ", ".join(info["missing_examples"]),
        )
    return info


def require_encode_backends(s: EvaluationConfig, entries: list[DatasetEntry]) -> None:
    """Raise a user error now, before any data set is fetched or model loaded, when the evaluation or one of
    its entries (a suite may set ``encode_backend`` per entry) asks for an encoder that is not installed."""
    for backend in dict.fromkeys(_entry_settings(s, e).encode_backend for e in entries):
        require_encode_backend(backend)


def _entry_settings(s: EvaluationConfig, entry: DatasetEntry) -> EvaluationConfig:
    """``s`` with the encoding precision, encoder and search precision of ``entry`` (or its suite) where ``s``
    sets none, else auto."""
    update = {
        key: getattr(entry, key) or "auto"
        for key in ("precision", "search_precision", "encode_backend")
        if getattr(s, key) is None
    }
    return s.model_copy(update=update) if update else s


def _relevant_identical(qrels: dict, exclude: np.ndarray) -> list[str]:
    """Queries (in ``qrels`` order) that judge their own-id document relevant (label > 0) while the
    identical-id rule drops it: ``exclude[i] >= 0`` is the corpus row of query ``i``'s id."""
    return [q for i, q in enumerate(qrels) if exclude[i] >= 0 and qrels[q].get(q, 0) > 0]


def _search(
    s: EvaluationConfig, qv: np.ndarray, dv: np.ndarray, exclude, offset: int, show: bool
) -> tuple[TopK, str | None, str]:
    """``(top k, search precision used, search path)``: ``auto`` resolved, as ``metrics.json`` records it."""
    if s.index == "exact":
        precision = resolve_search_precision(s.search_precision, qv.shape[0], dv.shape[0], qv.shape[1])
        top = exact_search(
            qv,
            dv,
            s.k,
            precision=precision,
            exclude=exclude,
            row_offset=offset,
            doc_block=s.doc_block,
            show_progress=show,
        )
        return top, precision, "fp32 exact" if precision == "fp32" else f"{precision}+rescore"
    if s.index.startswith("faiss:"):
        from sycl.retrieval.faiss_index import faiss_search

        factory = s.index.split(":", 1)[1] or "Flat"
        return faiss_search(qv, dv, s.k, factory, exclude=exclude, row_offset=offset), None, f"faiss:{factory}"
    raise DataError(None, f"unknown index {s.index!r}: use 'exact' or 'faiss:<factory string>'")


@dataclass(frozen=True)
class Located:
    """The local files of one data set entry."""

    corpus: Path
    queries: Path
    qrels: Path


def locate(entry: DatasetEntry) -> Located:
    """The corpus, queries and qrels files of an entry (fetched if needed); unknown data sets and splits are errors.

    ``entry.corpus``/``queries``/``qrels`` (local or single hub files) replace those parts of
    ``entry.source`` (a BEIR folder, whose ``qrels/<split>`` is the default judgements).
    """
    folder = None
    if entry.source is not None and None in (entry.corpus, entry.queries, entry.qrels):
        try:
            folder = resolve_dataset(entry.source)
        except DataError as err:
            if "not found" in err.problem:
                raise DataError(err.path, f"{err.problem}, nor a suite ({', '.join(available_suites())})") from None
            raise
    corpus = resolve_location(entry.corpus, "corpus.jsonl") if entry.corpus else folder / "corpus.jsonl"
    queries = resolve_location(entry.queries, "queries.jsonl") if entry.queries else folder / "queries.jsonl"
    qrels = resolve_location(entry.qrels) if entry.qrels else qrels_path(folder, entry.split)
    for path in (corpus, queries, qrels):
        if not path.is_file():
            raise DataError(path, f"file not found (data set {entry.name!r})")
    return Located(corpus, queries, qrels)


def evaluate_dataset(
    model: BiEncoder,
    entry: DatasetEntry,
    s: EvaluationConfig,
    out_dir: Path | None,
    ctx: DistContext,
    cache: EmbeddingCache | None,
    model_fp: str | None,
) -> EvaluationResult:
    """Evaluate one data set split; returns its ``results`` entry of ``metrics.json``."""
    t0 = time.perf_counter()
    s = _entry_settings(s, entry)
    files = locate(entry)
    qfile = files.qrels
    qrels = read_qrels(qfile)
    queries = read_queries(files.queries)
    corpus = Corpus.open(files.corpus)
    if len(corpus) == 0:
        raise DataError(files.corpus, "the corpus is empty")
    qids = [q for q in qrels if q in queries]
    unknown = len(qrels) - len(qids)
    if not qids:
        raise DataError(qfile, f"none of the {len(qrels)} judged queries is in {files.queries}")
    if unknown:
        _log.warning("%s: %d judged queries are not in %s and are skipped", qfile, unknown, files.queries)
    qrels = {q: qrels[q] for q in qids}
    judged = _check_judgements(qrels, corpus, qfile, s.strict)
    identity = {
        "origin": dataset_origin(files.corpus, files.queries, qfile),
        "qrels_sha256": qrels_fingerprint(qrels),
        "content": dataset_content(corpus, files.queries),
    }
    show = s.show_progress and ctx.is_main
    enc = dict(
        cache=cache,
        model_fp=model_fp,
        batch_size=s.batch_size,
        precision=s.precision,
        backend=s.encode_backend,
        show_progress=show,
    )
    q_enc = encode(model, ListTexts([queries[q] for q in qids]), "query", **enc)
    start, stop = ctx.shard(len(corpus))
    d_enc = encode(model, CorpusTexts(corpus, start, stop), "passage", storage=s.vector_storage, **enc)
    identical = s.ignore_identical_ids if s.ignore_identical_ids is not None else entry.ignore_identical_ids
    exclude = corpus.rows_of(qids, missing="ignore") if identical else None
    dropped = _relevant_identical(qrels, exclude) if identical else []
    if dropped:
        _log.warning(
            "%s: the identical-id rule makes %d judged-relevant document(s) unreachable (e.g. %s); "
            "they still count as relevant (turn the rule off with --no-ignore-identical-ids)",
            entry.name,
            len(dropped),
            ", ".join(f"{q}:{q}" for q in dropped[:5]),
        )
    t1 = time.perf_counter()
    local, search_precision, search_path = _search(s, np.asarray(q_enc.vectors), d_enc.vectors, exclude, start, show)
    parts = ctx.gather_objects(local)
    top = parts[0] if len(parts) == 1 else merge_topk(parts, s.k)
    t2 = time.perf_counter()
    # the run: {qid: {docid: score}}
    valid = top.rows >= 0
    ids = corpus.ids.take(pa.array(top.rows[valid])).to_pylist()
    run: dict[str, dict[str, float]] = {}
    pos = 0
    for i, q in enumerate(qids):
        n = int(valid[i].sum())
        run[q] = dict(zip(ids[pos : pos + n], top.scores[i, valid[i]].astype(float).tolist()))
        pos += n
    means, per_query = compute_metrics(qrels, run, s.measures, entry.relevance_level)
    run_file = f"runs/{entry.name}.{entry.split}.trec"
    if out_dir is not None and ctx.is_main:
        write_run(out_dir / run_file, run, tag="sycl")
    return EvaluationResult(
        dataset=entry.name,
        split=entry.split,
        source=entry.describe(),
        **identity,
        n_queries=len(qids),
        n_documents=len(corpus),
        relevance_level=entry.relevance_level,
        precision=s.precision,
        search_precision=s.search_precision,
        precision_used=d_enc.path.precision,
        encode_backend=s.encode_backend,
        encoder_path=str(d_enc.path),
        search_precision_used=search_precision,
        search_path=search_path,
        primary=entry.primary,
        measures=means,
        per_query=per_query,
        run_file=run_file,
        unknown_queries=unknown,
        **judged,
        ignore_identical_ids=bool(identical),
        identical_ids_excluded=int((exclude >= 0).sum()) if exclude is not None else 0,
        relevant_identical_dropped=len(dropped),
        cache={"queries": q_enc.cached, "corpus": d_enc.cached},
        seconds={
            "encode_queries": round(q_enc.seconds, 3),
            "encode_corpus": round(d_enc.seconds, 3),
            "search": round(t2 - t1, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
    )


def evaluate(
    model: str | Path | BiEncoder,
    datasets: str | Sequence[str],
    out_dir: str | Path | None = None,
    config: EvaluationConfig | None = None,
    **settings,
) -> dict:
    """Evaluate ``model`` on ``datasets`` and write ``metrics.json``, runs and ``summary.md`` to ``out_dir``.

    ``model``: a loaded :class:`BiEncoder`, a sycl or sentence-transformers directory, or a hub
    name. ``datasets``: suite names, BEIR folders, ``hf://`` paths or BEIR names. ``config``: an
    :class:`EvaluationConfig`, or its fields as keyword ``settings``. Returns the ``metrics.json``
    content (on every rank).
    """
    if config is not None and settings:
        raise TypeError("give an EvaluationConfig or its fields as keywords, not both")
    s = config if config is not None else EvaluationConfig(**settings)
    out = check_output_folder(out_dir) if out_dir is not None else None
    specs = [datasets] if isinstance(datasets, (str, Path)) else list(datasets)
    if not specs:
        raise DataError(None, "no data set to evaluate")
    entries = expand([str(x) for x in specs], s.split, s.relevance_level)
    require_encode_backends(s, entries)
    for entry in entries:  # fail on a bad data set or split before loading the model
        locate(entry)
    ctx = DistContext.setup()
    try:
        return _evaluate_all(model, entries, s, out, ctx)
    finally:
        ctx.teardown()  # the process group, if this call started it (under torchrun)


def _evaluate_all(model, entries, s: EvaluationConfig, out: Path | None, ctx: DistContext) -> dict:
    """:func:`evaluate`'s work once its inputs are checked: load the model, score each entry, write the record."""
    enc = _load_model(model, s)
    if ctx.world_size > 1 or str(enc.device) != str(ctx.device):
        enc.to(ctx.device)
    cache = EmbeddingCache(s.cache_dir) if s.cache else None
    model_fp = model_fingerprint(enc) if cache is not None else None
    results = []
    for entry in entries:
        _log.info("evaluating %s (%s, split %s)", entry.name, entry.describe(), entry.split)
        r = evaluate_dataset(enc, entry, s, out, ctx, cache, model_fp)
        _log.info("%s: %s", entry.name, ", ".join(f"{k} {v:.4f}" for k, v in r.measures.items()))
        results.append(r)
    name = str(model.source if isinstance(model, BiEncoder) else model)
    record = MetricsRecord(
        model=name,
        settings={
            **s.model_dump(mode="json", exclude={"show_progress"}),
            "encoder": dict(enc.settings),
            "model_fingerprint": model_fp or model_fingerprint(enc),
            "processes": ctx.world_size,
        },
        kernels=kernels_entry(enc.device),
        results=results,
    )
    if out is not None and ctx.is_main:
        write_record(out / "metrics.json", record)
        atomic_write_text(out / "summary.md", render_summary(record))
    ctx.barrier()
    return record.model_dump(mode="json")
