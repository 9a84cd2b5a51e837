"""Experiment files: strict pydantic validation naming keys, YAML errors, command-line overrides."""

from __future__ import annotations

from typing import Literal

import pytest

from sycl.config import StrictModel, apply_overrides, load, parse_override
from sycl.io import DataError


class Loss(StrictModel):
    name: Literal["ws2", "infonce"] = "ws2"
    temperature: float = 1.0


class Train(StrictModel):
    lr: float = 1e-5
    epochs: int = 1
    loss: Loss = Loss()


class Experiment(StrictModel):
    name: str
    train: Train = Train()
    tags: list[str] = []


def _yaml(tmp_path, text):
    p = tmp_path / "exp.yaml"
    p.write_text(text)
    return p


def test_file_values_and_defaults(tmp_path):
    cfg = load(Experiment, _yaml(tmp_path, "name: run1\ntrain:\n  lr: 2.0e-5\n  loss: {name: infonce}\n"))
    assert cfg.name == "run1" and cfg.train.lr == 2e-5 and cfg.train.loss.name == "infonce"
    assert cfg.train.epochs == 1 and cfg.train.loss.temperature == 1.0


def test_unknown_key_is_named(tmp_path):
    p = _yaml(tmp_path, "name: r\ntrain:\n  loss:\n    temprature: 0.5\n")
    with pytest.raises(DataError) as info:
        load(Experiment, p)
    msg = str(info.value)
    assert str(p) in msg and "train.loss.temprature: unknown key" in msg


def test_wrong_type_is_named(tmp_path):
    p = _yaml(tmp_path, "name: r\ntrain:\n  epochs: many\n  loss: {name: mse}\n")
    with pytest.raises(DataError) as info:
        load(Experiment, p)
    msg = str(info.value)
    assert "train.epochs:" in msg and "integer" in msg
    assert "train.loss.name:" in msg and "'ws2' or 'infonce'" in msg


def test_missing_required_key(tmp_path):
    with pytest.raises(DataError, match=r"name: Field required"):
        load(Experiment, _yaml(tmp_path, "train: {}\n"))


def test_yaml_syntax_error_names_line(tmp_path):
    p = _yaml(tmp_path, "name: r\ntrain:\n  lr: [1, 2\n  epochs: 3\n")
    with pytest.raises(DataError, match="invalid YAML") as info:
        load(Experiment, p)
    assert info.value.path == str(p) and info.value.line is not None and info.value.line >= 3


def test_bad_file_shapes(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load(Experiment, tmp_path / "missing.yaml")
    with pytest.raises(DataError, match="top level of an experiment file must be a mapping"):
        load(Experiment, _yaml(tmp_path, "- a\n- b\n"))


def test_cli_overrides_win_over_file(tmp_path):
    p = _yaml(tmp_path, "name: r\ntrain:\n  lr: 2.0e-5\n  epochs: 3\n")
    cfg = load(Experiment, p, ["train.lr=5e-6", "train.loss.temperature=0.05", "tags=[a, b]"])
    assert cfg.train.lr == 5e-6 and cfg.train.epochs == 3 and cfg.train.loss.temperature == 0.05
    assert cfg.tags == ["a", "b"]
    # mapping overrides (derived flags): typed values set as they are, never parsed again
    cfg = load(Experiment, p, {"train.epochs": 7, "name": "runs/m #1"})
    assert cfg.train.epochs == 7 and cfg.train.lr == 2e-5 and cfg.name == "runs/m #1"


def test_overrides_are_validated_like_the_file(tmp_path):
    p = _yaml(tmp_path, "name: r\n")
    with pytest.raises(DataError, match="train.epochs:"):
        load(Experiment, p, ["train.epochs=lots"])
    with pytest.raises(DataError, match="train.epochz: unknown key"):
        load(Experiment, p, ["train.epochz=2"])
    with pytest.raises(ValueError, match="key.path=value"):
        load(Experiment, p, ["train.epochs"])


def test_overrides_without_file():
    cfg = load(Experiment, None, ["name=cli", "train.loss.name=infonce"])
    assert cfg.name == "cli" and cfg.train.loss.name == "infonce"


def test_parse_and_apply_override_do_not_mutate():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=") == (["a"], "")
    data = {"a": {"b": 1}}
    out = apply_overrides(data, ["a.b=2", "a.c.d=x"])
    assert out == {"a": {"b": 2, "c": {"d": "x"}}} and data == {"a": {"b": 1}}


def test_assignment_is_validated():
    cfg = Experiment(name="x")
    with pytest.raises(Exception):
        cfg.train.epochs = "not a number"
