"""Streaming conversion of training sources into the pool's on-disk arrays.

Each source's qrels file is read block by block (:func:`sycl.data.tables.iter_qrels_blocks`),
filtered, and its ids mapped to query and corpus rows; the judgements go straight to files, so
the 500M-judgement BM25 file of the paper's real-data runs converts with memory bounded by the
block size and the id tables, not by the file. Each source is then laid out grouped by global
query index (file order within a query) as CSR arrays: ``indptr int64[n_queries + 1]``,
``passage int32|int64[n]`` (global passage index), ``score float32[n]`` (label before
relabelling). A file whose queries are already contiguous and in global order is not copied
again; otherwise its runs are permuted chunk by chunk (``O(number of runs)`` memory).
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sycl.data.config import SourceConfig
from sycl.data.tables import iter_qrels_blocks, read_id_list, read_queries_table
from sycl.io.corpus import Corpus
from sycl.io.errors import DataError
from sycl.io.hashing import hash_ids
from sycl.log import get_logger

_log = get_logger(__name__)
CHUNK = 8_000_000  # judgements handled at a time when permuting or merging on disk


@functools.cache
def _malloc_trim():
    try:  # the process's own symbols (no ldconfig lookup); glibc's malloc_trim among them
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # TypeError: Windows has no "this process" handle
        return None


def trim_heap() -> None:
    """Give the pages the C heap has freed back to the system, after each chunk of a long pass.

    Every chunk frees arrays of about 32 MB (float32 x CHUNK). Once glibc's dynamic mmap
    threshold has risen to its 32 MB cap, such arrays live on the heap, and the holes they leave
    add up: a 40M-judgement merge grew from 0.60 to 0.93 GB anonymous over five chunks, and
    stayed at 0.62 GB with a trim after each (``benchmarks/RESULTS.md``, issue 14). Without glibc
    (macOS, musl) this does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class NpyAppender:
    """A 1-D ``.npy`` file written in pieces: 128 header bytes reserved, the header filled in on close."""

    HEADER = 128

    def __init__(self, path: Path, dtype):
        self.path, self.dtype, self.n = Path(path), np.dtype(dtype), 0
        self._fh = open(self.path, "wb")
        self._fh.write(b"\0" * self.HEADER)

    def write(self, values: np.ndarray) -> None:
        np.ascontiguousarray(values, dtype=self.dtype).tofile(self._fh)
        self.n += len(values)

    def close(self) -> Path:
        self._fh.seek(0)
        np.lib.format.write_array_header_1_0(
            self._fh, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (self.n,)}
        )
        if self._fh.tell() != self.HEADER:
            raise AssertionError(f"unexpected .npy header length {self._fh.tell()}")
        self._fh.close()
        return self.path


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``."""
    total = int(lens.sum())
    base = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens)
    return base + np.arange(total, dtype=np.int64)


def _stream_source(
    spec: SourceConfig, corpus: Corpus, offset: int, queries_file: Path, qrels_file: Path, folder: Path, i: int, pdtype
) -> tuple[pa.Array, pa.Array, np.ndarray, int]:
    """Filter and map one source into ``s<i>.q.tmp.npy`` (local query), ``.passage``/``.score`` files."""
    ids, texts = read_queries_table(queries_file)
    subset = read_id_list(spec.query_subset) if spec.query_subset else None
    out = {
        name: NpyAppender(folder / f"s{i}.{name}.tmp.npy", dt)
        for name, dt in (("q", np.int32), ("passage", pdtype), ("score", np.float32))
    }
    seen = np.zeros(len(ids), dtype=bool)
    for b in iter_qrels_blocks(qrels_file):
        group = np.repeat(np.arange(len(b.lengths)), b.lengths)
        keep = np.ones(len(b.score), dtype=bool)
        if subset is not None:
            keep &= pc.is_in(b.qid, value_set=subset).to_numpy(zero_copy_only=False)[group]
        if spec.min_score is not None:
            keep &= b.score >= spec.min_score
        if spec.max_score is not None:
            keep &= b.score < spec.max_score
        if not keep.any():
            continue
        pos = pc.index_in(b.qid, value_set=ids)
        q_local = pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)[group[keep]]
        if (q_local < 0).any():
            missing = pc.unique(b.qid.take(pa.array(np.unique(group[keep][q_local < 0]))))
            raise DataError(
                qrels_file, f"{len(missing)} query id(s) are not in {queries_file}, e.g. {missing[:5].to_pylist()}"
            )
        docid = b.docid if keep.all() else b.docid.filter(pa.array(keep))
        # ids in hash order: the binary search over the corpus's sorted hashes walks memory forwards
        order = np.argsort(hash_ids(docid), kind="stable")
        rows = np.empty(len(order), dtype=np.int64)
        rows[order] = corpus.rows_of(docid.take(pa.array(order)), missing="ignore")
        if (rows < 0).any():
            bad = pc.unique(pc.filter(docid, pa.array(rows < 0)))
            raise DataError(
                qrels_file, f"{len(bad)} document id(s) are not in corpus {corpus.source}, e.g. {bad[:5].to_pylist()}"
            )
        seen[q_local] = True
        out["q"].write(q_local)
        out["passage"].write(rows + offset)
        out["score"].write(b.score[keep])
        del b, group, keep, pos, q_local, docid, order, rows
        trim_heap()
    n = out["q"].n
    for a in out.values():
        a.close()
    if not n:
        raise DataError(qrels_file, "no judgements left after filtering (query_subset / min_score / max_score)")
    used = np.nonzero(seen)[0]
    return ids.take(pa.array(used)), texts.take(pa.array(used)), used, n


def _read(path: Path, index) -> np.ndarray:
    """``path``'s array at ``index`` (a slice or rows), read through a map that is dropped at once.

    The pages read stay in the page cache, but not in this process's resident set: a pass over
    the 4 GB of a 500M-judgement source through one long-lived map held every page it had
    touched, 4.9 GB peak RSS in all (``benchmarks/RESULTS.md``, issue 14).
    """
    m = np.load(path, mmap_mode="r")
    try:
        return np.array(m[index])
    finally:
        del m


def _runs(path: Path, n: int) -> np.ndarray:
    """Start of every run of equal values in the ``n``-long 1-D array file ``path`` (read in chunks)."""
    starts = [np.zeros(1, dtype=np.int64)]
    for a in range(0, n, CHUNK):
        lo = max(0, a - 1)
        c = _read(path, slice(lo, a + CHUNK))
        starts.append(np.nonzero(c[1:] != c[:-1])[0].astype(np.int64) + lo + 1)
    return np.unique(np.concatenate(starts))


def _group(folder: Path, i: int, local_to_global: np.ndarray, n_queries: int) -> None:
    """Lay source ``i`` out grouped by global query: ``s<i>.indptr/passage/score.npy``."""
    q_file = folder / f"s{i}.q.tmp.npy"
    n = len(np.load(q_file, mmap_mode="r"))
    starts = _runs(q_file, n)
    run_q = local_to_global[_read(q_file, starts)]
    lens = np.diff(np.r_[starts, n])
    counts = np.bincount(run_q, weights=lens, minlength=n_queries).astype(np.int64)
    np.save(folder / f"s{i}.indptr.npy", np.r_[0, np.cumsum(counts)].astype(np.int64))
    (folder / f"s{i}.q.tmp.npy").unlink()
    names = ("passage", "score")
    if np.all(run_q[1:] > run_q[:-1]):  # already one run per query, in global order
        for name in names:
            os.replace(folder / f"s{i}.{name}.tmp.npy", folder / f"s{i}.{name}.npy")
        return
    order = np.argsort(run_q, kind="stable")
    cum = np.cumsum(lens[order])
    src = {name: folder / f"s{i}.{name}.tmp.npy" for name in names}
    dst = {name: NpyAppender(folder / f"s{i}.{name}.npy", np.load(src[name], mmap_mode="r").dtype) for name in names}
    r0 = 0
    while r0 < len(order):
        r1 = max(r0 + 1, int(np.searchsorted(cum, (cum[r0 - 1] if r0 else 0) + CHUNK, side="right")))
        idx = _ranges(starts[order[r0:r1]], lens[order[r0:r1]])
        for name in names:
            dst[name].write(_read(src[name], idx))
        r0 = r1
        del idx
        trim_heap()
    for name in names:
        dst[name].close()
    for name in names:
        (folder / f"s{i}.{name}.tmp.npy").unlink()


def build(resolved: list, corpora: list[Corpus], folder: Path) -> tuple[pa.Array, pa.Array]:
    """Convert every source of ``resolved`` (``(spec, name, corpus index, queries file, qrels file)``)
    into ``folder``; returns the global query ids and texts (index = global query index)."""
    offsets = np.cumsum([0] + [len(c) for c in corpora]).astype(np.int64)
    pdtype = np.int32 if offsets[-1] < 2**31 else np.int64
    q_ids, q_texts, used_all = [], [], []
    for i, (spec, name, ci, queries_file, qrels_file) in enumerate(resolved):
        ids, texts, used, n = _stream_source(
            spec, corpora[ci], int(offsets[ci]), queries_file, qrels_file, folder, i, pdtype
        )
        q_ids.append(ids)
        q_texts.append(texts)
        used_all.append(used)
        _log.info("source %s: %d judgements for %d queries after filtering", name, n, used.size)

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
        _log.warning(
            "%d query id(s) appear in several sources with different texts; they are kept as different queries",
            len(query_ids) - n_ids,
        )
    start = 0
    for i, used in enumerate(used_all):
        local_to_global = np.full(int(used.max()) + 1 if used.size else 0, -1, dtype=np.int64)
        local_to_global[used] = codes[start : start + used.size]
        start += used.size
        _group(folder, i, local_to_global, len(query_ids))
    return query_ids, query_texts
