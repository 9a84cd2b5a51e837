"""``--resume`` reads only tensors: a pickle planted as ``optimizer.pt`` or ``rng.pt`` is refused, never run.

The payload is a real one: an object whose ``__reduce__`` asks the unpickler to call ``os.system``
with a command that creates a marker file. Loading it with ``weights_only=False`` (the old code)
creates the marker; the checkpoint loader must refuse the file by name and the marker must not exist.
A run killed with SIGKILL mid-training still resumes to the uninterrupted run's weights.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tinyexp import experiment, make_graded_set, make_tiny_model

import sycl
from sycl.io.errors import DataError
from sycl.training import train
from sycl.training.checkpoint import list_checkpoints


class Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return make_graded_set(root / "data"), make_tiny_model(root / "model")


@pytest.fixture(scope="module")
def full(tiny, tmp_path_factory):
    """An uninterrupted run that keeps its step-2 and step-4 checkpoints."""
    data, model = tiny
    cfg = experiment(data, model, tmp_path_factory.mktemp("full") / "m", epochs=2, save_every=2, save_total_limit=3)
    cfg["train"]["keep_checkpoints"] = True
    return cfg, train(cfg)


_ENV = {**os.environ, "PYTHONPATH": str(Path(sycl.__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "sycl.cli", *args], capture_output=True, text=True, timeout=300, env=_ENV
    )


def _interrupted(full, out: Path) -> Path:
    """``out`` as a run killed after its step-2 checkpoint leaves it."""
    shutil.copytree(full[1] / "checkpoints" / "step-00000002", out / "checkpoints" / "step-00000002")
    return out / "checkpoints" / "step-00000002"


def test_a_planted_optimizer_pickle_is_refused_by_sycl_train_resume(full, tmp_path):
    cfg, _ = full
    out, marker = tmp_path / "part", tmp_path / "MARKER"
    ckpt = _interrupted(full, out)
    torch.save({"optimizer": Payload(marker), "scheduler": {}, "scaler": None}, ckpt / "optimizer.pt")
    exp = tmp_path / "exp.yaml"
    exp.write_text(json.dumps({**cfg, "out": str(out)}))
    done = _cli("train", "--config", str(exp), "--resume")
    assert not marker.exists(), "the pickled payload ran"
    assert done.returncode == 2, done.stderr
    assert f"sycl train: error: {ckpt / 'optimizer.pt'}: refused to load" in done.stderr
    assert "weights_only" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "model.safetensors").exists()


def test_a_planted_rng_pickle_is_refused(full, tmp_path):
    cfg, _ = full
    out, marker = tmp_path / "part", tmp_path / "MARKER"
    ckpt = _interrupted(full, out)
    torch.save({"torch": Payload(marker), "numpy": {}, "python": {}}, ckpt / "rng.pt")
    with pytest.raises(DataError) as info:
        train({**cfg, "out": str(out)}, resume=True)
    assert not marker.exists(), "the pickled payload ran"
    assert str(info.value).startswith(f"{ckpt / 'rng.pt'}: refused to load")


def test_a_plain_pickle_file_is_refused_too(full, tmp_path):
    import pickle

    cfg, _ = full
    out, marker = tmp_path / "part", tmp_path / "MARKER"
    ckpt = _interrupted(full, out)
    (ckpt / "rng.pt").write_bytes(pickle.dumps(Payload(marker), protocol=2))  # torch's legacy (non-zip) format
    with pytest.raises(DataError, match=r"rng\.pt: refused to load") as info:
        train({**cfg, "out": str(out)}, resume=True)
    assert str(ckpt / "rng.pt") in str(info.value)
    assert not marker.exists()


def test_a_checkpoint_of_an_older_sycl_is_refused_with_a_message(full, tmp_path):
    import numpy as np

    cfg, _ = full
    out = tmp_path / "part"
    ckpt = _interrupted(full, out)
    state = json.loads((ckpt / "state.json").read_text())
    del state["format"]
    (ckpt / "state.json").write_text(json.dumps(state))
    torch.save({"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": None}, ckpt / "rng.pt")
    with pytest.raises(DataError, match="written by an older sycl .* train again without --resume"):
        train({**cfg, "out": str(out)}, resume=True)


def test_every_checkpoint_file_loads_as_tensors_only(full):
    _, out = full
    for _, ckpt in list_checkpoints(out):
        for name in ("model.pt", "optimizer.pt", "rng.pt"):
            torch.load(ckpt / name, weights_only=True)  # raises on anything but tensors and plain containers


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_a_killed_run_resumes_to_the_same_weights(tiny, tmp_path, restore_threads):
    data, model = tiny
    # one thread in every run (the killed process has OMP_NUM_THREADS=1): sums over 2 threads differ by 1e-6
    cfg = experiment(data, model, tmp_path / "ref", epochs=8, save_every=2, gradient_accumulation=1, threads=1)
    reference = load_file(str(train(cfg) / "model.safetensors"))
    out = tmp_path / "killed"
    exp = tmp_path / "exp.yaml"
    exp.write_text(json.dumps({**cfg, "out": str(out)}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sycl.cli", "train", "--config", str(exp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_ENV,
    )
    try:
        deadline = time.monotonic() + 240
        while not list_checkpoints(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not (out / "model.safetensors").exists()
    step = list_checkpoints(out)[-1][0]
    assert 2 <= step < 24
    resumed = load_file(str(train({**cfg, "out": str(out)}, resume=True) / "model.safetensors"))
    assert resumed.keys() == reference.keys()
    for k in reference:
        torch.testing.assert_close(resumed[k], reference[k], rtol=0, atol=1e-6)
    steps = [json.loads(line)["step"] for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 25))
