"""Many sequences decoded at once by llama.cpp in-process (llama-cpp-python's low-level API).

llama-cpp-python's ``Llama.create_completion`` decodes one sequence at a time; a small model on a
CPU wastes most of each step on that (the weights are read once per token of one sequence).
:class:`LlamaCppDecoder` keeps up to ``n_parallel`` sequences in flight in one llama.cpp context,
each in its own KV-cache stream (``kv_unified`` off, so a sequence attends only to its own
cells), and refills a slot as soon as its sequence finishes:

- every step is one ``llama_decode`` of a batch holding the next token of each running sequence
  and the prompt of each newly admitted one (logits only at each sequence's last position);
- each sequence samples from its own sampler chain: greedy at temperature 0, else temperature ->
  top-p -> a draw seeded by the request (sycl's torch engine does the same: no top-k, nucleus of
  the tempered distribution), so its random stream does not depend on which others share its
  batches. At one or two sequences in flight a greedy text equals ``Llama.create_completion``'s for
  the same prompt (a test checks it); from four rows up llama.cpp's multi-row matrix kernels sum in
  another order, so after a near tie a text can differ (2 of 8 greedy 40-token answers did);
- a sequence ends at an end-of-generation token (``stop``; the token is not part of the text),
  at a stop string (``stop``; the text is cut before it) or after ``max_tokens`` (``length``); its
  cache cells are freed and its slot goes to the next waiting prompt.

Prompts are token ids; :meth:`LlamaCppDecoder.chat_tokens` renders messages with the chat template
stored in the GGUF file (the template transformers reads from the same file) and tokenises the text
with special tokens parsed and nothing added, as the torch engine does.
"""

from __future__ import annotations

import ctypes
import logging
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import llama_cpp

N_BATCH = 2048  # tokens per llama_decode call (running sequences' next tokens + admitted prompts)
_LLAMA_CPP_LOG = logging.getLogger("llama-cpp-python")  # llama-cpp-python prints ggml's log at every level below


@dataclass(frozen=True)
class SequenceRequest:
    """One prompt to continue: token ids, a budget of new tokens and its sampling settings."""

    tokens: list[int]
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class Decoded:
    """A finished sequence: new token ids (end token excluded), their text, and ``stop`` or ``length``."""

    tokens: list[int]
    text: str
    finish_reason: str


@dataclass
class _Slot:
    index: int  # position of the request in the caller's list
    request: SequenceRequest
    sampler: object
    pos: int  # next position in this sequence
    tokens: list[int]
    raw: bytearray
    batch_row: int = -1  # where this sequence's logits are in the last decoded batch


class LlamaCppDecoder:
    """A GGUF model in one llama.cpp context with ``n_parallel`` sequence slots of ``n_ctx_per_seq`` tokens.

    ``threads``: llama.cpp threads for decoding and prompts. Close with :meth:`close` (or ``with``).
    """

    def __init__(self, gguf: Path | str, n_parallel: int = 16, n_ctx_per_seq: int = 1024, threads: int = 1):
        if n_parallel < 1 or n_parallel > llama_cpp.llama_max_parallel_sequences():
            raise ValueError(f"n_parallel must be 1..{llama_cpp.llama_max_parallel_sequences()}, not {n_parallel}")
        gguf = Path(gguf)
        if not gguf.is_file():
            raise FileNotFoundError(f"GGUF file not found: {gguf}")
        if _LLAMA_CPP_LOG.level == logging.NOTSET:
            _LLAMA_CPP_LOG.setLevel(logging.ERROR)
        llama_cpp.llama_backend_init()
        self.path = gguf
        self.n_parallel = n_parallel
        self.n_ctx_per_seq = n_ctx_per_seq
        mparams = llama_cpp.llama_model_default_params()
        mparams.n_gpu_layers = 0
        self._model = llama_cpp.llama_model_load_from_file(str(gguf).encode(), mparams)
        if not self._model:
            raise ValueError(f"llama.cpp could not load {gguf}")
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_parallel * n_ctx_per_seq
        cparams.n_batch = N_BATCH
        cparams.n_ubatch = 512
        cparams.n_seq_max = n_parallel
        cparams.kv_unified = False  # one cache stream per sequence: its attention sees only its own cells
        # flash attention changes the sums with the batch around a sequence (a greedy text then differs
        # from the same prompt decoded alone); without it a sequence's text is the same in any batch
        cparams.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        cparams.n_threads = cparams.n_threads_batch = threads
        self._ctx = llama_cpp.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            llama_cpp.llama_model_free(self._model)
            raise ValueError(f"llama.cpp could not create a context for {n_parallel} x {n_ctx_per_seq} tokens")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
        self._free = weakref.finalize(self, _free_native, self._batch, self._ctx, self._model)
        self._piece = ctypes.create_string_buffer(256)
        self._template = None

    # -- tokens and text --------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text``, special tokens (``<|im_start|>``) parsed, no BOS added."""
        raw = text.encode("utf-8")
        buf = (llama_cpp.llama_token * (len(raw) + 8))()
        n = llama_cpp.llama_tokenize(self._vocab, raw, len(raw), buf, len(buf), False, True)
        if n < 0:  # pragma: no cover - a token per byte always fits
            raise RuntimeError(f"llama.cpp could not tokenize {len(raw)} bytes")
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (empty for control tokens unless ``special``)."""
        n = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece, len(self._piece), 0, special)
        return self._piece.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        """The text of ``tokens`` without special tokens."""
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def chat_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """``messages`` rendered by the GGUF's chat template with the generation prompt, then tokenised."""
        return self.tokenize(self.chat_text(messages))

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        """``messages`` rendered by the chat template stored in the GGUF file (as transformers renders it)."""
        if self._template is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = llama_cpp.llama_model_chat_template(self._model, None)
            if not template:
                raise ValueError(f"{self.path.name} stores no chat template")
            special = lambda tok: self.piece(tok, special=True).decode("utf-8")  # noqa: E731
            self._template = Jinja2ChatFormatter(
                template.decode("utf-8"),
                eos_token=special(llama_cpp.llama_vocab_eos(self._vocab)),
                bos_token=special(llama_cpp.llama_vocab_bos(self._vocab)),
            )
        return self._template(messages=messages).prompt

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends generation (EOS, end of turn)."""
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    # -- decoding ---------------------------------------------------------------------------------

    def decode(self, requests: list[SequenceRequest]) -> list[Decoded]:
        """Continue every request, ``n_parallel`` at a time, refilling slots as sequences finish; same order."""
        for i, r in enumerate(requests):
            if not r.tokens or r.max_tokens < 1:
                raise ValueError(f"request {i} has an empty prompt or a budget under one token")
            if len(r.tokens) + r.max_tokens > self.n_ctx_per_seq:
                raise ValueError(
                    f"request {i}: {len(r.tokens)} prompt tokens + {r.max_tokens} new tokens do not fit "
                    f"a sequence's {self.n_ctx_per_seq} positions"
                )
            if len(r.tokens) > N_BATCH:
                raise ValueError(f"request {i}: a prompt of {len(r.tokens)} tokens is over {N_BATCH}")
        waiting = deque(enumerate(requests))
        free = list(range(self.n_parallel - 1, -1, -1))
        running: dict[int, _Slot] = {}
        results: list[Decoded | None] = [None] * len(requests)
        try:
            while waiting or running:
                n = 0
                for seq, slot in running.items():  # the next token of every running sequence
                    n = self._add(n, slot.tokens[-1], slot.pos, seq, True)
                    slot.batch_row, slot.pos = n - 1, slot.pos + 1
                while waiting and free and n + len(waiting[0][1].tokens) <= N_BATCH:  # admit prompts
                    index, req = waiting.popleft()
                    seq = free.pop()
                    for p, tok in enumerate(req.tokens):
                        n = self._add(n, tok, p, seq, p == len(req.tokens) - 1)
                    running[seq] = _Slot(index, req, self._sampler(req), len(req.tokens), [], bytearray(), n - 1)
                self._batch.n_tokens = n
                rc = llama_cpp.llama_decode(self._ctx, self._batch)
                if rc != 0:
                    raise RuntimeError(f"llama_decode failed with status {rc} ({len(running)} sequences)")
                for seq in list(running):
                    slot = running[seq]
                    done = self._step(slot)
                    if done is not None:
                        results[slot.index] = done
                        llama_cpp.llama_sampler_free(slot.sampler)
                        llama_cpp.llama_memory_seq_rm(self._memory, seq, -1, -1)
                        del running[seq]
                        free.append(seq)
        finally:
            for seq, slot in running.items():  # an error mid-way: leave the context empty and reusable
                llama_cpp.llama_sampler_free(slot.sampler)
                llama_cpp.llama_memory_seq_rm(self._memory, seq, -1, -1)
        return results  # type: ignore[return-value]

    def _add(self, n: int, token: int, pos: int, seq: int, logits: bool) -> int:
        b = self._batch
        b.token[n], b.pos[n], b.n_seq_id[n], b.logits[n] = token, pos, 1, logits
        b.seq_id[n][0] = seq
        return n + 1

    def _sampler(self, req: SequenceRequest):
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if req.temperature <= 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
            return chain
        seed = llama_cpp.LLAMA_DEFAULT_SEED if req.seed is None else req.seed % 2**32
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(req.temperature))
        if req.top_p < 1.0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(req.top_p, 1))
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
        return chain

    def _step(self, slot: _Slot) -> Decoded | None:
        """Sample ``slot``'s next token from the last batch; its result when the sequence ends."""
        tok = llama_cpp.llama_sampler_sample(slot.sampler, self._ctx, slot.batch_row)
        req = slot.request
        if self.is_end(tok):
            return Decoded(slot.tokens, slot.raw.decode("utf-8", errors="replace"), "stop")
        slot.tokens.append(tok)
        slot.raw += self.piece(tok)
        if req.stop:
            text = slot.raw.decode("utf-8", errors="ignore")
            cut = min((i for i in (text.find(s) for s in req.stop) if i >= 0), default=-1)
            if cut >= 0:
                return Decoded(slot.tokens, text[:cut], "stop")
        if len(slot.tokens) >= req.max_tokens:
            return Decoded(slot.tokens, slot.raw.decode("utf-8", errors="replace"), "length")
        return None

    def close(self) -> None:
        """Free the batch, context and model (idempotent; also done when the decoder is collected)."""
        self._free()

    def __enter__(self) -> LlamaCppDecoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _free_native(batch, ctx, model) -> None:
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
