"""The passage pool: every source's judgements as numpy arrays, grouped per query.

Loading a source (:class:`SourceConfig`) reads its qrels and queries as Arrow columns, applies
the filters, maps query ids to one global query index (queries are merged by id across
sources) and document ids to one global passage index (``corpus offset + row`` of the
memory-mapped :class:`~sycl.io.corpus.Corpus`; sources reading the same corpus file share
it). The conversion streams (:mod:`sycl.data.pool_build`) and its result is memory-mapped from
disk (:mod:`sycl.data.pool_cache`): each source is CSR by global query (``indptr``,
``passage``, ``score``). Nothing per passage is a Python object, and no text is read until a
batch asks for it; the 500M BM25 judgements of the paper's real-data runs stay on disk, and a
per-epoch ``group_random_k`` draw reads only the ``indptr`` of that source and the drawn rows.

:meth:`PassagePool.groups` applies the per-query selection (re-drawn per epoch for
``group_random_k``) and the relabelling, merges the sources and returns CSR arrays:
``indptr [n_queries + 1]``, ``passages int64[m]``, ``labels float32[m]`` with query ``i``'s
passages at ``indptr[i]:indptr[i+1]`` (sources in order, each in file order).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from sycl.data import pool_build, pool_cache
from sycl.data.config import SourceConfig
from sycl.data.pool_build import CHUNK, NpyAppender, _ranges, trim_heap
from sycl.io.beir import qrels_path
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError
from sycl.log import get_logger

_log = get_logger(__name__)
_GROUP_ARRAYS = ("indptr", "passages", "labels", "label_min")


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

    def chunks(self, max_entries: int | None = None):
        """``(first query, end query)`` ranges covering every query, each with about ``max_entries``
        passages (at least one query), for passes over groups too large to hold in memory."""
        n, max_entries = len(self.indptr) - 1, max_entries or CHUNK
        ends = np.searchsorted(self.indptr, np.arange(max_entries, int(self.indptr[-1]), max_entries), side="right")
        bounds = np.unique(np.r_[0, ends - 1, n].clip(0, n))
        for a, b in zip(bounds[:-1], bounds[1:]):
            yield int(a), int(b)


@dataclass
class _Loaded:
    spec: SourceConfig
    name: str
    qrels: Path
    indptr: np.ndarray  # int64 [n_queries + 1]: the source's judgements of query q are indptr[q]:indptr[q+1]
    passage: np.ndarray  # int32/int64 global passage index, grouped by query (file order within a query)
    score: np.ndarray  # float32 label before relabelling


def source_files(spec: SourceConfig) -> tuple[Path, Path, Path]:
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

    def __init__(
        self,
        sources: list[_Loaded],
        query_ids: pa.Array,
        query_texts: pa.Array,
        *,
        corpora: list[Corpus],
        corpus_names: list[str],
        seed: int = 0,
        folder: Path | None = None,
    ):
        self.sources = sources
        self.corpora = corpora
        self.corpus_names = corpus_names
        self.offsets = np.cumsum([0] + [len(c) for c in corpora]).astype(np.int64)
        self.query_ids = query_ids
        self.query_texts = query_texts
        self.seed = seed
        self.folder = folder  # the pool cache folder (None: not cached)
        self._static: Groups | None = None
        self._unselected: Groups | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, specs: list[SourceConfig], seed: int = 0, cache: bool = True) -> PassagePool:
        """Load ``specs``; with ``cache`` the converted arrays are kept under ``$SYCL_CACHE/pool/``.

        The cache key covers every spec and the path, size and modification time of every file
        read, so editing a qrels file or a spec rebuilds it. A pool is always memory-mapped from
        its arrays on disk (without ``cache`` from a temporary folder that is removed at once).
        """
        corpora: list[Corpus] = []
        corpus_names: list[str] = []
        by_file: dict[Path, int] = {}
        resolved = []
        for i, spec in enumerate(specs):
            name = spec.name or f"source{i}"
            corpus_file, queries_file, qrels_file = source_files(spec)
            key = corpus_file.resolve()
            if key not in by_file:
                by_file[key] = len(corpora)
                corpora.append(Corpus.open(corpus_file))
                corpus_names.append(name)
            resolved.append((spec, name, by_file[key], queries_file, qrels_file))
        folder = None
        if cache:
            folder = pool_cache.cache_folder(
                [
                    (
                        spec.model_dump(mode="json"),
                        [corpora[ci].source, qf, rf] + ([Path(spec.query_subset)] if spec.query_subset else []),
                    )
                    for spec, _, ci, qf, rf in resolved
                ]
            )

        def open_folder(path: Path, final: Path | None) -> PassagePool:
            arrays, query_ids, query_texts = pool_cache.read(path)
            sources = [_Loaded(spec, name, rf, *arr) for (spec, name, _, _, rf), arr in zip(resolved, arrays)]
            return cls(
                sources, query_ids, query_texts, corpora=corpora, corpus_names=corpus_names, seed=seed, folder=final
            )

        if folder is not None and (folder / "meta.json").exists():
            try:
                pool = open_folder(folder, folder)
                groups = pool_cache.read_groups(folder, "groups", _GROUP_ARRAYS)
                if groups and not pool.resampled:
                    pool._static = Groups(**groups)
                return pool
            except (OSError, ValueError, KeyError, pa.ArrowException) as err:  # a damaged cache is rebuilt
                _log.warning("ignoring unreadable pool cache %s: %s", folder, err)
                shutil.rmtree(folder, ignore_errors=True)
        with pool_cache.building(folder) as tmp:
            query_ids, query_texts = pool_build.build(resolved, corpora, tmp)
            pool_cache.write_meta(tmp, len(resolved), query_ids, query_texts)
            pool = open_folder(tmp, folder)
            if not pool.resampled:
                pool_cache.write_groups(tmp, "groups", vars(pool.groups(0)))
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
        """Selected, relabelled and merged passages per query for ``epoch`` (``select=False``: no per-query selection).

        Without selection, a pool of more than :data:`~sycl.data.pool_build.CHUNK` judgements is
        merged query range by query range into memory-mapped files (in the cache folder, so once).
        """
        if select and not self.resampled and self._static is not None:
            return self._static
        if not select and self._unselected is not None:
            return self._unselected
        if not select and sum(len(s.score) for s in self.sources) > CHUNK:
            self._unselected = self._merge_on_disk()
            return self._unselected
        qs, ps, ls = [], [], []
        for si, src in enumerate(self.sources):
            q, pos = _select(src, np.random.default_rng([self.seed, epoch, si]) if select else None)
            qs.append(q)
            ps.append(np.asarray(src.passage[pos], dtype=np.int64))
            ls.append(_relabel(src.spec, src.score[pos]))
        groups = _merge(np.concatenate(qs), np.concatenate(ps), np.concatenate(ls), self.n_queries)
        del qs, ps, ls
        trim_heap()  # each epoch's draw at 503M judgements otherwise left ~0.2 GB of heap holes
        if select and not self.resampled:
            self._static = groups
        elif not select:
            self._unselected = groups
        return groups

    def _merge_on_disk(self) -> Groups:
        """The unselected groups of a large pool, merged in query ranges into ``unselected.*.npy``."""
        from sycl.io.atomic import make_temp_dir

        names = _GROUP_ARRAYS
        if self.folder is not None:
            done = pool_cache.read_groups(self.folder, "unselected", names)
            if done is not None:
                return Groups(**done)
        with pool_cache.building(None) as tmp:
            folder = make_temp_dir(self.folder, "unselected") if self.folder else tmp
            total = np.zeros(self.n_queries + 1, dtype=np.int64)
            for src in self.sources:
                total += src.indptr
            pdtype = self.sources[0].passage.dtype
            out = {
                n: NpyAppender(folder / f"{n}.npy", dt)
                for n, dt in (("passages", pdtype), ("labels", np.float32), ("label_min", np.float32))
            }
            counts = []
            for qa, qb in Groups(total, total, total, total).chunks():
                q, p, lab = [], [], []
                for src in self.sources:
                    c = np.diff(src.indptr[qa : qb + 1])
                    a, b = int(src.indptr[qa]), int(src.indptr[qb])
                    q.append(np.repeat(np.arange(qb - qa), c))
                    p.append(np.asarray(src.passage[a:b], dtype=np.int64))
                    lab.append(_relabel(src.spec, src.score[a:b]))
                g = _merge(np.concatenate(q), np.concatenate(p), np.concatenate(lab), qb - qa)
                counts.append(np.diff(g.indptr))
                for n in names[1:]:
                    out[n].write(getattr(g, n))
                del q, p, lab, g
                trim_heap()
            for a in out.values():
                a.close()
            np.save(folder / "indptr.npy", np.r_[0, np.cumsum(np.concatenate(counts))].astype(np.int64))
            arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
            if self.folder is not None:
                for n in names:
                    os.replace(folder / f"{n}.npy", self.folder / f"unselected.{n}.npy")
                shutil.rmtree(folder, ignore_errors=True)
        return Groups(**arrays)

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


def _floyd(rng: np.random.Generator, counts: np.ndarray, k: int) -> np.ndarray:
    """``[len(counts), k]`` sorted offsets: a uniform random k-subset of ``range(c)`` per count ``c > k``
    (Floyd's algorithm, vectorised over queries: ``O(k^2)`` per query, no per-judgement array)."""
    out = np.empty((len(counts), k), dtype=np.int64)
    for j in range(k):
        m = counts - k + j + 1
        t = rng.integers(0, m)
        if j:
            t = np.where((out[:, :j] == t[:, None]).any(axis=1), m - 1, t)
        out[:, j] = t
    out.sort(axis=1)
    return out


def _select(src: _Loaded, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """``(global query, position in the source)`` of the judgements kept by the source's per-query
    selector (all of them when ``rng`` is ``None`` or the source has none), by query, file order within."""
    counts = np.diff(src.indptr)
    nq = len(counts)
    sel = src.spec.selector
    if sel is None or rng is None:
        return np.repeat(np.arange(nq), counts), np.arange(int(src.indptr[-1]), dtype=np.int64)
    kind, k = sel
    take = np.minimum(counts, k)
    q = np.repeat(np.arange(nq), take)
    pos = _ranges(src.indptr[:-1], take)
    big = np.nonzero(counts > k)[0]
    if not big.size or kind == "first":
        return q, pos
    at = (np.cumsum(take) - take)[big][:, None] + np.arange(k)
    if kind == "random":
        pos[at] = src.indptr[big][:, None] + _floyd(rng, counts[big], k)
        return q, pos
    # top / bottom: rank by score within each query, in query ranges of about CHUNK judgements
    g = Groups(src.indptr, src.indptr, src.indptr, src.indptr)
    for qa, qb in g.chunks():
        a, b = int(src.indptr[qa]), int(src.indptr[qb])
        score = np.asarray(src.score[a:b], dtype=np.float64)
        local = np.repeat(np.arange(qb - qa), counts[qa:qb])
        idx = np.lexsort((np.arange(b - a), -score if kind == "top" else score, local))
        rank = np.arange(b - a) - np.repeat(src.indptr[qa:qb] - a, counts[qa:qb])
        chosen = np.sort(idx[rank < k]) + a  # by query (local is sorted), file order within
        o0 = int(np.sum(take[:qa]))
        pos[o0 : o0 + len(chosen)] = chosen
    return q, pos


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
