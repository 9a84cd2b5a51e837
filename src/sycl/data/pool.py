"""The passage pool: every source's judgements as numpy arrays, grouped per query.

Loading a source (:class:`SourceConfig`) reads its qrels and queries as Arrow columns, applies
the filters, maps query ids to one global query index (queries are merged by id across
sources) and document ids to one global passage index (``corpus offset + row`` of the
memory-mapped :class:`~sycl.io.corpus.Corpus`; sources reading the same corpus file share
it). Nothing per passage is a Python object: 2M judgements cost ~50 MB of arrays and no text
is read until a batch asks for it.

:meth:`PassagePool.groups` applies the per-query selection (re-drawn per epoch for
``group_random_k``) and the relabelling, merges the sources and returns CSR arrays:
``indptr [n_queries + 1]``, ``passages int64[m]``, ``labels float32[m]`` with query ``i``'s
passages at ``indptr[i]:indptr[i+1]`` (sources in order, each in file order).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sycl.data import pool_cache
from sycl.data.config import SourceConfig
from sycl.data.tables import QrelsTable, read_id_list, read_qrels_table, read_queries_table
from sycl.io.beir import qrels_path
from sycl.io.corpus import Corpus
from sycl.io.hashing import hash_ids
from sycl.io.errors import DataError
from sycl.log import get_logger

_log = get_logger(__name__)


@dataclass
class Groups:
    """Per-query passage lists in CSR form (see the module docstring)."""

    indptr: np.ndarray
    passages: np.ndarray
    labels: np.ndarray
    label_min: np.ndarray  # lowest label a merged (query, passage) pair had; == labels unless judged twice

    def of(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.indptr[q], self.indptr[q + 1]
        return self.passages[a:b], self.labels[a:b]


@dataclass
class _Loaded:
    spec: SourceConfig
    name: str
    qrels: Path
    query: np.ndarray    # int64 global query index per judgement
    passage: np.ndarray  # int64 global passage index
    score: np.ndarray    # float64 label before relabelling


def _resolve(spec: SourceConfig) -> tuple[Path, Path, Path]:
    """(corpus file, queries file, qrels file) of a source.

    ``corpus``, ``queries`` and a qrels file may each be local or an ``hf://datasets/...`` file,
    fetched alone (:func:`sycl.io.sources.resolve_location`): the synthetic runs read MS MARCO's
    ``queries.jsonl`` without its corpus. ``path`` (a whole BEIR data set) supplies the rest.
    """
    from sycl.io.sources import resolve_dataset, resolve_location

    base = resolve_dataset(spec.path) if spec.path is not None else None
    corpus = resolve_location(spec.corpus, "corpus.jsonl") if spec.corpus else base / "corpus.jsonl"
    queries = resolve_location(spec.queries, "queries.jsonl") if spec.queries else base / "queries.jsonl"
    q = Path(spec.qrels)
    if q.suffix in (".tsv", ".txt", ".jsonl", ".json", ".trec", ".qrels") or q.is_file():
        qrels = resolve_location(spec.qrels)
    elif base is not None:
        qrels = qrels_path(base, spec.qrels)
    else:
        raise DataError(spec.qrels, "qrels must be a file when the source has no 'path'")
    return corpus, queries, qrels


class PassagePool:
    """All sources of a training set, loaded as arrays. ``PassagePool.load(specs)``."""

    def __init__(self, sources: list[_Loaded], query_ids: pa.Array, query_texts: pa.Array, *,
                 corpora: list[Corpus], corpus_names: list[str], seed: int = 0):
        self.sources = sources
        self.corpora = corpora
        self.corpus_names = corpus_names
        self.offsets = np.cumsum([0] + [len(c) for c in corpora]).astype(np.int64)
        self.query_ids = query_ids
        self.query_texts = query_texts
        self.seed = seed
        self._static: Groups | None = None
        self._unselected: Groups | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, specs: list[SourceConfig], seed: int = 0, cache: bool = True) -> "PassagePool":
        """Load ``specs``; with ``cache`` the filtered arrays are kept under ``$SYCL_CACHE/pool/``.

        The cache key covers every spec and the path, size and modification time of every file
        read, so editing a qrels file or a spec rebuilds it. A cached pool is memory-mapped.
        """
        corpora: list[Corpus] = []
        corpus_names: list[str] = []
        by_file: dict[Path, int] = {}
        resolved = []
        for i, spec in enumerate(specs):
            name = spec.name or f"source{i}"
            corpus_file, queries_file, qrels_file = _resolve(spec)
            key = corpus_file.resolve()
            if key not in by_file:
                by_file[key] = len(corpora)
                corpora.append(Corpus.open(corpus_file))
                corpus_names.append(name)
            resolved.append((spec, name, by_file[key], queries_file, qrels_file))
        folder = None
        if cache:
            folder = pool_cache.cache_folder([
                (spec.model_dump(mode="json"), [corpora[ci].source, qf, rf] + ([Path(spec.query_subset)] if spec.query_subset else []))
                for spec, _, ci, qf, rf in resolved])
        if folder is not None and (folder / "meta.json").exists():
            try:
                arrays, query_ids, query_texts, groups = pool_cache.read(folder)
                sources = [_Loaded(spec, name, rf, q, p, sc) for (spec, name, _, _, rf), (q, p, sc) in zip(resolved, arrays)]
                pool = cls(sources, query_ids, query_texts, corpora=corpora, corpus_names=corpus_names, seed=seed)
                if groups and not pool.resampled:
                    pool._static = Groups(**groups)
                return pool
            except (OSError, ValueError, KeyError, pa.ArrowException) as err:  # a damaged cache is rebuilt
                _log.warning("ignoring unreadable pool cache %s: %s", folder, err)
        sources, query_ids, query_texts = _build(resolved, corpora)
        pool = cls(sources, query_ids, query_texts, corpora=corpora, corpus_names=corpus_names, seed=seed)
        if folder is not None:
            groups = None if pool.resampled else vars(pool.groups(0))
            try:
                pool_cache.write(folder, [(s.query, s.passage, s.score) for s in sources], query_ids, query_texts, groups)
            except OSError as err:
                _log.warning("could not write the pool cache %s: %s", folder, err)
        pa.default_memory_pool().release_unused()
        return pool

    # ---------------------------------------------------------------- grouping
    @property
    def n_queries(self) -> int:
        return len(self.query_ids)

    @property
    def resampled(self) -> bool:
        """True when some source draws random passages per query every epoch."""
        return any(s.spec.selector and s.spec.selector[0] == "random" for s in self.sources)

    def groups(self, epoch: int = 0, select: bool = True) -> Groups:
        """Selected, relabelled and merged passages per query for ``epoch`` (``select=False``: no per-query selection)."""
        if select and not self.resampled and self._static is not None:
            return self._static
        if not select and self._unselected is not None:
            return self._unselected
        qs, ps, ls = [], [], []
        for si, src in enumerate(self.sources):
            keep = _select(src, np.random.default_rng([self.seed, epoch, si])) if select else np.arange(len(src.score))
            qs.append(src.query[keep])
            ps.append(src.passage[keep])
            ls.append(_relabel(src.spec, src.score[keep]))
        groups = _merge(np.concatenate(qs), np.concatenate(ps), np.concatenate(ls), self.n_queries)
        if select and not self.resampled:
            self._static = groups
        elif not select:
            self._unselected = groups
        return groups

    # ---------------------------------------------------------------- texts
    def texts(self, passages: np.ndarray) -> list[str]:
        """Texts of global passage indices (one Arrow take per corpus)."""
        passages = np.asarray(passages, dtype=np.int64)
        ci = np.searchsorted(self.offsets, passages, side="right") - 1
        out: list[str] = [""] * len(passages)
        for c in np.unique(ci):
            where = np.nonzero(ci == c)[0]
            for j, t in zip(where, self.corpora[c].texts(passages[where] - self.offsets[c])):
                out[j] = t
        return out

    def query_text(self, q: np.ndarray | list[int]) -> list[str]:
        return self.query_texts.take(pa.array(np.asarray(q, dtype=np.int64))).to_pylist()

    def passage_id(self, passage: int) -> str:
        """Namespaced id ``<corpus name>/<doc id>`` of a global passage index."""
        c = int(np.searchsorted(self.offsets, passage, side="right") - 1)
        return f"{self.corpus_names[c]}/{self.corpora[c].id_at(int(passage - self.offsets[c]))}"


def _build(resolved, corpora: list[Corpus]) -> tuple[list[_Loaded], pa.Array, pa.Array]:
    """Read, filter and index every source (the uncached path of :meth:`PassagePool.load`)."""
    offsets = np.cumsum([0] + [len(c) for c in corpora]).astype(np.int64)
    raw = [(spec, name, ci, queries_file, read_qrels_table(qrels_file))
           for spec, name, ci, queries_file, qrels_file in resolved]

    # filter, then collect the used queries of every source (ids + texts)
    kept, q_ids, q_texts = [], [], []
    for spec, name, ci, queries_file, table in raw:
        table = _filter(spec, table)
        ids, texts = read_queries_table(queries_file)
        pos = pc.index_in(table.qid, value_set=ids)
        if pos.null_count:
            missing = pc.filter(table.qid, pc.is_null(pos)).unique()
            raise DataError(table.path, f"{len(missing)} query id(s) are not in {queries_file}, e.g. {missing[:5].to_pylist()}")
        # look the ids up in hash order: the binary search over the corpus's sorted hashes then walks
        # memory forwards instead of jumping (several times faster for millions of ids)
        order = np.argsort(hash_ids(table.docid), kind="stable")
        rows = np.empty(len(order), dtype=np.int64)
        rows[order] = corpora[ci].rows_of(table.docid.take(pa.array(order)), missing="ignore")
        if (rows < 0).any():
            bad = pc.filter(table.docid, pa.array(rows < 0)).unique()
            raise DataError(table.path, f"{len(bad)} document id(s) are not in corpus {corpora[ci].source}, e.g. {bad[:5].to_pylist()}")
        pos = pos.to_numpy(zero_copy_only=False).astype(np.int64)
        seen = np.zeros(len(ids), dtype=bool)
        seen[pos] = True
        used = np.nonzero(seen)[0]
        q_ids.append(ids.take(pa.array(used)))
        q_texts.append(texts.take(pa.array(used)))
        kept.append((spec, name, table.path, pos, used, offsets[ci] + rows, table.score))

    # one global index per query: the same id with the same text (e.g. MS MARCO queries in a
    # real and a synthetic source) is one query; the same id with another text is another query
    all_ids, all_texts = pa.concat_arrays(q_ids), pa.concat_arrays(q_texts)
    enc = pc.binary_join_element_wise(all_ids, all_texts, "\x1f").dictionary_encode()
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    uniq, first = np.unique(codes, return_index=True)
    order = np.argsort(first, kind="stable")  # global index in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    codes = rank[np.searchsorted(uniq, codes)]
    query_ids = all_ids.take(pa.array(first[order]))
    query_texts = all_texts.take(pa.array(first[order]))
    n_ids = len(pc.unique(query_ids))
    if n_ids < len(query_ids):
        _log.warning("%d query id(s) appear in several sources with different texts; they are kept as "
                     "different queries", len(query_ids) - n_ids)
    sources, start = [], 0
    for spec, name, path, pos, used, passage, score in kept:
        local_to_global = np.full(int(used.max()) + 1 if used.size else 0, -1, dtype=np.int64)
        local_to_global[used] = codes[start:start + used.size]
        start += used.size
        sources.append(_Loaded(spec, name, path, local_to_global[pos], passage.astype(np.int64), score))
        _log.info("source %s: %d judgements for %d queries after filtering", name, len(score), used.size)
    return sources, query_ids, query_texts


def _filter(spec: SourceConfig, table: QrelsTable) -> QrelsTable:
    keep = np.ones(len(table), dtype=bool)
    if spec.query_subset:
        keep &= pc.is_in(table.qid, value_set=read_id_list(spec.query_subset)).to_numpy(zero_copy_only=False)
    if spec.min_score is not None:
        keep &= table.score >= spec.min_score
    if spec.max_score is not None:
        keep &= table.score < spec.max_score
    if not keep.any():
        raise DataError(table.path, "no judgements left after filtering (query_subset / min_score / max_score)")
    return table if keep.all() else table.take(keep)


def _select(src: _Loaded, rng: np.random.Generator) -> np.ndarray:
    """Indices of the judgements kept by the source's per-query selector (file order within a query)."""
    n = len(src.score)
    sel = src.spec.selector
    if sel is None:
        return np.arange(n)
    kind, k = sel
    order = np.arange(n)
    if kind == "random":
        key = rng.random(n)
    elif kind == "top":
        key = -src.score
    elif kind == "bottom":
        key = src.score
    else:  # first
        key = order.astype(np.float64)
    idx = np.lexsort((order, key, src.query))  # by query, then key, then file order
    q_sorted = src.query[idx]
    starts = np.r_[0, np.nonzero(q_sorted[1:] != q_sorted[:-1])[0] + 1]
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.sort(idx[rank < k])


def _relabel(spec: SourceConfig, score: np.ndarray) -> np.ndarray:
    t = spec.score_transform
    if t is None:
        out = score
    elif t == "floor":
        out = np.floor(score)
    elif t == "ceil":
        out = np.ceil(score)
    else:
        out = np.full_like(score, float(t))
    return out.astype(np.float32)


def _merge(q: np.ndarray, p: np.ndarray, lab: np.ndarray, n_queries: int) -> Groups:
    """Group by query (stable), merging repeated (query, passage) pairs into one with the highest label."""
    n = len(q)
    order = np.lexsort((np.arange(n), p, q))
    qs, ps = q[order], p[order]
    new = np.r_[True, (qs[1:] != qs[:-1]) | (ps[1:] != ps[:-1])]
    lab_s = lab[order].astype(np.float32)
    starts = np.nonzero(new)[0]
    hi = np.maximum.reduceat(lab_s, starts) if n else lab_s
    lo = np.minimum.reduceat(lab_s, starts) if n else lab_s
    first = order[new]  # original position of each pair's first occurrence
    # restore source/file order inside each query
    keep = np.lexsort((first, qs[new]))
    gq = qs[new][keep]
    counts = np.bincount(gq, minlength=n_queries)
    indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    return Groups(indptr, ps[new][keep].astype(np.int64), hi[keep], lo[keep])
