"""``--set`` has one precedence in every command that takes it: file < ``--set`` < flag.

Each case parses a real command line and resolves its config the way the command does
(``resolve_config``), without running the stage: a ``--set`` alone changes the setting, and a
flag for the same setting (or for a field inside a section that ``--set`` replaces) wins.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from sycl.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
TRAIN = str(REPO / "configs/local/cranfield-kl.yaml")
RUN = str(REPO / "configs/run/local-embedded.yaml")

# command -> (its arguments before the overrides, the --set item, the flag, how to read the setting, set, flag value)
CASES = {
    "generate": (["generate"], "seed=4", ["--seed", "3"], lambda c: c.seed, 4, 3),
    "train": (["train", "--config", TRAIN], "train.lr=0.02", ["--lr", "0.01"], lambda c: c.train.lr, 0.02, 0.01),
    "run": (["run", RUN], "seed=4", ["--seed", "3"], lambda c: c.seed, 4, 3),
}


def _commands_with_set() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name for name, p in sub.choices.items() if any("--set" in a.option_strings for a in p._actions)}


def _resolve(argv: list[str]):
    args = build_parser().parse_args(argv)
    return importlib.import_module(f"sycl.commands.{args.command}").resolve_config(args)


def test_every_command_with_set_is_checked():
    assert _commands_with_set() == set(CASES)


@pytest.mark.parametrize("command", sorted(CASES))
def test_a_flag_beats_set_for_the_same_field(command):
    base, item, flag, read, set_value, flag_value = CASES[command]
    assert read(_resolve(base)) not in (set_value, flag_value)  # the file's own value differs from both
    assert read(_resolve([*base, "--set", item])) == set_value
    assert read(_resolve([*base, *flag, "--set", item])) == flag_value
    assert read(_resolve([*base, "--set", item, *flag])) == flag_value  # the order on the line does not matter


def test_a_flag_beats_set_of_the_section_that_holds_it():
    cfg = _resolve(["generate", "--temperature", "0.5", "--set", "sampling={temperature: 0.9, top_p: 0.8}"])
    assert (cfg.sampling.temperature, cfg.sampling.top_p) == (0.5, 0.8)
    cfg = _resolve(["train", "--config", TRAIN, "--lr", "0.01", "--set", "train={lr: 0.02, epochs: 7}"])
    assert (cfg.train.lr, cfg.train.epochs) == (0.01, 7)
