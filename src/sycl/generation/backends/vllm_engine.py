"""In-process ``vllm.LLM`` for GPU machines (optional extra: ``pip install 'sycl-ir[vllm]'``).

All prompts of a chunk (``chunk_size``, default 1024) are handed to ``LLM.chat`` at once, so
vLLM's scheduler batches them continuously; each chunk's answers are journaled as soon as
the chunk finishes. JSON-mode requests are constrained by their JSON schema through vLLM's
structured outputs (``StructuredOutputsParams``, vLLM >= 0.10) or, on older releases,
guided decoding (``GuidedDecodingParams``).
"""

from __future__ import annotations

import time

from sycl.generation.backends.base import BackendUnavailable, BatchBackend, ChatRequest, Completion

INSTALL_HINT = "the vllm backend needs vLLM: pip install 'sycl-ir[vllm]' (a CUDA machine is required)"


def import_vllm():
    """The ``vllm`` module, or :class:`BackendUnavailable` saying how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise BackendUnavailable(f"{INSTALL_HINT} ({err})") from None
    return vllm


def _schema_params(schema: dict) -> dict:
    """``SamplingParams`` keyword arguments that constrain output to ``schema``, version-tolerant."""
    try:
        from vllm.sampling_params import StructuredOutputsParams

        return {"structured_outputs": StructuredOutputsParams(json=schema)}
    except ImportError:
        pass
    try:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=schema)}
    except ImportError:
        return {}


def _on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except (ImportError, AttributeError):
        return False


class VLLMBackend(BatchBackend):
    """``vllm.LLM(model, **engine_kwargs)``; ``engine_kwargs`` e.g. ``tensor_parallel_size``."""

    name = "vllm"

    def __init__(self, model: str, chunk_size: int = 1024, engine_kwargs: dict | None = None):
        vllm = import_vllm()
        self.model = model
        self.chunk_size = chunk_size
        self.engine_kwargs = dict(engine_kwargs or {})
        self._vllm = vllm
        self._llm = vllm.LLM(model=model, **self.engine_kwargs)
        self.structured_output = "json_schema" if _schema_params({"type": "object"}) else "none"
        # vLLM 0.32 on CPU dies on per-request seeds ("CPU Generator does not use offset" when a
        # chunked prefill discards a sampled token): there the engine's seed is the only one.
        self.per_request_seed = not _on_cpu()

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model": self.model,
            "structured_output": self.structured_output,
            "vllm_version": getattr(self._vllm, "__version__", "?"),
            "engine_kwargs": self.engine_kwargs,
            "per_request_seed": self.per_request_seed,
            "chunk_size": self.chunk_size,
        }

    def _params(self, req: ChatRequest):
        kw = dict(
            max_tokens=req.max_tokens,
            temperature=req.temperature,
            top_p=req.top_p,
            seed=req.seed if self.per_request_seed else None,
        )
        if req.json_schema is not None:
            kw.update(_schema_params(req.json_schema))
        return self._vllm.SamplingParams(**kw)

    def generate_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        t0 = time.monotonic()
        outputs = self._llm.chat([r.messages for r in requests], [self._params(r) for r in requests], use_tqdm=False)
        seconds = time.monotonic() - t0
        out = []
        for o in outputs:
            c = o.outputs[0]
            out.append(
                Completion(
                    text=c.text,
                    finish_reason=c.finish_reason or "stop",
                    prompt_tokens=len(o.prompt_token_ids or []),
                    completion_tokens=len(c.token_ids or []),
                    seconds=seconds,
                )
            )
        return out
