import json

import torch

from sycl.cli import main
from sycl.modeling import kernel_probe as kp
from sycl.modeling.kernel_probe import KernelTiming, Verdict


def test_info_shows_cpu_choices_and_ratios(capsys, monkeypatch):
    timings = {
        "autocast_bf16": KernelTiming(0.25, 1.0, 0.99999, "512x384x1536"),
        "search_int8": KernelTiming(2000.0, 1.0, 0.9999, "8x384x128"),
        "autocast_fp16": KernelTiming(0.5, 1.0, 0.99999, "512x384x1536"),
    }
    v = Verdict(
        cpu="Test CPU",
        torch=torch.__version__,
        measured_at="now",
        probe_seconds=0.2,
        probe_cpu_seconds=0.2,
        fp32_search_gflops=50.0,
        timings=timings,
    )
    monkeypatch.setattr(kp, "verdict", lambda remeasure=False: v)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "CPU: Test CPU" in out and "precision auto (encoding, training) -> bf16" in out
    assert "search precision auto               -> fp32" in out and "0.0005x" in out and "4x" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("autocast_", "search_"))}
    assert rows["autocast_bf16"].endswith("chosen") and rows["search_int8"].endswith("no")
    assert rows["autocast_fp16"].endswith("faster, not used")  # fast, but auto only ever takes bf16
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["auto_precision"] == "bf16" and data["auto_search"] == "fp32" and data["cpu"] == "Test CPU"
