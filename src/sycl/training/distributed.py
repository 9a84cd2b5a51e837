"""Tensor collectives of multi-process training: gathers with and without gradients, gradient sums.

The process group and this process's place in it are :class:`sycl.distributed.DistContext`.

In-batch negatives across processes: every process embeds its own ``B`` queries and ``B * k``
passages, then :func:`gather_with_grad` concatenates all processes' embeddings in rank order
(``[W * B, d]`` and ``[W * B * k, d]``) keeping the autograd graph for the local shard only;
labels are gathered the same way (``[W * B, k]``), so query ``i`` of the gathered batch owns
passages ``i * k .. i * k + k - 1`` exactly as in a single-process batch of ``W * B`` queries.
Every process then computes the same loss on the whole gathered score matrix; its backward
yields the gradient through its own shard, and :func:`all_reduce_gradients` sums the shards'
gradients, which is the gradient of that loss with respect to the shared weights -- the same
update a single process makes for the same global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from sycl.distributed import DistContext


def gather_with_grad(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Concatenate ``x [n, ...]`` of every process in rank order -> ``[W * n, ...]``.

    The local shard is ``x`` itself (gradients flow through it); the others are detached copies.
    All processes must pass the same shape.
    """
    if ctx.world_size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[ctx.rank] = x
    return torch.cat(parts, dim=0)


def gather_tensor(x: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Concatenate a tensor without gradients (e.g. labels) from every process in rank order."""
    if ctx.world_size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def all_reduce_gradients(params, ctx: DistContext) -> None:
    """Sum the ``.grad`` of ``params`` over processes, in one flat buffer per dtype."""
    if ctx.world_size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for g in group:
            n = g.numel()
            g.copy_(flat[offset : offset + n].view_as(g))
            offset += n
