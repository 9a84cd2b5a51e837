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
