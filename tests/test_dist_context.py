"""One distributed context: outside a launcher it is rank 0 of 1; shards cover the rows; nothing else reads the launcher's variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import sycl
from sycl.distributed import DistContext, is_main_process

SRC = Path(sycl.__file__).resolve().parent


def test_without_a_launcher_the_context_is_one_process_on_the_cpu(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    ctx = DistContext.setup("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.owns_group) == (0, 1, True, False)
    assert ctx.device == torch.device("cpu")
    assert ctx.gather_objects({"a": 1}) == [{"a": 1}]
    ctx.barrier()
    ctx.teardown()
    assert is_main_process()


def test_the_launchers_rank_decides_the_main_process(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    assert not is_main_process()
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()


@pytest.mark.parametrize("n, size", [(10, 3), (7, 2), (2, 4), (0, 2)])
def test_shards_are_contiguous_and_cover_every_row_once(n, size):
    bounds = [DistContext(rank=r, world_size=size).shard(n) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert max(stop - start for start, stop in bounds) - min(stop - start for start, stop in bounds) <= 1


def test_only_the_context_reads_the_launchers_variables():
    pattern = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["'](RANK|LOCAL_RANK|WORLD_SIZE)["']""")
    readers = sorted(
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))
    )
    assert readers == []  # sycl/distributed.py reads them through _env_int
    assert '_env_int("RANK"' in (SRC / "distributed.py").read_text(encoding="utf-8")
