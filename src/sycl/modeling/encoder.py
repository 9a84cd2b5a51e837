"""A bi-encoder over any Hugging Face encoder: one shared transformer for queries and passages.

Pooling ``mean`` (masked average), ``cls`` (first token) or ``last`` (last non-padding token,
with the tokenizer's EOS appended, for decoder models); optional L2 normalisation; dot or
cosine similarity; optional query/passage prefixes; separate max lengths.

Saved directories are a Hugging Face model + tokenizer plus the sentence-transformers files
(``modules.json``, ``1_Pooling/``, ``2_Normalize/`` when normalising, prompts for the
prefixes), so ``SentenceTransformer(path)`` loads them and yields the same embeddings, plus
``sycl_model.json`` with the settings below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from sycl.embedded import EMBEDDED_ENCODER, EmbeddedModelMissing, encoder_path
from sycl.io.atomic import atomic_write_json
from sycl.io.errors import DataError
from sycl.kernels.options import Precision
from sycl.kernels.precision import autocast
from sycl.log import progress
from sycl.modeling.config import EncoderConfig


def embedded_encoder_path() -> str:
    """Folder of the embedded all-MiniLM-L6-v2 weights (see :mod:`sycl.embedded`)."""
    try:
        return encoder_path()
    except EmbeddedModelMissing as err:  # pragma: no cover - it is a hard dependency
        raise DataError(None, str(err)) from None


_DEFAULTS = dict(
    pooling="mean",
    normalize=False,
    similarity="dot",
    query_prefix="",
    passage_prefix="",
    max_query_length=256,
    max_passage_length=256,
)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def settings_from_directory(path: Path) -> dict:
    """Encoder settings stored in a sycl or sentence-transformers model directory ({} when none)."""
    sycl_cfg = _read_json(path / "sycl_model.json")
    if sycl_cfg:
        return {k: v for k, v in sycl_cfg.items() if k in _DEFAULTS}
    modules = _read_json(path / "modules.json") if (path / "modules.json").exists() else None
    if not modules:
        return {}
    out: dict = {}
    for m in modules:
        kind = m.get("type", "")
        if kind.endswith("Pooling"):
            pcfg = _read_json(path / m["path"] / "config.json")
            if pcfg.get("pooling_mode_cls_token"):
                out["pooling"] = "cls"
            elif pcfg.get("pooling_mode_lasttoken"):
                out["pooling"] = "last"
            elif pcfg.get("pooling_mode_mean_tokens"):
                out["pooling"] = "mean"
            else:
                raise DataError(
                    path / m["path"] / "config.json", "unsupported pooling mode (sycl supports mean, cls, last)"
                )
        elif kind.endswith("Normalize"):
            out["normalize"] = True
    out.setdefault("normalize", False)
    out["similarity"] = "cosine" if out["normalize"] else "dot"
    st_cfg = _read_json(path / "sentence_bert_config.json")
    if st_cfg.get("max_seq_length"):
        out["max_query_length"] = out["max_passage_length"] = int(st_cfg["max_seq_length"])
    prompts = _read_json(path / "config_sentence_transformers.json").get("prompts") or {}
    if prompts.get("query"):
        out["query_prefix"] = prompts["query"]
    for name in ("document", "passage"):
        if prompts.get(name):
            out["passage_prefix"] = prompts[name]
            break
    return out


def resolve_settings(settings: EncoderConfig) -> tuple[str, dict]:
    """Return the weights location and the complete settings (explicit > stored > defaults)."""
    location = embedded_encoder_path() if settings.model == EMBEDDED_ENCODER else settings.model
    local = Path(location)
    stored = settings_from_directory(local) if local.is_dir() else {}
    if local.is_dir() and not (local / "config.json").exists():
        raise DataError(local, "not a model directory: config.json is missing")
    merged = dict(_DEFAULTS)
    merged.update(stored)
    merged.update({k: v for k, v in settings.model_dump().items() if k != "model" and v is not None})
    if merged["normalize"] and merged["similarity"] == "dot":
        merged["similarity"] = "cosine"
    return location, merged


# tokenizers without a length limit report a huge sentinel (int(1e30)) as model_max_length
_NO_LIMIT = 1_000_000


def position_limit(model_config, tokenizer) -> tuple[int | None, str]:
    """The most tokens the model takes, and where that number comes from (``max_position_embeddings`` of
    its config.json, or the tokenizer's ``model_max_length`` when lower, as for RoBERTa's 514 vs 512)."""
    limits = []
    positions = getattr(model_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append((positions, f"max_position_embeddings {positions} in config.json"))
    tok = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok, int) and 0 < tok < _NO_LIMIT:
        limits.append((tok, f"the tokenizer's model_max_length {tok}"))
    if not limits:
        return None, ""
    return min(limits, key=lambda x: x[0])


def fit_max_lengths(merged: dict, explicit: dict, model_config, tokenizer, model: str) -> None:
    """Check ``max_query_length``/``max_passage_length`` against the model's positions (in place).

    A length set explicitly above the limit is a :class:`DataError` naming the field and the limit
    (instead of an index error in the position embeddings once a long text comes, mid-training); a
    default or stored length above it is lowered to the limit.
    """
    limit, why = position_limit(model_config, tokenizer)
    if limit is None:
        return
    for key in ("max_query_length", "max_passage_length"):
        if merged[key] <= limit:
            continue
        if key in explicit:
            raise DataError(
                model,
                f"{key} {merged[key]} is above the model's limit of {limit} tokens ({why}); "
                f"set {key} to {limit} or less",
            )
        merged[key] = limit


class BiEncoder(nn.Module):
    """Shared-weight bi-encoder. ``forward(features) -> [B, d]`` pooled (and optionally normalised) embeddings."""

    def __init__(self, transformer: nn.Module, tokenizer, settings: dict, source: str):
        super().__init__()
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.settings = dict(settings)
        self.source = source
        if self.settings["pooling"] == "last" and tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, model: str = EMBEDDED_ENCODER, **overrides) -> BiEncoder:
        """Load a sycl model dir, a sentence-transformers dir, a HF model dir or a hub name.

        ``overrides`` are :class:`EncoderConfig` fields (pooling, normalize, prefixes, ...).
        """
        from transformers import AutoModel, AutoTokenizer

        settings = EncoderConfig(model=model, **overrides)
        location, merged = resolve_settings(settings)
        try:
            tokenizer = AutoTokenizer.from_pretrained(location)
            transformer = AutoModel.from_pretrained(location)
        except OSError as err:
            offline = (
                os.environ.get("HF_HUB_OFFLINE") == "1"
                or "offline" in str(err).lower()
                or "connect" in str(err).lower()
            )
            hint = (
                " (no network is reachable: pass a local model directory)"
                if offline and not Path(location).exists()
                else ""
            )
            raise DataError(location, f"cannot load model: {err}{hint}") from None
        fit_max_lengths(merged, settings.overrides(), transformer.config, tokenizer, str(model))
        return cls(transformer, tokenizer, merged, source=model)

    # ---------------------------------------------------------------- encoding
    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def dim(self) -> int:
        return int(self.transformer.config.hidden_size)

    def prepare(self, texts: Sequence[str], kind: Literal["query", "passage"]) -> list[str]:
        prefix = self.settings["query_prefix" if kind == "query" else "passage_prefix"]
        return [prefix + t for t in texts] if prefix else list(texts)

    def tokenize(self, texts: Sequence[str], kind: Literal["query", "passage"]) -> dict[str, torch.Tensor]:
        """Tokenise with the kind's prefix and max length; ``last`` pooling appends EOS."""
        max_len = self.settings["max_query_length" if kind == "query" else "max_passage_length"]
        texts = self.prepare(texts, kind)
        if self.settings["pooling"] != "last":
            return dict(self.tokenizer(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt"))
        eos = self.tokenizer.eos_token_id
        enc = self.tokenizer(texts, truncation=True, max_length=max_len - 1, padding=False)
        ids = [x if x and x[-1] == eos else x + [eos] for x in enc["input_ids"]]
        return dict(self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt"))

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``hidden [B, T, d]``, ``mask [B, T]`` -> ``[B, d]`` in fp32."""
        hidden = hidden.float()
        mode = self.settings["pooling"]
        if mode == "cls":
            return hidden[:, 0]
        if mode == "mean":
            m = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        # last non-padding token; works for left and right padding
        if self.tokenizer.padding_side == "left":
            return hidden[:, -1]
        last = mask.long().sum(1) - 1
        return hidden[torch.arange(hidden.size(0), device=hidden.device), last.clamp(min=0)]

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        features = {k: v.to(self.device) for k, v in features.items()}
        out = self.transformer(**features)
        return self.head(out.last_hidden_state, features["attention_mask"])

    def head(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token embeddings ``hidden [B, T, d]`` -> the text embeddings ``[B, d]``: pooled, normalised if set."""
        emb = self.pool(hidden, mask)
        if self.settings["normalize"]:
            emb = torch.nn.functional.normalize(emb, dim=-1)
        return emb

    def embed(self, features: dict[str, torch.Tensor], chunk_size: int | None = None) -> torch.Tensor:
        """``forward`` over length-sorted chunks of at most ``chunk_size`` texts, in the input's order.

        Each chunk is cut to its own longest text, so a batch mixing short and long texts computes
        little padding, and small chunks keep the working set in the CPU caches (measured on the
        2-core AMX machine: see ``train.chunk_size``). Autograd sees the same function as ``forward``.
        With gradients on, the token embeddings are looked up once for the whole batch and the
        chunks start from them: the embedding matrix then gets one dense gradient per call instead of
        one per chunk (30522 x 384 floats zeroed and added ten times a step, 9% of a MiniLM
        training step on the AMX Xeon).
        """
        mask = features["attention_mask"]
        n = mask.shape[0]
        if not chunk_size or n <= chunk_size:
            return self(features)
        lengths = mask.sum(1)
        order = torch.argsort(lengths, descending=True, stable=True)
        left = self.tokenizer.padding_side == "left"
        features = self._embedded_once(features)
        parts = []
        for s in range(0, n, chunk_size):
            idx = order[s : s + chunk_size]
            width = max(int(lengths[idx].max()), 1)
            cols = slice(mask.shape[1] - width, None) if left else slice(0, width)
            parts.append(self({k: v[idx][:, cols] for k, v in features.items()}))
        return torch.cat(parts)[torch.argsort(order)]

    def _embedded_once(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``features`` with ``input_ids`` replaced by their token embeddings, when training a model that takes them."""
        if not torch.is_grad_enabled() or "input_ids" not in features or "inputs_embeds" in features:
            return features
        table = self.transformer.get_input_embeddings()
        if table is None:
            return features
        rest = {k: v for k, v in features.items() if k != "input_ids"}
        return {**rest, "inputs_embeds": table(features["input_ids"].to(self.device))}

    def similarity(self, q: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        """``[Q, d] x [N, d] -> [Q, N]``: dot product, or cosine when ``similarity == 'cosine'``."""
        if self.settings["similarity"] == "cosine" and not self.settings["normalize"]:
            q = torch.nn.functional.normalize(q, dim=-1)
            p = torch.nn.functional.normalize(p, dim=-1)
        return q @ p.T

    @torch.inference_mode()
    def encode(
        self,
        texts: Sequence[str],
        kind: Literal["query", "passage"] = "passage",
        batch_size: int = 64,
        precision: Precision = "auto",
        show_progress: bool = False,
        runner: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None,
    ) -> np.ndarray:
        """Embed ``texts`` -> ``float32 [len(texts), d]``, batching texts of similar length together.

        Cosine similarity applies normalisation here, so search can always use a dot product.
        ``runner``: another implementation of the transformer (tokenised batch -> token embeddings
        ``[B, T, d]``, e.g. :class:`sycl.kernels.openvino_encoder.CompiledEncoder`) used instead of
        this one under ``precision``'s autocast; pooling and normalisation are the same.
        """
        was_training = self.training
        self.eval()
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        bar = progress(total=len(texts), desc=f"encode {kind}s", unit=kind[0], disable=not show_progress or None)
        try:
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                feats = self.tokenize([texts[i] for i in idx], kind)
                if runner is not None:
                    emb = self.head(runner(feats), feats["attention_mask"])
                else:
                    with autocast(precision, self.device):
                        emb = self(feats)
                if self.settings["similarity"] == "cosine" and not self.settings["normalize"]:
                    emb = torch.nn.functional.normalize(emb, dim=-1)
                out[idx] = emb.float().cpu().numpy()
                bar.update(len(idx))
        finally:
            bar.close()
            self.train(was_training)
        return out

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write HF weights + tokenizer + sentence-transformers files + ``sycl_model.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        s = self.settings
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        ]
        if s["normalize"] or s["similarity"] == "cosine":
            modules.append(
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            )
            (path / "2_Normalize").mkdir(exist_ok=True)
        atomic_write_json(path / "modules.json", modules)
        atomic_write_json(
            path / "1_Pooling" / "config.json",
            {
                "word_embedding_dimension": self.dim,
                "pooling_mode_cls_token": s["pooling"] == "cls",
                "pooling_mode_mean_tokens": s["pooling"] == "mean",
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
                "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": s["pooling"] == "last",
                "include_prompt": True,
            },
        )
        atomic_write_json(
            path / "sentence_bert_config.json",
            {"max_seq_length": max(s["max_query_length"], s["max_passage_length"]), "do_lower_case": False},
        )
        prompts = {}
        if s["query_prefix"]:
            prompts["query"] = s["query_prefix"]
        if s["passage_prefix"]:
            prompts["document"] = s["passage_prefix"]
        atomic_write_json(
            path / "config_sentence_transformers.json",
            {
                "prompts": prompts,
                "default_prompt_name": None,
                "similarity_fn_name": "cosine" if s["similarity"] == "cosine" else "dot",
            },
        )
        atomic_write_json(path / "sycl_model.json", {"kind": "sycl-model", **s})
        return path
