"""Generation backends: ``openai`` (any OpenAI-compatible server), ``vllm`` (in-process),
``transformers`` (a local causal LM) and ``embedded`` (SmolLM2-135M shipped on PyPI).

:func:`create_backend` builds one from a :class:`~sycl.generation.config.GenerationConfig`;
heavy libraries (torch, transformers, vllm) are imported only by the backend that needs them.
"""

from __future__ import annotations

import os

from sycl.generation.backends.base import Backend, BackendUnavailable, BatchBackend, ChatRequest, Completion
from sycl.io.errors import DataError

__all__ = ["Backend", "BackendUnavailable", "BatchBackend", "ChatRequest", "Completion", "create_backend"]


def create_backend(cfg) -> Backend:
    """The backend ``cfg.backend`` names, configured from ``cfg`` (a ``GenerationConfig``)."""
    if cfg.backend == "openai":
        from sycl.generation.backends.openai_api import OpenAIBackend

        key = None
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if not key:
                raise DataError(
                    None, f"--api-key-env names {cfg.api_key_env}, but that environment variable is empty or not set"
                )
        return OpenAIBackend(
            cfg.base_url,
            cfg.model,
            api_key=key,
            concurrency=cfg.concurrency,
            timeout=cfg.request_timeout,
            max_retries=cfg.max_retries,
            structured_output=cfg.structured_output,
        )
    if cfg.backend == "vllm":
        if not cfg.model:
            raise DataError(None, "the vllm backend needs --model (a hub name or a local directory)")
        from sycl.generation.backends.vllm_engine import VLLMBackend

        return VLLMBackend(cfg.model, engine_kwargs=cfg.vllm_kwargs)
    if cfg.backend == "transformers":
        if not cfg.model:
            raise DataError(None, "the transformers backend needs --model (a directory, hub name or .gguf file)")
        from sycl.generation.backends.hf_local import TransformersBackend

        return TransformersBackend(cfg.model, batch_size=cfg.batch_size, dtype=cfg.dtype)
    if cfg.backend == "embedded":
        from sycl.generation.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(batch_size=cfg.batch_size, dtype=cfg.dtype)
    raise DataError(None, f"unknown backend {cfg.backend!r}")
