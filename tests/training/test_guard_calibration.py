"""The collapse guard's default bounds, replayed on stored training logs of runs whose outcome is known.

``guard_logs/`` holds the ``training_log.jsonl`` of real runs (embedded all-MiniLM-L6-v2, batch 16,
every statistic logged every 5 steps), made with::

    python benchmarks/listwise_recipes.py --dataset cranfield --seeds 1 \\
        --recipes infonce infonce-t1 w1d-sharp-lowest --out runs/guard
    python benchmarks/listwise_recipes.py --dataset scifact --seeds 1 --train-only \\
        --recipes ws2-paper infonce w1d-sharp-lowest --out runs/guard-sf

The guard must stay silent on the runs whose nDCG@10 held and warn on the ones that collapsed, with
the advice of the loss in use. Outcomes (nDCG@10, seed 1; Cranfield: the test half; zero-shot 0.4947
on Cranfield, 0.6452 on SciFact, this machine):
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sycl.training.config import GuardConfig
from sycl.training.guard import CollapseGuard

LOGS = Path(__file__).parent / "guard_logs"

# log file -> (registered loss, held?, outcome and where it was measured)
RUNS = {
    "cranfield-infonce-t0.05.jsonl": ("infonce", True, "0.4976 (zero-shot 0.4947); this run"),
    "cranfield-graded.jsonl": (
        "wasserstein1d",
        True,
        "the default recipe (graded); 0.5228 for the same recipe and seed in issue 18 (docs/RESULTS.md)",
    ),
    "cranfield-infonce-t1.jsonl": ("infonce", False, "0.4759, 1.9 below zero-shot; this run"),
    "scifact-infonce-t0.05.jsonl": (
        "infonce",
        True,
        "not evaluated here (--train-only); 0.6668 for the same recipe and seed in issue 18 (zero-shot 0.6476)",
    ),
    "scifact-graded.jsonl": (
        "wasserstein1d",
        True,
        "the default recipe; not evaluated here (--train-only); 0.6663 for the same recipe and seed in issue 18",
    ),
    "scifact-ws2-paper.jsonl": (
        "ws2",
        False,
        "not evaluated here (--train-only); the same recipe and seed scored 0.5982 against 0.6476 zero-shot "
        "(docs/RESULTS.md, issue 18)",
    ),
}


def replay(name: str) -> list[str | None]:
    loss = RUNS[name][0]
    records = [json.loads(line) for line in (LOGS / name).read_text().splitlines() if line.strip()]
    messages = CollapseGuard(GuardConfig(every=5), loss).replay(records)
    assert len(messages) >= 5, f"{name}: too few checks to judge"
    return messages


@pytest.mark.parametrize("name", [n for n, (_, held, _) in RUNS.items() if held])
def test_silent_on_runs_that_held(name):
    assert [m for m in replay(name) if m] == []


@pytest.mark.parametrize("name", [n for n, (_, held, _) in RUNS.items() if not held])
def test_warns_on_runs_that_collapsed(name):
    messages = replay(name)
    assert sum(m is not None for m in messages) >= len(messages) // 2, messages
    knob = "loss.temperature" if RUNS[name][0] == "infonce" else "loss.label_temperature"
    assert all(knob in m for m in messages if m)


def test_the_stored_logs_are_the_ones_listed():
    assert sorted(p.name for p in LOGS.glob("*.jsonl")) == sorted(RUNS)
