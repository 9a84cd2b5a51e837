"""Temporary files of a killed writer are removed by the next run, and nothing else is.

``sycl mine`` writes its output through ``.NAME.<host>-<pid>.XXXX.tmp`` (:func:`sycl.io.atomic.atomic_open`).
A real ``sycl mine`` is killed with SIGKILL while that file is open; the rerun must leave no
temporary behind and write the same file as an uninterrupted run. Temporaries of live processes,
of other machines and young owner-less ones stay.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sycl
from sycl.io import atomic
from sycl.io.atomic import atomic_write_text, remove_stale, temp_prefix
from sycl.io.beir import write_corpus, write_qrels, write_queries
from sycl.mining.negatives import mine_negatives
from sycl.training.checkpoint import save_checkpoint

_ENV = {**os.environ, "PYTHONPATH": str(Path(sycl.__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """3000 judged queries over 6000 passages: long enough to mine that the kill lands mid-write."""
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(500)]
    root = tmp_path_factory.mktemp("mine") / "set"
    docs = [{"_id": f"d{i}", "title": "", "text": " ".join(rng.choices(vocab, k=30))} for i in range(6000)]
    write_corpus(root / "corpus.jsonl", docs)
    write_queries(root / "queries.jsonl", {f"q{i}": " ".join(rng.choices(vocab, k=6)) for i in range(3000)})
    write_qrels(root / "qrels" / "train.tsv", {f"q{i}": {f"d{i}": 1} for i in range(3000)})
    return root


def _tmps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".neg.jsonl.*.tmp"))


def test_a_killed_sycl_mine_leaves_nothing_after_the_rerun(dataset, tmp_path):
    out = tmp_path / "out" / "neg.jsonl"
    out.parent.mkdir()
    (out.parent / "notes.txt").write_text("the user's\n")
    cmd = [sys.executable, "-m", "sycl.cli", "mine", "--dataset", str(dataset), "--k", "200", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV)
    try:
        deadline = time.monotonic() + 240
        while not _tmps(out.parent) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    left = _tmps(out.parent)
    assert len(left) == 1 and not out.exists()  # the killed writer's temporary file, as it was left
    assert left[0].startswith(f".neg.jsonl.{atomic._HOST}-{proc.pid}.")

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_ENV)
    assert done.returncode == 0, done.stderr
    assert _tmps(out.parent) == []
    assert sorted(p.name for p in out.parent.iterdir()) == ["neg.jsonl", "neg.mining.json", "notes.txt"]  # + its record
    mine_negatives(dataset, tmp_path / "reference.jsonl", k=200, show_progress=False)
    assert out.read_bytes() == (tmp_path / "reference.jsonl").read_bytes()


def test_only_dead_owners_on_this_host_are_removed(tmp_path):
    dead, live = _dead_pid(), os.getppid()
    stale = tmp_path / f".x.jsonl.{atomic._HOST}-{dead}.ab12_cde.tmp"
    keep = [
        tmp_path / f".x.jsonl.{atomic._HOST}-{live}.ab12_cde.tmp",  # a live process is writing it
        tmp_path
        / f".x.jsonl.{'0' * 6 if atomic._HOST != '000000' else '1' * 6}-{dead}.ab12_cde.tmp",  # another machine's
        tmp_path / f".y.jsonl.{atomic._HOST}-{dead}.ab12_cde.tmp",  # another name's (removed when y.jsonl is written)
        tmp_path / f".x.jsonl.{atomic._HOST}-{dead}.tmp",  # not the exact pattern
        tmp_path / ".x.jsonl.abcd1234.tmp",  # owner-less, written less than a day ago
        tmp_path / "x.jsonl.tmp",
    ]
    old = tmp_path / ".x.jsonl.zyxw9876.tmp"  # owner-less and a day old: an older sycl's leftover
    for p in [stale, old, *keep]:
        p.write_text("partial")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    atomic_write_text(tmp_path / "x.jsonl", "done\n")
    assert not stale.exists() and not old.exists()
    assert all(p.exists() for p in keep)
    assert (tmp_path / "x.jsonl").read_text() == "done\n"


def test_a_stale_link_is_removed_as_a_link(tmp_path):
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_text("keep")
    link = tmp_path / "out" / f".x.jsonl.{atomic._HOST}-{_dead_pid()}.ab12_cde.tmp"
    link.parent.mkdir()
    link.symlink_to(target)
    assert remove_stale(link.parent, "x.jsonl") == [link]
    assert (target / "data").read_text() == "keep" and not link.is_symlink()


def test_a_killed_checkpoint_save_is_removed_by_the_next_save(tmp_path):
    import torch

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    root = tmp_path / "checkpoints"
    half = root / f".step-00000002.{atomic._HOST}-{_dead_pid()}.ab12_cde"
    half.mkdir(parents=True)
    (half / "model.pt").write_bytes(b"half")
    mine = Path(f"{root}/{temp_prefix('step-00000009')}zz345678")  # this process's own: never stale
    mine.mkdir()
    save_checkpoint(tmp_path, 4, model, opt, sched, None, {}, keep=1)
    assert sorted(p.name for p in root.iterdir()) == sorted([mine.name, "step-00000004"])


def test_removing_checkpoints_keeps_what_is_not_sycls(tmp_path):
    from sycl.training.checkpoint import remove_checkpoints

    root = tmp_path / "checkpoints"
    (root / "step-00000004").mkdir(parents=True)
    (root / "step-00000004" / "model.pt").write_bytes(b"w")
    (root / "latest").write_text("step-00000004")
    (root / "my-notes").mkdir()
    (root / "my-notes" / "plan.txt").write_text("mine")
    remove_checkpoints(tmp_path)
    assert sorted(p.name for p in root.iterdir()) == ["my-notes"]
    (root / "my-notes" / "plan.txt").unlink()
    (root / "my-notes").rmdir()
    (root / "step-00000006").mkdir()
    remove_checkpoints(tmp_path)
    assert not root.exists()  # nothing else in it: the folder goes too
