"""Every derived flag of every subcommand matches its field: name, type, choices, default and help.

The config models are the one definition of each option; this walks the real parsers and checks
that nothing was restated by hand (a hand-written flag that shadows a field, a choice list or a
default that drifted from the model).
"""

from __future__ import annotations

import argparse
import typing

import pytest
from pydantic_core import PydanticUndefined

from sycl.cli import COMMANDS, build_parser
from sycl.config import FLAG_PREFIX, _plain, field_at, field_default, flag_values


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _derived(parser):
    return [a for a in parser._actions if a.dest.startswith(FLAG_PREFIX)]


def test_every_command_is_walked():
    assert set(_subparsers()) == set(COMMANDS)


@pytest.mark.parametrize("name", [c for c in COMMANDS if c not in ("validate", "info")])
def test_derived_flags_match_their_fields(name):
    parser = _subparsers()[name]
    model = parser.get_default("config_model")
    actions = _derived(parser)
    assert model is not None and actions, f"sycl {name} derives no flag from a config model"
    for action in actions:
        key = action.dest[len(FLAG_PREFIX) :]
        info, annotation = field_at(model, key)  # the flag names a real field
        ann = _plain(annotation)
        assert action.default is argparse.SUPPRESS  # absent flags leave the file's value alone
        if typing.get_origin(ann) is typing.Literal:
            assert list(action.choices) == list(typing.get_args(ann)), key
        elif ann is bool:
            assert isinstance(action, argparse.BooleanOptionalAction), key
        elif ann in (int, float, str):
            assert action.type is ann, key
        if info.description:
            assert info.description.replace("%", "%%") in action.help, key
        default = field_default(info)
        if default not in (None, PydanticUndefined) and not isinstance(default, (list, dict)):
            assert f"(default: {default})" in action.help or f"default: {default}" == action.help, key


@pytest.mark.parametrize("name", [c for c in COMMANDS if c not in ("validate", "info")])
def test_no_hand_written_flag_shadows_a_field(name):
    parser = _subparsers()[name]
    model = parser.get_default("config_model")
    derived = {a.dest[len(FLAG_PREFIX) :].split(".")[-1] for a in _derived(parser)}
    for action in parser._actions:
        if action.dest.startswith(FLAG_PREFIX) or not action.option_strings:
            continue
        if action.dest in model.model_fields and action.dest not in ("out",):
            pytest.fail(f"sycl {name}: --{action.dest} is written by hand but is a field of {model.__name__}")
        assert action.dest not in derived


def test_flags_set_fields_directly_with_their_types():
    parser = build_parser()
    args = parser.parse_args(
        [
            "generate",
            "--out",
            "runs/m #1",
            "--concurrency",
            "8",
            "--temperature",
            "0.2",
            "--no-filter-inconsistent",
            "--mode",
            "per-level",
        ]
    )
    values = flag_values(args)
    assert values == {
        "out": __import__("pathlib").Path("runs/m #1"),
        "concurrency": 8,
        "sampling.temperature": 0.2,
        "filter_inconsistent": False,
        "mode": "per-level",
    }
    args = parser.parse_args(["train", "--config", "x.yaml", "--lr", "1e-5", "--loss", "ws2", "--out", "runs/m #1"])
    assert flag_values(args) == {"train.lr": 1e-5, "loss.name": "ws2", "out": "runs/m #1"}
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "--dataset", "d", "--out", "o", "--precision", "fp8"])


def test_generate_help_states_the_models_default(capsys):
    from sycl.generation.config import GenerationConfig

    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"(default: {GenerationConfig().batch_size})" in out  # no restated 'default 32'
