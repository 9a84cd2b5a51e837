"""Two CPU processes (torchrun, gloo) against one process on the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tinyexp import experiment, make_graded_set, make_tiny_model

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    # no dropout, so both layouts see exactly the same network function
    return make_graded_set(root / "data", n_queries=10), make_tiny_model(root / "model", dropout=0.0)


def _env():
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": f"{HERE}{os.pathsep}{REPO / 'src'}"})
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def torchrun(*args, cwd=None):
    """Run ``torchrun --standalone --nproc_per_node=2 ARGS``; on timeout kill its whole process group."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    proc = subprocess.Popen(
        cmd, env=_env(), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun timed out:\n{err[-3000:]}")
    assert proc.returncode == 0, out[-3000:] + err[-3000:]


def run_worker(cfg: dict, tmp: Path, processes: int) -> dict:
    cfg_path, result = tmp / f"cfg{processes}.json", tmp / f"result{processes}.json"
    cfg_path.write_text(json.dumps(cfg))
    if processes == 2:
        torchrun(HERE / "dist_worker.py", cfg_path, result)
    else:
        done = subprocess.run(
            [sys.executable, str(HERE / "dist_worker.py"), str(cfg_path), str(result)],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text())


def test_two_processes_match_one_on_the_same_global_batch(setup, tmp_path):
    data, model = setup
    base = experiment(data, model, tmp_path / "unused", batch_size=2)
    base["loss"] = {"name": "ws2"}  # batch-level: every gathered row must be in the right place
    two = run_worker(base, tmp_path, 2)
    one = run_worker({**base, "train": {**base["train"], "batch_size": 4}}, tmp_path, 1)
    assert two["world_size"] == 2 and one["world_size"] == 1
    # labels and queries laid out in the gathered order = the single-process batch order
    assert two["query_index"] == one["query_index"] and len(one["query_index"]) == 4
    assert two["labels"] == one["labels"]
    assert two["scores_shape"] == one["scores_shape"] == [4, 12]
    torch.testing.assert_close(torch.tensor(two["q"]), torch.tensor(one["q"]), rtol=1e-5, atol=1e-6)
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5, abs=1e-7)
    # gradients through both shards summed = the single-process gradient
    assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-4)
    torch.testing.assert_close(torch.tensor(two["grad_tail"]), torch.tensor(one["grad_tail"]), rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize(
    "loss",
    [
        pytest.param({"name": "ws2"}, id="ws2"),
        pytest.param(
            {"name": "wasserstein1d", "temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"},
            id="default",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_grad_cache_on_two_processes_matches_the_plain_single_process_batch(setup, tmp_path, loss):
    data, model = setup
    base = experiment(data, model, tmp_path / "unused", batch_size=2)
    base["loss"] = loss  # ws2's value depends on the whole gathered batch
    two = run_worker({**base, "train": {**base["train"], "grad_cache": 3}}, tmp_path, 2)
    one = run_worker({**base, "train": {**base["train"], "batch_size": 4}}, tmp_path, 1)
    assert two["world_size"] == 2 and two["query_index"] == one["query_index"]
    assert two["labels"] == one["labels"] and two["scores_shape"] == one["scores_shape"] == [4, 12]
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5, abs=1e-7)
    # cached embedding gradients, gathered negatives and re-encoded chunks summed over processes = plain gradient
    assert two["grad_norm"] == pytest.approx(one["grad_norm"], rel=1e-4)
    torch.testing.assert_close(
        torch.tensor(two["grad_tail"]), torch.tensor(one["grad_tail"]), rtol=1e-3, atol=1e-6 * one["grad_norm"]
    )


@pytest.mark.slow
def test_sycl_train_under_torchrun_matches_single_process(setup, tmp_path):
    data, model = setup
    cfg = experiment(data, model, tmp_path / "one", batch_size=4, max_steps=2)
    cfg["loss"] = {"name": "kl", "temperature": 0.5, "in_batch": "lowest"}
    import yaml

    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    torchrun(
        "-m",
        "sycl.cli",
        "-q",
        "train",
        "--config",
        tmp_path / "exp.yaml",
        "--out",
        tmp_path / "two",
        "--batch-size",
        2,
        cwd=tmp_path,
    )
    done = subprocess.run(
        [sys.executable, "-m", "sycl.cli", "-q", "train", "--config", str(tmp_path / "exp.yaml")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logs = {
        n: [json.loads(x) for x in (tmp_path / n / "training_log.jsonl").read_text().splitlines()]
        for n in ("one", "two")
    }
    assert [r["step"] for r in logs["two"]] == [1, 2]
    for a, b in zip(logs["one"], logs["two"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    info = json.loads((tmp_path / "two" / "training.json").read_text())
    assert info["world_size"] == 2
    w1, w2 = (
        load_file(str(tmp_path / "one" / "model.safetensors")),
        load_file(str(tmp_path / "two" / "model.safetensors")),
    )
    for k in w1:
        torch.testing.assert_close(w1[k], w2[k], rtol=1e-3, atol=1e-5)
    shutil.rmtree(tmp_path / "two")


def test_one_process_without_a_launcher_gets_a_group_of_its_own_when_asked(monkeypatch):
    """DeepSpeed needs a process group and torchrun's variables even for one process (`sycl train` with
    train.deepspeed on one GPU); the context sets them for itself and removes them at teardown."""
    import torch.distributed as dist

    from sycl.distributed import DistContext

    launcher = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    for k in launcher:
        monkeypatch.delenv(k, raising=False)
    plain = DistContext.setup("cpu")
    assert not plain.owns_group and not dist.is_initialized()
    ctx = DistContext.setup("cpu", group=True)
    try:
        assert ctx.owns_group and dist.is_initialized() and dist.get_backend() == "gloo"
        assert (ctx.world_size, ctx.rank, os.environ["LOCAL_RANK"]) == (1, 0, "0")
    finally:
        ctx.teardown()
    assert not dist.is_initialized() and not set(launcher) & set(os.environ)
