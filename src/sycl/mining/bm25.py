"""BM25 retrieval with ``bm25s`` and the Snowball English stemmer (``PyStemmer``).

Defaults follow Anserini/Pyserini's MS MARCO passage settings (``k1 = 0.9``, ``b = 0.4``,
Lucene's BM25 variant), English stop words removed. The corpus is tokenised in batches
straight from the memory-mapped :class:`~sycl.io.corpus.Corpus`. Documents scoring 0 (no
query term in common) are never returned.
"""

from __future__ import annotations

import numpy as np

from sycl.io.corpus import Corpus
from sycl.log import get_logger, progress
from sycl.retrieval.search import TopK

_log = get_logger(__name__)


class BM25Index:
    """A BM25 index over a corpus. ``search(queries, k) -> TopK`` (rows, scores desc, ties by row)."""

    def __init__(
        self,
        corpus: Corpus,
        k1: float = 0.9,
        b: float = 0.4,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        batch: int = 50_000,
        show_progress: bool = False,
    ):
        import bm25s
        from bm25s.tokenization import Tokenized, Tokenizer

        stem = None
        if stemmer:
            import Stemmer

            stem = Stemmer.Stemmer(stemmer)
        self.tokenizer = Tokenizer(stopwords=stopwords or [], stemmer=stem)
        ids: list[list[int]] = []
        bar = progress(
            total=len(corpus), desc="bm25 tokenise", unit="doc", unit_scale=True, disable=not show_progress or None
        )
        for _, texts in corpus.iter_batches(batch):
            ids.extend(self.tokenizer.tokenize(texts, update_vocab=True, return_as="ids", show_progress=False))
            bar.update(len(texts))
        bar.close()
        self.model = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.model.index(Tokenized(ids=ids, vocab=self.tokenizer.get_vocab_dict()), show_progress=show_progress)
        self.n = len(corpus)
        self._empty = self.tokenizer.get_vocab_dict().get("")

    def search(self, queries: list[str], k: int, show_progress: bool = False) -> TopK:
        """Top-``k`` rows per query by BM25 score; slots without a matching document hold row -1."""
        q_ids = self.tokenizer.tokenize(queries, update_vocab=False, return_as="ids", show_progress=False)
        q_ids = [[t for t in q if t != self._empty] for q in q_ids]
        depth = min(k, self.n)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        nonempty = [i for i, q in enumerate(q_ids) if q]
        if nonempty and depth:
            docs, sc = self.model.retrieve(
                [q_ids[i] for i in nonempty], k=depth, show_progress=show_progress, n_threads=0
            )
            for j, i in enumerate(nonempty):
                keep = sc[j] > 0
                r, s = docs[j][keep].astype(np.int64), sc[j][keep].astype(np.float32)
                order = np.lexsort((r, -s))  # score desc, then row asc
                rows[i, : len(order)], scores[i, : len(order)] = r[order], s[order]
        return TopK(scores, rows)
