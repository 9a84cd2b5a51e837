"""This process's place in a multi-process run (``torchrun`` / ``accelerate launch`` / ``deepspeed``).

:class:`DistContext` is the one reader of the launcher's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``): training and evaluation both ask it for the rank, the world size, the device
and the default process group (NCCL on CUDA, gloo on CPU), which it starts once when a launcher
asked for more than one process. Tensor collectives of training (gathers with gradients,
gradient sums) live in :mod:`sycl.training.distributed`; the object collectives every stage
needs (gather, barrier) are methods here.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def is_main_process() -> bool:
    """True in rank 0 of a launched run, and in a process started without a launcher."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return _env_int("RANK", 0) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DistContext:
    """This process's place in the run: ``rank`` of ``world_size``, its ``local_rank`` and device."""

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
        """Join the process group described by ``RANK``/``WORLD_SIZE`` (the launcher's) if there is one.

        The backend is NCCL on CUDA and gloo on CPU; the device is ``device`` when given, else
        ``cuda:<LOCAL_RANK>`` (modulo the visible GPUs) when CUDA is available, else the CPU.
        ``group`` starts a group for a single process too (DeepSpeed needs one and the launcher's
        variables): without a launcher, this process sets them for a group of one on 127.0.0.1.
        """
        world = _env_int("WORLD_SIZE", 1)
        rank = _env_int("RANK", 0)
        local = _env_int("LOCAL_RANK", 0)
        if device is not None:
            dev = torch.device(device)
        elif torch.cuda.is_available():
            dev = torch.device("cuda", local % torch.cuda.device_count())
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
        """Destroy the process group if :meth:`setup` started it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        for k in self.own_env:
            os.environ.pop(k, None)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def shard(self, n: int) -> tuple[int, int]:
        """Rows ``[start, stop)`` of ``n`` rows that this rank owns (contiguous, nearly equal ranges)."""
        return n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank (pickled between our own processes;
        for results, not tensors at scale)."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out
