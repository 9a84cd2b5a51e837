"""Encode queries or a corpus (or one shard of it) into vectors, through the embedding cache.

Texts are encoded in shards of ``shard_rows`` consecutive rows; inside a shard, in chunks in
order of length (longest first), so each batch holds texts of similar length and padding is
small. Vectors are written straight into a memory-mapped ``.npy`` file of the embedding cache,
so a corpus never needs its vectors in RAM at once, and each finished shard is recorded: a run
that is killed (8.8M MS MARCO passages take tens of minutes on a GPU) resumes at the first
shard not recorded. Under ``torchrun`` every rank encodes its own slice of the corpus this way.

Storage: ``fp32`` (default) or ``fp16``, which halves disk and the I/O of out-of-core search
(8.8M x 768: 13.6 GB instead of 27 GB); search reads either and scores in float32.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import pyarrow.compute as pc

from sycl.io.corpus import Corpus
from sycl.kernels.decisions import resolve_encode_backend, resolve_precision
from sycl.kernels.options import DEFAULT_ENCODE_BACKEND, EncodeBackend, Precision
from sycl.kernels.precision import resolve_dtype
from sycl.log import get_logger, progress
from sycl.retrieval.cache import EmbeddingCache, entry_key, model_fingerprint, texts_fingerprint

_log = get_logger(__name__)


class TextSource(Protocol):
    """Texts addressed by position: ``len``, character ``lengths()``, ``texts(positions)``, ``batches()``."""

    def __len__(self) -> int: ...
    def lengths(self) -> np.ndarray: ...
    def texts(self, positions: np.ndarray) -> list[str]: ...
    def batches(self, size: int = 10_000) -> Iterator[list[str]]: ...


class ListTexts:
    """A list of strings as a :class:`TextSource`."""

    def __init__(self, texts: Sequence[str]):
        self._texts = list(texts)

    def __len__(self) -> int:
        return len(self._texts)

    def lengths(self) -> np.ndarray:
        return np.fromiter((len(t) for t in self._texts), dtype=np.int64, count=len(self._texts))

    def texts(self, positions: np.ndarray) -> list[str]:
        return [self._texts[int(i)] for i in positions]

    def batches(self, size: int = 10_000) -> Iterator[list[str]]:
        for s in range(0, len(self._texts), size):
            yield self._texts[s : s + size]


class CorpusTexts:
    """Rows ``start <= row < stop`` of a memory-mapped :class:`Corpus` as a :class:`TextSource`."""

    def __init__(self, corpus: Corpus, start: int = 0, stop: int | None = None):
        self.corpus, self.start = corpus, start
        self.stop = len(corpus) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    def lengths(self) -> np.ndarray:
        sub = self.corpus.table.slice(self.start, len(self))
        title = pc.utf8_length(sub.column("title")).to_numpy().astype(np.int64)
        text = pc.utf8_length(sub.column("text")).to_numpy().astype(np.int64)
        return title + text + (title > 0)

    def texts(self, positions: np.ndarray) -> list[str]:
        return self.corpus.texts(np.asarray(positions, dtype=np.int64) + self.start)

    def batches(self, size: int = 10_000) -> Iterator[list[str]]:
        for s in range(0, len(self), size):
            yield self.texts(np.arange(s, min(len(self), s + size)))


@dataclass(frozen=True)
class EncoderPath:
    """What encodes: ``backend`` (``torch``/``openvino``) computing in ``precision`` (``fp32``/``bf16``/``fp16``)."""

    backend: str
    precision: str

    def __str__(self) -> str:
        return f"{self.backend} {self.precision}"


@dataclass
class Encoded:
    """Vectors ``float32 [n, d]`` (possibly memory-mapped), whether they came from the cache, seconds, and
    the encoder path that made them (``str()``: ``torch bf16``, ``openvino bf16``, ...)."""

    vectors: np.ndarray
    cached: bool
    seconds: float
    key: str | None = None
    path: EncoderPath = EncoderPath("torch", "fp32")


def encoder_path(model, backend: EncodeBackend, precision: Precision) -> EncoderPath:
    """The path that encodes for ``model`` with ``encode_backend`` and ``precision`` (both resolved; no work)."""
    if resolve_encode_backend(backend, precision, model.device) == "openvino":
        from sycl.kernels.openvino_encoder import inference_precision

        return EncoderPath("openvino", inference_precision(precision))
    return EncoderPath("torch", resolve_precision(precision, model.device))


def openvino_runner(model, model_fp: str | None, precision: Precision, path: EncoderPath):
    """``model``'s transformer exported (or read from the model cache) and compiled for OpenVINO."""
    from sycl.kernels.openvino_encoder import compiled_encoder

    example = model.tokenize(["an example text"], "passage")
    runner = compiled_encoder(model.transformer, model_fp or model_fingerprint(model), example, precision)
    if runner.precision != path.precision:
        raise RuntimeError(f"OpenVINO compiled the encoder for {runner.precision}, {path.precision} was expected")
    return runner


VectorStorage = Literal["fp32", "fp16"]
STORAGE_DTYPES = {"fp32": np.float32, "fp16": np.float16}
SHARD_ROWS = 131_072  # rows per resumable shard: minutes of work on a GPU, hours on a CPU

CPU_BATCH_SIZE = 16  # measured: SciFact passages at 256 tokens, bf16 on 2 AMX cores: 62-76/s at 16, 48/s at 128
GPU_BATCH_SIZE = 128


def default_batch_size(device) -> int:
    """Texts per encoding batch when none is given: small on CPU (cache-friendly), large on accelerators."""
    return CPU_BATCH_SIZE if str(device).startswith("cpu") else GPU_BATCH_SIZE


def encoding_settings(model, kind: str) -> dict:
    """The model settings that change the vectors of ``kind`` texts (part of the cache key)."""
    own = ("query_prefix", "max_query_length") if kind == "query" else ("passage_prefix", "max_passage_length")
    return {k: model.settings.get(k) for k in ("pooling", "normalize", "similarity", *own)}


def encode(
    model,
    source: TextSource,
    kind: str,
    *,
    cache: EmbeddingCache | None = None,
    model_fp: str | None = None,
    batch_size: int | None = None,
    precision: Precision = "auto",
    show_progress: bool = False,
    chunk: int | None = None,
    storage: VectorStorage = "fp32",
    shard_rows: int = SHARD_ROWS,
    backend: EncodeBackend = DEFAULT_ENCODE_BACKEND,
) -> Encoded:
    """Embed every text of ``source`` with ``model`` (a :class:`~sycl.modeling.BiEncoder`).

    With a ``cache``, vectors are looked up by (weights, settings, autocast dtype, kind,
    texts) and written there on a miss; ``model_fp`` saves re-hashing the weights. ``storage``
    ``fp16`` keeps the cached vectors at half precision (returned as stored; without a cache the
    vectors are float32 in memory). With a cache, a run interrupted after some shards of
    ``shard_rows`` rows resumes with the next one. ``backend``: the ``encode_backend`` setting
    (:func:`sycl.kernels.decisions.resolve_encode_backend`); the path that ran is part of the cache
    key (torch's keys are those of sycl before OpenVINO) and of the result.
    """
    if storage not in STORAGE_DTYPES:
        raise ValueError(f"unknown vector storage {storage!r}; use fp32 or fp16")
    t0 = time.perf_counter()
    n, dim = len(source), model.dim
    dtype = resolve_dtype(precision, model.device)
    path = encoder_path(model, backend, precision)
    key = None
    if cache is not None:
        model_fp = model_fp or model_fingerprint(model)
        texts_fp, _ = texts_fingerprint(source.batches())
        extra = {"storage": storage} if storage != "fp32" else {}
        if path.backend != "torch":
            extra["encoder"] = str(path)
        key = entry_key(model_fp, encoding_settings(model, kind), kind, str(dtype or "float32"), texts_fp, **extra)
        hit = cache.load(key, n, dim, STORAGE_DTYPES[storage])
        if hit is not None:
            _log.info("%d %s vectors from the cache (%s, %s)", n, kind, path, cache.path(key).name[:12])
            return Encoded(hit, True, time.perf_counter() - t0, key, path)
    other = {"runner": openvino_runner(model, model_fp, precision, path)} if path.backend == "openvino" else {}
    lengths = source.lengths()
    batch_size = batch_size or default_batch_size(model.device)
    chunk = chunk or max(batch_size * 16, 1024)
    bar = progress(total=n, desc=f"encode {kind}s", unit=kind[0], unit_scale=True, disable=not show_progress or None)

    def fill(out: np.ndarray, done: set[int] = frozenset(), mark=None) -> None:
        for shard, s in enumerate(range(0, n, shard_rows)):
            e = min(n, s + shard_rows)
            if shard in done:
                bar.update(e - s)
                continue
            order = s + np.argsort(-lengths[s:e], kind="stable")
            for c in range(0, e - s, chunk):
                idx = np.sort(order[c : c + chunk])
                out[idx] = model.encode(source.texts(idx), kind, batch_size=batch_size, precision=precision, **other)
                bar.update(len(idx))
            if mark is not None:
                mark(shard)

    waited = False
    try:
        if cache is not None:
            meta = {
                "kind": kind,
                "model": str(getattr(model, "source", "")),
                "settings": encoding_settings(model, kind),
                "dtype": str(dtype or "float32"),
                "encoder": str(path),
            }
            with cache.writer(key, n, dim, meta, dtype=STORAGE_DTYPES[storage]) as part:
                waited = part is None  # another process wrote the entry while this one waited for it
                if waited:
                    bar.update(n)
                else:
                    if part.done:
                        _log.info(
                            "resuming %s encoding: %d of %d shards already written",
                            kind,
                            len(part.done),
                            -(-n // shard_rows),
                        )
                    fill(part.vectors, part.done, part.mark)
            vectors = cache.load(key, n, dim, STORAGE_DTYPES[storage])
            if vectors is None:
                raise RuntimeError(f"the embedding cache entry {cache.path(key)} failed verification once written")
        else:
            vectors = np.empty((n, dim), dtype=np.float32)
            fill(vectors)
    finally:
        bar.close()
    secs = time.perf_counter() - t0
    if waited:
        _log.info("%d %s vectors from the cache, written by another process (%s)", n, kind, cache.path(key).name[:12])
    else:
        _log.info("encoded %d %ss in %.1f s (%.1f/s, %s)", n, kind, secs, n / secs if secs else 0.0, path)
    return Encoded(vectors, waited, secs, key, path)
