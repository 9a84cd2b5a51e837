"""``sycl run`` and ``sycl quickstart`` check every stage's inputs before the first stage runs.

A missing evaluation data set (``sycl quickstart --eval /missing``, or a wrong path in an
experiment file's ``evaluate:``) used to be found only after generating, mining and training.
"""

from __future__ import annotations

import pytest
import yaml

import sycl.generation
import sycl.mining
import sycl.training
from sycl.cli import main


@pytest.fixture
def no_stage_runs(monkeypatch):
    """Every stage's work fails the test if it starts."""

    def started(*args, **kwargs):
        raise AssertionError("a stage ran before the inputs were checked")

    for module, name in ((sycl.generation, "generate"), (sycl.mining, "mine"), (sycl.training, "train")):
        monkeypatch.setattr(module, name, started)


def _error_line(err: str, command: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"sycl {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_quickstart_with_a_missing_eval_folder_fails_before_generating(tmp_path, no_stage_runs, capsys):
    missing, out = tmp_path / "no-such-beir", tmp_path / "qs"
    assert main(["-q", "quickstart", "--eval", str(missing), "--out", str(out)]) == 2
    line = _error_line(capsys.readouterr().err, "quickstart")
    assert f"{missing}: not found" in line and "nothing was run" in line
    assert not out.exists()


def test_run_names_every_missing_input_before_the_first_stage(tiny_beir, tmp_path, no_stage_runs, capsys):
    data = tiny_beir()
    queries = tmp_path / "queries.tsv"
    queries.write_text("q0\thow do bees fly\n")
    experiment = {
        "name": "late",
        "out": str(tmp_path / "run"),
        "generate": {"queries": str(queries), "backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        "holdout": {"fraction": 0.3},
        "mine": {"dataset": str(tmp_path / "no-mine-set"), "split": "test"},
        "train": {"a": {"data": {"sources": [{"path": "{data}"}, {"path": str(data), "qrels": "dev"}]}}},
        "evaluate": {"datasets": ["{heldout}", str(data), str(tmp_path / "no-eval-set")]},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment))
    assert main(["-q", "run", str(path)]) == 2
    line = _error_line(capsys.readouterr().err, "run")
    assert f"{tmp_path / 'no-mine-set'}: not found (mine.dataset)" in line
    assert "train.a.data.sources[1]" in line and "unknown split 'dev'" in line
    assert f"{tmp_path / 'no-eval-set'}: not found" in line
    assert "evaluate.datasets[1]" not in line  # the evaluation set that is there
    assert not (tmp_path / "run").exists()
