"""Bad command lines end as one ``sycl <cmd>: error: ...`` line with exit status 2, before any real work.

Each case used to end in a raw traceback (exit 1), some of them only after encoding, generating
or training: an ``--out`` that is an existing file, a ``--config`` that is a folder, a malformed
``--set`` value, and a passage length above what the model's position embeddings hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sycl
import sycl.evaluation.evaluator  # noqa: F401
from sycl.cli import build_parser, main
from sycl.modeling.encoder import BiEncoder

build_parser()  # imports what every command's flags need, so the timing below is the command's alone


def _sycl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command in a child process, importing this checkout's sycl (whatever the working folder)."""
    src = str(Path(sycl.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "sycl.cli", "-q", *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=env
    )


def _one_error_line(err: str, command: str) -> str:
    """The one line of ``err`` saying ``sycl <command>: error:``; no traceback anywhere."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"sycl {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def out_file(tmp_path) -> Path:
    path = tmp_path / "taken.txt"
    path.write_text("an existing file\n")
    return path


def _train_args(data: Path) -> list[str]:
    return ["--set", f"data.sources=[{{path: {data}, qrels: test}}]", "--epochs", "1", "--batch-size", "2"]


@pytest.mark.parametrize("command", ["evaluate", "generate", "train", "report"])
def test_out_naming_an_existing_file(command, tiny_beir, out_file, tmp_path, capsys, monkeypatch):
    data = tiny_beir()
    args = {
        "evaluate": ["evaluate", "-d", str(data), "--out", str(out_file)],
        "generate": ["generate", "--queries", str(data / "queries.jsonl"), "--backend", "embedded"],
        "train": ["train", *_train_args(data)],
        "report": ["report", str(tmp_path)],
    }[command]
    if command != "evaluate":
        args += ["--out", str(out_file)]

    def no_model(*a, **kw):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(BiEncoder, "from_pretrained", no_model)
    t0 = time.perf_counter()
    assert main(["-q", *args]) == 2
    seconds = time.perf_counter() - t0
    line = _one_error_line(capsys.readouterr().err, command)
    assert str(out_file) in line and "existing file" in line
    assert out_file.read_text() == "an existing file\n"
    if command == "evaluate":  # it used to encode and search every data set first
        assert seconds < 1.0


@pytest.mark.parametrize("command", ["train", "generate", "run"])
def test_config_naming_a_folder(command, tmp_path, capsys):
    folder = tmp_path / "configs"
    folder.mkdir()
    args = [command, str(folder)] if command == "run" else [command, "--config", str(folder)]
    assert main(["-q", *args]) == 2
    line = _one_error_line(capsys.readouterr().err, command)
    assert str(folder) in line and "folder" in line


@pytest.mark.parametrize("command", ["train", "generate", "run"])
def test_malformed_set_value(command, tmp_path, capsys):
    args = [command, str(tmp_path / "x.yaml")] if command == "run" else [command]
    assert main(["-q", *args, "--set", "k=[1,2"]) == 2
    line = _one_error_line(capsys.readouterr().err, command)
    assert "--set k=[1,2" in line and "YAML" in line


def test_the_real_command_exits_2_with_one_line(tmp_path):
    """The same in a child process: the exit status a shell sees, and nothing but the one line."""
    done = _sycl("train", "--config", str(tmp_path), "--set", "k=[1,2", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == _one_error_line(done.stderr, "train")


def test_passage_length_above_the_models_positions_fails_before_training(tiny_beir, tmp_path, capsys):
    """The embedded MiniLM holds 512 positions; 1024 used to train until a long passage came (RuntimeError)."""
    out = tmp_path / "model"
    args = ["train", *_train_args(tiny_beir()), "--set", "model.max_passage_length=1024", "--out", str(out)]
    assert main(["-q", *args]) == 2
    line = _one_error_line(capsys.readouterr().err, "train")
    assert "max_passage_length 1024" in line and "512" in line
    assert not (out / "training_log.jsonl").exists()
