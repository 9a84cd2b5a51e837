"""A local causal LM through ``transformers``: a model directory, a hub name, or a GGUF file.

Prompts get the tokenizer's chat template and are generated in batches with left padding,
sorted by length within each chunk so a batch wastes little on padding, and decoded by
:func:`sycl.generation.backends.decode.sample_batch` (in-place KV cache, finished rows leave the
batch: 2.4x ``model.generate`` on the 2-core CPU). ``dtype="auto"``
runs in bfloat16 on CUDA and on CPUs where a bf16 decoding product measured faster than fp32
(:func:`sycl.kernels.decisions.resolve_generator_dtype`), float32 otherwise: decoding is bound by reading the
weights, so bf16 usually wins even without AMX (2-core Xeon with AMX hidden: 111 tokens/s in
bf16 against 80 in fp32, batch 64). Sampling is seeded per batch from the
first request's seed, so a rerun of the same batch reproduces it. No structured output:
JSON answers go through the pipeline's tolerant parser.
"""

from __future__ import annotations

import time
from pathlib import Path

from sycl.generation.backends.base import BatchBackend, ChatRequest, Completion
from sycl.generation.backends.decode import sample_batch
from sycl.io.atomic import atomic_dir
from sycl.log import get_logger

log = get_logger(__name__)
_LOADED: dict[tuple, tuple] = {}  # (model, dtype, device) -> (model, tokenizer): load once per process


def _gguf_cache_dir(gguf: Path) -> Path:
    import os

    st = gguf.stat()
    root = Path(os.environ.get("SYCL_CACHE", Path.home() / ".cache" / "sycl"))
    return root / "gguf" / f"{gguf.stem}-{st.st_size}-{int(st.st_mtime)}"


def dequantized_dir(gguf: Path) -> Path:
    """A ``save_pretrained`` copy of a GGUF model (de-quantising takes ~30-60 s; loading the copy ~1 s).

    Written once to ``$SYCL_CACHE/gguf/<name>-<size>-<mtime>/`` through a temporary sibling and a rename.
    """

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = _gguf_cache_dir(gguf)
    if (target / "config.json").exists():
        return target
    t0 = time.monotonic()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    lm = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    lm.hf_quantizer = None  # the weights are plain tensors now; transformers refuses to save "gguf-quantized" ones
    lm.is_quantized = False
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    with atomic_dir(target) as tmp:  # another process that finished first keeps its copy
        lm.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    log.info("de-quantised %s once in %.1f s (cached in %s)", gguf.name, time.monotonic() - t0, target)
    return target


def load_causal_lm(model: str, dtype: str = "auto", device: str | None = None):
    """``(model, tokenizer, torch_dtype, device)`` for a directory, hub name or ``.gguf`` file; cached per process.

    A ``.gguf`` file is de-quantised once and kept as a ``save_pretrained`` copy under
    ``$SYCL_CACHE/gguf/`` (see :func:`dequantized_dir`).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sycl.kernels.decisions import resolve_generator_dtype

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = getattr(torch, resolve_generator_dtype(dtype, device))
    key = (model, str(torch_dtype), device)
    if key not in _LOADED:
        t0 = time.monotonic()
        path = model
        if model.endswith(".gguf"):
            gguf = Path(model)
            if not gguf.is_file():
                raise FileNotFoundError(f"GGUF file not found: {model}")
            path = str(dequantized_dir(gguf))
        tok = AutoTokenizer.from_pretrained(path)
        lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype).to(device).eval()
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        log.info("loaded %s in %.1f s (%s, %s)", model, time.monotonic() - t0, torch_dtype, device)
        _LOADED[key] = (lm, tok)
    lm, tok = _LOADED[key]
    return lm, tok, torch_dtype, device


class TransformersBackend(BatchBackend):
    """Batched ``model.generate`` on a local causal LM (see the module docstring)."""

    name = "transformers"

    def __init__(self, model: str, batch_size: int = 64, dtype: str = "auto", device: str | None = None):
        self.model = model
        self.batch_size = batch_size
        self.chunk_size = batch_size
        self.dtype = dtype
        self._lm, self._tok, self._torch_dtype, self.device = load_causal_lm(model, dtype, device)

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model": self.model,
            "structured_output": "none",
            "dtype": str(self._torch_dtype).replace("torch.", ""),
            "device": self.device,
            "batch_size": self.batch_size,
        }

    def _prompt(self, req: ChatRequest) -> str:
        return self._tok.apply_chat_template(req.messages, add_generation_prompt=True, tokenize=False)

    def generate_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Completions for ``requests`` (same order); batches share sampling settings of their first request."""
        prompts = [self._prompt(r) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        out: list[Completion | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            first = requests[idx[0]]
            enc = self._tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False).to(
                self.device
            )
            t0 = time.monotonic()
            sample = first.temperature > 0
            rows = sample_batch(
                self._lm,
                enc["input_ids"],
                enc["attention_mask"],
                [requests[i].max_tokens for i in idx],
                set(self._eos_ids()),
                temperature=first.temperature if sample else 0.0,
                top_p=first.top_p if sample else 1.0,
                seed=first.seed,
            )
            seconds = time.monotonic() - t0
            for row, i in enumerate(idx):
                got = rows[row]
                out[i] = Completion(
                    text=self._tok.decode(got.tokens, skip_special_tokens=True),
                    finish_reason=got.finish_reason,
                    prompt_tokens=int(enc["attention_mask"][row].sum()),
                    completion_tokens=len(got.tokens) + (got.finish_reason == "stop"),
                    seconds=seconds,
                )
        return out  # type: ignore[return-value]

    def _eos_ids(self) -> list[int]:
        cfg = self._lm.generation_config.eos_token_id
        ids = cfg if isinstance(cfg, list) else [cfg]
        ids = [i for i in ids if i is not None]
        if self._tok.eos_token_id is not None:
            ids.append(self._tok.eos_token_id)
        if self._tok.pad_token_id is not None:
            ids.append(self._tok.pad_token_id)
        return ids
