"""Two gloo processes under torchrun give the same metrics and runs as one process."""

import json
import os
import subprocess
import sys

from sycl.io import read_run


def _cli(args, env, nproc=1):
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        if nproc > 1
        else [sys.executable]
    )
    cmd = [*launcher, "-m", "sycl.cli", "-q", "evaluate", *args]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_two_processes_equal_one(tiny, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "SYCL_CACHE": str(tmp_path / "cache")}
    common = ["--dataset", str(tiny), "--k", "6", "--no-cache"]
    _cli([*common, "--out", str(tmp_path / "one")], env)
    _cli([*common, "--out", str(tmp_path / "two")], env, nproc=2)
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert one["settings"]["processes"] == 1 and two["settings"]["processes"] == 2
    r1, r2 = one["results"][0], two["results"][0]
    assert r1["measures"] == r2["measures"]
    assert r1["per_query"] == r2["per_query"]
    run1 = read_run(tmp_path / "one" / r1["run_file"])
    run2 = read_run(tmp_path / "two" / r2["run_file"])
    assert {q: sorted(d) for q, d in run1.items()} == {q: sorted(d) for q, d in run2.items()}
    for q in run1:
        for d, s in run1[q].items():
            assert abs(run2[q][d] - s) < 1e-5


_EVALUATE_AND_REPORT_GROUP = """
import sys
import torch.distributed as dist
from sycl.evaluation import evaluate
evaluate("embedded:all-MiniLM-L6-v2", [sys.argv[1]], sys.argv[2], k=6, cache=False, show_progress=False)
print("group after evaluate:", dist.is_initialized())
"""


def test_evaluate_destroys_the_process_group_it_started(tiny, tmp_path):
    """Under torchrun, evaluate() starts the gloo group; a library caller gets the process back without it."""
    script = tmp_path / "ev.py"
    script.write_text(_EVALUATE_AND_REPORT_GROUP)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "SYCL_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    res = subprocess.run([*cmd, str(tiny), str(tmp_path / "out")], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("group after evaluate: False") == 2, res.stdout


def test_evaluate_leaves_a_callers_own_group(tiny, tmp_path, monkeypatch):
    """A group the caller started is theirs: evaluate() uses it and does not destroy it."""
    import torch.distributed as dist

    from sycl.distributed import _free_port
    from sycl.evaluation import evaluate

    for k, v in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "RANK": "0", "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(k, v)
    dist.init_process_group("gloo")
    try:
        evaluate("embedded:all-MiniLM-L6-v2", [str(tiny)], tmp_path / "out", k=6, cache=False, show_progress=False)
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()
