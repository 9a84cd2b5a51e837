"""Multi-process plumbing for ``torchrun`` / ``accelerate launch``: process group, gathers, gradient sums.

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

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """This process's place in the run: ``rank`` of ``world_size``, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False
    own_env: tuple[str, ...] = ()  # launcher variables this process set for itself (removed at teardown)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str | None = None, group: bool = False) -> DistContext:
        """Join the process group described by ``RANK``/``WORLD_SIZE`` (torchrun) if there is one.

        The backend is NCCL on CUDA and gloo on CPU; the device is ``cuda:<LOCAL_RANK>`` when CUDA
        is available (or ``device`` when given), else the CPU. ``group`` starts a group for a single
        process too (DeepSpeed needs one and torchrun's variables): without a launcher, this
        process sets them for a group of one on 127.0.0.1.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device is not None:
            dev = torch.device(device)
        elif torch.cuda.is_available():
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        owns, own_env = False, {}
        if (world > 1 or group) and not dist.is_initialized():
            if "MASTER_ADDR" not in os.environ:  # one process without a launcher: be its own
                own_env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
                own_env = {k: v for k, v in own_env.items() if k not in os.environ}
                os.environ.update(own_env, MASTER_PORT=str(_free_port()))
                own_env["MASTER_PORT"] = os.environ["MASTER_PORT"]
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
            owns = True
        if dist.is_initialized():
            world, rank = dist.get_world_size(), dist.get_rank()
        return cls(rank, world, local, dev, owns, tuple(own_env))

    def teardown(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        for k in self.own_env:
            os.environ.pop(k, None)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def all_agree(flag: bool, ctx: DistContext) -> bool:
    """True on every process iff ``flag`` is true on every process."""
    if ctx.world_size == 1:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())
