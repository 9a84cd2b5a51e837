import json

from probe_verdicts import make_verdict

from sycl.cli import build_parser
from sycl.commands.info import run
from sycl.kernels.probe import KernelState


def test_info_shows_cpu_choices_and_ratios(capsys):
    kernels = KernelState(make_verdict(autocast_bf16=4.0, search_int8=0.0005, autocast_fp16=2.0))
    assert run(build_parser().parse_args(["info"]), kernels) == 0
    out = capsys.readouterr().out
    assert "CPU: Test CPU" in out and "precision auto (encoding, training) -> bf16" in out
    assert "search precision auto               -> fp32" in out and "0.0005x" in out and "4x" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("autocast_", "search_"))}
    assert rows["autocast_bf16"].endswith("chosen") and rows["search_int8"].endswith("no")
    assert rows["autocast_fp16"].endswith("faster, not used")  # fast, but auto only ever takes bf16
    assert run(build_parser().parse_args(["info", "--json"]), kernels) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["auto_precision"] == "bf16" and data["auto_search"] == "fp32" and data["cpu"] == "Test CPU"
