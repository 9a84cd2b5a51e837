"""Atomic writes: an interrupted write never leaves a half file under the final name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sycl.io import atomic_open, atomic_write_json, atomic_write_text


def test_exception_leaves_no_file(tmp_path):
    target = tmp_path / "out" / "data.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("partial line\n")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # temporary file removed too


def test_exception_keeps_old_file(tmp_path):
    target = tmp_path / "data.json"
    atomic_write_json(target, {"version": 1})
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as fh:
            fh.write('{"version": 2, "trunc')
            raise KeyboardInterrupt
    assert json.loads(target.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_success_replaces_and_binary_mode(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    with atomic_open(tmp_path / "b.bin", "wb") as fh:
        fh.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


WRITER = r"""
import sys, time
from sycl.io import atomic_open
with atomic_open(sys.argv[1]) as fh:
    for i in range(10**9):
        fh.write("x" * 1000 + "\n")
        if i == 200:
            fh.flush()
            print("writing", flush=True)
        if i > 200:
            time.sleep(0.001)
"""


def test_sigkill_mid_write_leaves_old_file(tmp_path):
    target = tmp_path / "corpus.jsonl"
    target.write_text("complete old content\n")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        temps = [p for p in tmp_path.iterdir() if p.name != "corpus.jsonl"]
        assert temps and temps[0].stat().st_size > 0  # really mid-write
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == "complete old content\n"
    # the killed writer's temp file is hidden (dot-prefixed) and never has the final name
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "corpus.jsonl"]
    assert all(n.startswith(".corpus.jsonl.") and n.endswith(".tmp") for n in leftovers)


def test_sigkill_mid_write_without_old_file(tmp_path):
    target = tmp_path / "new.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not target.exists()


def test_atomic_dir_publishes_on_success_and_leaves_nothing_on_error(tmp_path):
    from sycl.io.atomic import atomic_dir

    target = tmp_path / "built"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("killed halfway")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".built.")
        (tmp / "a.txt").write_text("mine")
    assert (target / "a.txt").read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["built"]


def test_atomic_dir_keeps_the_first_publisher_unless_replacing(tmp_path):
    from sycl.io.atomic import atomic_dir

    target = tmp_path / "built"
    target.mkdir()
    (target / "a.txt").write_text("first")
    with atomic_dir(target) as tmp:  # another process finished first: its copy stays
        (tmp / "a.txt").write_text("second")
    assert (target / "a.txt").read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["built"]
    with atomic_dir(target, replace=True) as tmp:
        (tmp / "b.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
