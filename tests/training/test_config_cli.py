"""Experiment files: errors naming keys, the default recipe, shipped configs, ``sycl train`` overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tinyexp import experiment, make_graded_set, make_tiny_model

from sycl.cli import main
from sycl.io.errors import DataError
from sycl.training import DEFAULT_RECIPE, load_experiment

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, data) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_errors_name_the_keys(tmp_path):
    bad = {
        "data": {"sources": [{"path": "x", "min_scor": 1}]},
        "train": {"lr": -1, "batchsize": 3},
        "loss": {"name": "lambdaloss", "label_temperature": 0.1},
    }
    with pytest.raises(DataError) as err:
        load_experiment(write(tmp_path, bad))
    text = str(err.value)
    assert "exp.yaml" in text
    for needle in (
        "data.sources.0.min_scor: unknown key",
        "train.lr",
        "train.batchsize: unknown key",
        "loss: Value error, loss 'lambdaloss' has no option 'label_temperature'",
    ):
        assert needle in text
    with pytest.raises(DataError, match="loss.*unknown loss or recipe 'w2'; available: graded, infonce"):
        load_experiment(write(tmp_path, {"data": {"sources": [{"path": "x"}]}, "loss": "w2"}))


def test_loss_defaults_and_shortcuts(tmp_path):
    p = write(tmp_path, {"data": {"sources": [{"path": "x"}]}})
    default = load_experiment(p).loss
    assert default.name == DEFAULT_RECIPE == "graded" and default.loss_name == "wasserstein1d"
    assert default.resolved_options("cosine") == {"temperature": 0.05, "label_temperature": 0.1, "in_batch": "lowest"}
    paper = load_experiment(p, ["loss.name=ws2"]).loss  # the paper's loss with its own defaults
    assert paper.explicit_options() == {} and paper.resolved_options("dot") == {"temperature": 1.0}
    tuned = load_experiment(p, ["loss.in_batch=exclude"]).loss  # a section without a name adjusts the recipe
    assert tuned.name == "graded" and tuned.resolved_options("cosine")["label_temperature"] == 0.1
    assert tuned.resolved_options("cosine")["in_batch"] == "exclude"


def test_default_recipe_by_name_equals_the_default(tmp_path):
    """``--loss graded`` is the default recipe; ``--loss wasserstein1d`` is the bare loss at its own defaults."""
    p = write(tmp_path, {"data": {"sources": [{"path": "x"}]}})
    named = load_experiment(p, ["loss.name=graded"]).loss
    assert named.resolved_options("cosine") == load_experiment(p).loss.resolved_options("cosine")
    bare = load_experiment(p, ["loss.name=wasserstein1d"]).loss.build("cosine")
    recipe = named.build("cosine")
    assert (bare.target.label_temperature, bare.target.in_batch) == (1.0, "zero")
    assert (recipe.target.label_temperature, recipe.target.in_batch) == (0.1, "lowest")


@pytest.mark.parametrize("similarity,expected", [("cosine", 0.05), ("dot", 1.0)])
@pytest.mark.parametrize("name", ["infonce", "ws2", "kl", "wasserstein1d", "lambdaloss", "graded"])
def test_temperature_follows_the_similarity(tmp_path, name, similarity, expected):
    p = write(tmp_path, {"data": {"sources": [{"path": "x"}]}, "loss": name})
    assert load_experiment(p).loss.build(similarity).temperature == expected
    explicit = load_experiment(p, ["loss.temperature=0.2"]).loss
    assert explicit.build(similarity).temperature == 0.2


def test_option_the_loss_does_not_take_is_an_error(tmp_path):
    p = write(tmp_path, {"data": {"sources": [{"path": "x"}]}, "loss": {"name": "infonce", "label_temperature": 0.1}})
    with pytest.raises(DataError, match="loss 'infonce' has no option 'label_temperature'"):
        load_experiment(p)


EXPERIMENTS = sorted([*(REPO / "configs" / "paper").glob("*.yaml"), *(REPO / "configs" / "local").glob("*.yaml")])


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_configs_validate(path):
    cfg = load_experiment(path)
    assert cfg.data.sources and cfg.loss.build() is not None


def test_cli_flags_override_the_file(tmp_path):
    data, model = make_graded_set(tmp_path / "data", n_queries=6), make_tiny_model(tmp_path / "model")
    cfg = experiment(data, model, tmp_path / "from-file")
    cfg["loss"] = {"name": "kl", "temperature": 0.5}  # no list-wise option: --loss infonce takes the rest
    p = write(tmp_path, cfg)
    out = tmp_path / "cli-out"
    rc = main(
        [
            "-q",
            "train",
            "--config",
            str(p),
            "--out",
            str(out),
            "--lr",
            "0.01",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--loss",
            "infonce",
            "--seed",
            "9",
            "--set",
            "data.format=binary",
            "--set",
            "train.precision=bf16",
        ]
    )
    assert rc == 0
    info = json.loads((out / "training.json").read_text())
    t = info["config"]["train"]
    assert (t["lr"], t["max_steps"], t["batch_size"], t["seed"], t["precision"]) == (0.01, 1, 2, 9, "bf16")
    assert info["loss"] == "infonce" and info["config"]["data"]["format"] == "binary"
    assert info["label_counts"] == {"1": 18, "0": 6} and info["steps"] == 1
    assert not (tmp_path / "from-file").exists()


def test_cli_reports_bad_input_with_exit_2(tmp_path, capsys):
    p = write(tmp_path, {"data": {"sources": [{"path": str(tmp_path / "missing")}]}})
    assert main(["train", "--config", str(p)]) == 2
    assert "missing" in capsys.readouterr().err
