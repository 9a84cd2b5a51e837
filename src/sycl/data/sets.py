"""Training sets: fixed-size groups of passages per query, drawn from a :class:`PassagePool`.

* :class:`MultiLevelSet`: ``group_size`` passages with their graded labels, chosen by
  ``passage_selection_strategy``: ``random`` (without replacement, re-drawn every epoch; the
  paper's default for ws2), ``most_relevant`` or ``least_relevant`` (highest / lowest labels
  first, ties in source and file order). A query with fewer passages cycles through them
  (a random order for ``random``). The chosen group is ordered by label, highest first, so
  position 0 holds a most relevant passage.
* :class:`BinarySet`: one positive (label >= ``positive_threshold``, a random one per epoch)
  first, then ``group_size - 1`` random negatives (cycled when fewer); labels ``1, 0, ..., 0``.
  A (query, passage) pair judged both positive and negative (e.g. by two sources) is rejected.
  Queries without a positive or without a negative are left out (counted in the log).

Item ``i`` of a set is a query; :meth:`group` returns ``(query index, passages int64[k],
labels float32[k])`` and :meth:`batch` the texts of several items. Draws depend only on
``(seed, epoch, query)``, so every process of a distributed run and every resumed run sees
the same groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sycl.data.config import DataConfig
from sycl.data.pool import Groups, PassagePool
from sycl.data.pool_build import trim_heap
from sycl.io.errors import DataError
from sycl.log import get_logger

_log = get_logger(__name__)


@dataclass
class TextBatch:
    """A batch of groups: ``queries [B]``, ``passages [B * k]`` (query-major), ``labels float32 [B, k]``."""

    queries: list[str]
    passages: list[str]
    labels: np.ndarray
    query_index: np.ndarray


class _GroupSet:
    def __init__(self, pool: PassagePool, group_size: int, seed: int):
        self.pool = pool
        self.group_size = int(group_size)
        self.seed = int(seed)
        self.epoch = 0
        self._groups: Groups = pool.groups(0)
        self.items: np.ndarray = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch = epoch
            self._groups = self.pool.groups(epoch)

    def _rng(self, q: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(q)])

    def group(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def batch(self, indices) -> TextBatch:
        """Texts and labels of items ``indices`` (one corpus read for all passages)."""
        qs, ps, ls = zip(*(self.group(int(i)) for i in indices))
        passages = np.concatenate(ps)
        return TextBatch(
            self.pool.query_text(list(qs)),
            self.pool.texts(passages),
            np.stack(ls).astype(np.float32),
            np.asarray(qs, dtype=np.int64),
        )

    def _pool_labels(self) -> np.ndarray:
        g = self.pool.groups(0)
        inset = np.zeros(self.pool.n_queries, dtype=bool)
        inset[self.items] = True
        return g.labels[np.repeat(inset, np.diff(g.indptr))]

    def label_counts(self) -> dict[str, int]:
        """Number of (query, passage) judgements per label in the epoch-0 pool of the set's queries."""
        lab = self._pool_labels()
        vals, counts = np.unique(lab, return_counts=True)
        return {(str(int(v)) if float(v).is_integer() else str(float(v))): int(c) for v, c in zip(vals, counts)}


def _cycle(idx: np.ndarray, k: int) -> np.ndarray:
    return idx[:k] if len(idx) >= k else np.resize(idx, k)


class MultiLevelSet(_GroupSet):
    """``group_size`` graded passages per query (see the module docstring)."""

    def __init__(self, pool: PassagePool, group_size: int = 4, strategy: str = "random", seed: int = 0):
        super().__init__(pool, group_size, seed)
        if strategy not in ("random", "most_relevant", "least_relevant"):
            raise ValueError(f"unknown passage_selection_strategy {strategy!r}")
        self.strategy = strategy
        counts = np.diff(self._groups.indptr)
        self.items = np.nonzero(counts > 0)[0].astype(np.int64)
        if not len(self.items):
            raise DataError(None, "the training set is empty: no query has a passage after filtering")
        short = int((counts[self.items] < group_size).sum())
        if short:
            _log.info(
                "%d of %d queries have fewer than %d passages; their passages are cycled",
                short,
                len(self.items),
                group_size,
            )

    def group(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        q = int(self.items[i])
        passages, labels = self._groups.of(q)
        n, k = len(passages), self.group_size
        if self.strategy == "random":
            rng = self._rng(q)
            idx = rng.choice(n, size=k, replace=False) if n >= k else _cycle(rng.permutation(n), k)
        else:
            key = -labels if self.strategy == "most_relevant" else labels
            idx = _cycle(np.argsort(key, kind="stable"), k)
        idx = idx[np.argsort(-labels[idx], kind="stable")]
        return q, passages[idx], labels[idx].astype(np.float32)


class BinarySet(_GroupSet):
    """One positive first plus ``group_size - 1`` negatives per query; labels 1, 0, ..., 0."""

    def __init__(self, pool: PassagePool, group_size: int = 3, positive_threshold: float = 1.0, seed: int = 0):
        super().__init__(pool, group_size, seed)
        if group_size < 2:
            raise DataError(
                None, "a binary training set needs group_size >= 2 (one positive and at least one negative)"
            )
        self.threshold = float(positive_threshold)
        g = pool.groups(0, select=not pool.resampled)
        # in query ranges: the unselected groups of a large pool are memory-mapped, not in RAM
        pos = np.zeros(pool.n_queries, dtype=np.int64)
        n_both, first = 0, -1
        for qa, qb in g.chunks():
            a = int(g.indptr[qa])
            labels = np.asarray(g.labels[a : int(g.indptr[qb])])
            both = np.nonzero(
                (np.asarray(g.label_min[a : a + len(labels)]) < self.threshold) & (labels >= self.threshold)
            )[0]
            if both.size and first < 0:
                first = a + int(both[0])
            n_both += both.size
            cs = np.r_[0, np.cumsum(labels >= self.threshold)]
            local = np.asarray(g.indptr[qa : qb + 1]) - a
            pos[qa:qb] = cs[local[1:]] - cs[local[:-1]]
            del labels, both, cs, local
            trim_heap()  # else heap holes stay resident all training (benchmarks/RESULTS.md, issue 14)
        if n_both:
            q = int(np.searchsorted(g.indptr, first, side="right") - 1)
            raise DataError(
                None,
                f"{n_both} (query, passage) pair(s) are both positive and negative "
                f"(label >= {self.threshold:g} in one source, below in another), e.g. query "
                f"{pool.query_ids[q].as_py()!r} with passage {pool.passage_id(int(g.passages[first]))}; "
                "exclude those passages from the negative source",
            )
        # which queries can form a group: judged on all their passages (a random_k draw varies per epoch)
        counts = np.diff(g.indptr)
        neg = counts - pos
        self.items = np.nonzero((pos > 0) & (neg > 0))[0].astype(np.int64)
        dropped = int(((counts > 0) & ~((pos > 0) & (neg > 0))).sum())
        if dropped:
            _log.warning(
                "%d queries left out of the binary set: no positive (label >= %g) or no negative",
                dropped,
                self.threshold,
            )
        if not len(self.items):
            raise DataError(
                None,
                f"the binary training set is empty: no query has both a positive (label >= {self.threshold:g}) and a negative",
            )

    def group(self, i: int) -> tuple[int, np.ndarray, np.ndarray]:
        q = int(self.items[i])
        passages, labels = self._groups.of(q)
        rng = self._rng(q)
        is_pos = labels >= self.threshold
        if is_pos.all() or not is_pos.any():
            # a per-epoch random selection (group_random_k) left this query one-sided: use all its passages
            passages, labels = self.pool.groups(self.epoch, select=False).of(q)
            is_pos = labels >= self.threshold
        positives, negatives = np.nonzero(is_pos)[0], np.nonzero(~is_pos)[0]
        p = positives[rng.integers(len(positives))]
        k = self.group_size - 1
        neg = (
            rng.choice(negatives, size=k, replace=False)
            if len(negatives) >= k
            else _cycle(rng.permutation(negatives), k)
        )
        lab = np.zeros(self.group_size, dtype=np.float32)
        lab[0] = 1.0
        return q, passages[np.r_[p, neg]], lab

    def label_counts(self) -> dict[str, int]:
        lab = self._pool_labels()
        return {"1": int((lab >= self.threshold).sum()), "0": int((lab < self.threshold).sum())}


def build_training_set(config: DataConfig, seed: int = 0, pool: PassagePool | None = None) -> MultiLevelSet | BinarySet:
    """Load the sources of ``config`` and build its multi-level or binary training set."""
    pool = pool or PassagePool.load(config.sources, seed=seed)
    if config.format == "binary":
        return BinarySet(pool, config.group_size, config.positive_threshold, seed)
    return MultiLevelSet(pool, config.group_size, config.passage_selection_strategy, seed)
