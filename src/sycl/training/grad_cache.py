"""Gradient caching: the gradient of a large batch's loss with the memory of one small chunk.

Gao, Zhang, Han and Callan, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
Setup" (RepL4NLP 2021; Tevatron's GradCache). A contrastive or list-wise loss couples every
query with every passage of the batch, so the batch cannot be split into independent
micro-batches; but the loss depends on the encoder only through the embeddings. So:

1. :meth:`GradCache.embed_without_graph` embeds the texts chunk by chunk without an autograd
   graph (``[n, d]``), recording each chunk's random state (dropout);
2. the caller builds the loss on those embeddings (as leaves that require a gradient, gathered
   across processes as usual) and back-propagates it only to them: ``dL/de [n, d]``, the cache;
3. :meth:`GradCache.backward_chunks` re-embeds each chunk with a graph under the same random
   state and back-propagates ``<e_chunk, dL/de_chunk>``, accumulating the parameter gradients.

By the chain rule the accumulated gradient is the gradient of the whole batch's loss; only one
chunk's activations are alive at a time. The trainer always goes through :meth:`GradCache.embed`
and :meth:`GradCache.backward`; with ``chunk=None`` (no caching) ``embed`` keeps the encoder's
graph and ``backward`` has nothing left to do, so one code path serves both. The cost is a second forward pass (about a third more
compute for an encoder). With several processes each caches the gradient of its own shard,
which is exactly what :func:`~sycl.training.distributed.gather_with_grad` gives its backward.
"""

from __future__ import annotations

import contextlib

import torch


class _RandomState:
    """The CPU (and current CUDA device) random state, to replay a chunk's dropout masks."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.cpu_state = torch.get_rng_state()
        self.cuda_state = torch.cuda.get_rng_state(device) if self.cuda else None
        self.device = device

    @contextlib.contextmanager
    def restored(self):
        devices = [self.device] if self.cuda else []
        with torch.random.fork_rng(devices=devices, enabled=True):
            torch.set_rng_state(self.cpu_state)
            if self.cuda:
                torch.cuda.set_rng_state(self.cuda_state, self.device)
            yield


def _rows(features: dict[str, torch.Tensor], start: int, stop: int) -> dict[str, torch.Tensor]:
    return {k: v[start:stop] for k, v in features.items()}


class GradCache:
    """Chunked two-pass embedding of one side (queries or passages) of a batch.

    ``model``: a :class:`~sycl.modeling.BiEncoder`; ``chunk``: texts re-encoded with a graph at a
    time, or ``None`` for no caching (one forward pass with its graph); ``inner_chunk``: the encoder's own length-sorted chunking within a chunk
    (:meth:`BiEncoder.embed`); ``autocast``: a callable returning the context both forward passes
    run in (the trainer's mixed precision), so that the two passes compute the same function.
    """

    def __init__(self, model, chunk: int | None, inner_chunk: int | None = None, autocast=contextlib.nullcontext):
        if chunk is not None and chunk < 1:
            raise ValueError(f"grad cache chunk must be >= 1, got {chunk}")
        self.model, self.chunk, self.inner_chunk, self.autocast = model, chunk, inner_chunk, autocast
        self.states: list[_RandomState] = []

    def _device(self, features) -> torch.device:
        return features["input_ids"].device if "input_ids" in features else next(iter(features.values())).device

    def embed(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """``float32 [n, d]`` embeddings for the loss: the encoder's output with its graph (no caching),
        or leaves that require a gradient, computed without a graph (caching)."""
        if self.chunk is None:
            with self.autocast():
                return self.model.embed(features, self.inner_chunk).float()
        return self.embed_without_graph(features).requires_grad_()

    def backward(self, features: dict[str, torch.Tensor], emb: torch.Tensor) -> None:
        """After the loss's backward reached ``emb`` (from :meth:`embed`): carry it into the encoder."""
        if self.chunk is not None:
            self.backward_chunks(features, emb.grad)

    def embed_without_graph(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """``float32 [n, d]`` embeddings of the ``n`` texts in ``features``, with no autograd graph."""
        n = next(iter(features.values())).shape[0]
        device = self._device(features)
        self.states, parts = [], []
        with torch.no_grad(), self.autocast():
            for s in range(0, n, self.chunk):
                self.states.append(_RandomState(device))
                parts.append(self.model.embed(_rows(features, s, s + self.chunk), self.inner_chunk).float())
        return torch.cat(parts)

    def backward_chunks(self, features: dict[str, torch.Tensor], grad: torch.Tensor) -> None:
        """Re-embed each chunk with a graph under its recorded random state; back-propagate ``grad [n, d]``."""
        for i, s in enumerate(range(0, grad.shape[0], self.chunk)):
            with self.states[i].restored(), self.autocast():
                emb = self.model.embed(_rows(features, s, s + self.chunk), self.inner_chunk).float()
            emb.backward(grad[s : s + self.chunk])
