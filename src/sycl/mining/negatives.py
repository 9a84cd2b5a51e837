"""Hard-negative mining: each judged query's top-k documents, its judged positives removed.

Retrieval is BM25 (default) or dense with a bi-encoder (exact search through the
evaluation code, with its embedding cache). Written as grouped JSONL, one line per query,
``{"qid": ..., "docid": [...], "score": [1, 2, ...]}`` where ``score`` is the rank (as in
the paper's released BM25 negatives), or as BEIR TSV ``query-id corpus-id score`` with the
rank as score. Both read back with :func:`sycl.io.read_qrels`, so the file can be a
training source directly (for example ``score_transform: 0`` and ``group_random_k: 2``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from sycl.io.atomic import atomic_open
from sycl.io.beir import qrels_path, read_qrels, read_queries
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError
from sycl.io.records import MiningRecord, write_record
from sycl.io.sources import resolve_dataset
from sycl.kernels.decisions import require_encode_backend
from sycl.log import get_logger, progress
from sycl.mining.config import MiningConfig
from sycl.retrieval.search import TopK, exact_search

_log = get_logger(__name__)


class _Dense:
    """Dense retrieval for mining: the corpus is encoded once (cached), queries per chunk."""

    def __init__(
        self, model, corpus: Corpus, batch_size: int | None, precision: str, backend: str, cache: bool, show: bool
    ):
        from sycl.modeling.encoder import BiEncoder
        from sycl.retrieval.cache import EmbeddingCache, model_fingerprint
        from sycl.retrieval.encoding import CorpusTexts, encode

        self.model = model if isinstance(model, BiEncoder) else BiEncoder.from_pretrained(str(model))
        self.cache = EmbeddingCache() if cache else None
        self.fp = model_fingerprint(self.model) if cache else None
        self.opts = dict(batch_size=batch_size, precision=precision, backend=backend)
        encoded = encode(
            self.model,
            CorpusTexts(corpus),
            "passage",
            cache=self.cache,
            model_fp=self.fp,
            show_progress=show,
            **self.opts,
        )
        self.docs, self.path = encoded.vectors, encoded.path

    def search(self, queries: list[str], k: int, exclude: np.ndarray | None) -> TopK:
        from sycl.retrieval.encoding import ListTexts, encode

        qv = encode(self.model, ListTexts(queries), "query", cache=None, model_fp=self.fp, **self.opts).vectors
        return exact_search(qv, self.docs, k, exclude=exclude)


def mine(config: MiningConfig, out: str | Path, show_progress: bool = True) -> dict:
    """``sycl mine``: mine ``config`` into ``out`` (see :func:`mine_negatives`)."""
    return mine_negatives(
        config.dataset,
        out,
        split=config.split,
        k=config.k,
        model=config.model,
        fmt=config.format,
        positive_label=config.positive_label,
        ignore_identical_ids=config.ignore_identical_ids,
        k1=config.k1,
        b=config.b,
        batch_size=config.batch_size,
        precision=config.precision,
        encode_backend=config.encode_backend,
        cache=config.cache,
        show_progress=show_progress,
    )


def mine_negatives(
    dataset: str | Path,
    out: str | Path,
    *,
    split: str = "train",
    k: int = 1000,
    model=None,
    fmt: Literal["jsonl", "tsv"] | None = None,
    positive_label: int = 1,
    ignore_identical_ids: bool = False,
    k1: float = 0.9,
    b: float = 0.4,
    batch_size: int | None = None,
    precision: str = "auto",
    encode_backend: str = "auto",
    cache: bool = True,
    query_chunk: int = 10_000,
    show_progress: bool = True,
) -> dict:
    """Write the top-``k`` non-positive documents of each judged query of ``split`` to ``out``.

    Positives are the query's judgements with ``label >= positive_label``; with
    ``ignore_identical_ids`` the document whose id equals the query id is skipped too (BEIR's rule
    for ArguAna and Quora; off by default). ``model`` selects dense
    mining (a :class:`~sycl.modeling.BiEncoder` or a model path/name); ``None`` is BM25.
    ``fmt`` defaults from the suffix (``.tsv`` -> TSV, else JSONL). Writes and returns the mining
    record (counts; :func:`record_path`).
    """
    t0 = time.perf_counter()
    require_encode_backend(encode_backend)
    out = Path(out)
    fmt = fmt or ("tsv" if out.suffix == ".tsv" else "jsonl")
    if fmt not in ("jsonl", "tsv"):
        raise DataError(None, f"unknown output format {fmt!r}: use jsonl or tsv")
    if k < 1:
        raise DataError(None, f"k must be >= 1, got {k}")
    folder = resolve_dataset(dataset)
    qfile = qrels_path(folder, split)
    qrels = read_qrels(qfile)
    queries = read_queries(folder / "queries.jsonl")
    corpus = Corpus.open(folder)
    qids = [q for q in qrels if q in queries]
    if not qids:
        raise DataError(qfile, f"none of the {len(qrels)} judged queries is in {folder / 'queries.jsonl'}")
    positives = {q: {d for d, lab in qrels[q].items() if lab >= positive_label} for q in qids}
    depth = k + max(len(p) for p in positives.values()) + (1 if ignore_identical_ids else 0)
    if model is None:
        from sycl.mining.bm25 import BM25Index

        engine = BM25Index(corpus, k1=k1, b=b, show_progress=show_progress)
        method = "bm25"
    else:
        engine = _Dense(model, corpus, batch_size, precision, encode_backend, cache, show_progress)
        method = "dense"
    counts = {"queries": 0, "negatives": 0, "short": 0, "skipped_empty": 0}
    bar = progress(total=len(qids), desc=f"mine ({method})", unit="q", disable=not show_progress or None)
    with atomic_open(out) as fh:
        if fmt == "tsv":
            fh.write("query-id\tcorpus-id\tscore\n")
        for s in range(0, len(qids), query_chunk):
            chunk = qids[s : s + query_chunk]
            texts = [queries[q] for q in chunk]
            excl = corpus.rows_of(chunk, missing="ignore") if ignore_identical_ids else None
            if method == "bm25":
                top = engine.search(texts, depth)
                if excl is not None:
                    top.rows[top.rows == excl[:, None]] = -1
            else:
                top = engine.search(texts, depth, excl)
            valid = top.rows >= 0
            ids = corpus.ids.take(pa.array(top.rows[valid])).to_pylist()
            pos = 0
            for i, q in enumerate(chunk):
                n = int(valid[i].sum())
                docs = [d for d in ids[pos : pos + n] if d not in positives[q]][:k]
                pos += n
                if not docs:
                    counts["skipped_empty"] += 1
                    continue
                counts["queries"] += 1
                counts["negatives"] += len(docs)
                counts["short"] += len(docs) < k
                if fmt == "jsonl":
                    fh.write(
                        json.dumps(
                            {"qid": q, "docid": docs, "score": list(range(1, len(docs) + 1))}, ensure_ascii=False
                        )
                        + "\n"
                    )
                else:
                    fh.writelines(f"{q}\t{d}\t{r}\n" for r, d in enumerate(docs, 1))
            bar.update(len(chunk))
    bar.close()
    if counts["queries"] == 0:
        out.unlink(missing_ok=True)
        raise DataError(qfile, "no negatives found for any query (empty corpus or no term overlap)")
    record = MiningRecord(
        method=method,
        model=None if method == "bm25" else str(engine.model.source),
        encoder_path=None if method == "bm25" else str(engine.path),
        dataset=str(dataset),
        split=split,
        k=k,
        format=fmt,
        out=str(out),
        **counts,
        seconds=round(time.perf_counter() - t0, 2),
    )
    write_record(record_path(out), record)
    _log.info(
        "mined %d negatives for %d queries (%s) in %.1f s -> %s",
        counts["negatives"],
        counts["queries"],
        method,
        record.seconds,
        out,
    )
    return record.model_dump(mode="json")


def record_path(out: str | Path) -> Path:
    """Where the :class:`~sycl.io.records.MiningRecord` of the negatives file ``out`` goes."""
    return Path(out).with_suffix(".mining.json")
