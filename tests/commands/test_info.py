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


def test_info_shows_the_encoder_path_and_why(capsys, monkeypatch):
    from sycl.kernels import openvino_encoder

    monkeypatch.setattr(openvino_encoder, "available", lambda: True)
    kernels = KernelState(make_verdict(autocast_bf16=3.0, encode_torch_bf16=1.5, encode_openvino=2.0))
    assert run(build_parser().parse_args(["info"]), kernels) == 0
    out = capsys.readouterr().out
    assert "encode_backend auto (retrieval)     -> openvino (OpenVINO 1.33x the speed of torch bf16" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("encode_")}
    assert rows["encode_openvino"].endswith("chosen") and not rows["encode_torch_bf16"].endswith("chosen")
    assert run(build_parser().parse_args(["info", "--json"]), kernels) == 0
    assert json.loads(capsys.readouterr().out)["auto_encoder"] == "openvino"
    monkeypatch.setattr(openvino_encoder, "available", lambda: False)
    assert run(build_parser().parse_args(["info"]), kernels) == 0
    assert "encode_backend auto (retrieval)     -> torch (openvino is not installed)" in capsys.readouterr().out
