"""``train.schedule: warmup_decay`` against DeepSpeed's own ``WarmupDecayLR``, step by step."""

from __future__ import annotations

import math

import pytest
import torch

from sycl.training.config import TrainConfig
from sycl.training.schedules import WarmupDecayLR, resolve_schedule, warmup_decay_rate


def _optimizer(lr: float) -> torch.optim.Optimizer:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    groups = [{"params": [model.weight], "weight_decay": 0.01}, {"params": [model.bias], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def _train(optimizer, scheduler, steps: int) -> list[list[float]]:
    """Rates each optimiser step ran at (read before the step), over ``steps`` real AdamW steps."""
    rates, x = [], torch.randn(8, 4)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for _ in range(steps):
        rates.append([g["lr"] for g in optimizer.param_groups])
        loss = (x @ params[0].t() + params[1]).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    "warmup_type, warmup, total, min_lr, max_lr",
    [
        ("log", 99, 1977, 0.0, 1e-5),  # the paper's shape: ~5% of ~2k steps
        ("linear", 99, 1977, 0.0, 1e-5),
        ("log", 7, 40, 1e-6, 3e-4),
        ("linear", 1, 12, 0.0, 2e-5),  # one warm-up step: DeepSpeed takes at least 2
        ("log", 30, 20, 0.0, 1e-3),  # warm-up longer than the run
    ],
)
def test_rate_equals_deepspeeds_warmup_decay_lr_at_every_step(warmup_type, warmup, total, min_lr, max_lr):
    lr_schedules = pytest.importorskip("deepspeed.runtime.lr_schedules")
    steps = total + 5  # past the end: both hold at min_lr
    kw = dict(warmup_min_lr=min_lr, warmup_max_lr=max_lr, warmup_num_steps=warmup, warmup_type=warmup_type)
    ds_opt = _optimizer(max_lr)
    theirs = _train(ds_opt, lr_schedules.WarmupDecayLR(ds_opt, total_num_steps=total, **kw), steps)
    our_opt = _optimizer(max_lr)
    ours = _train(
        our_opt,
        WarmupDecayLR(
            our_opt, total_steps=total, max_lr=max_lr, warmup_steps=warmup, min_lr=min_lr, warmup_type=warmup_type
        ),
        steps,
    )
    assert len(ours) == len(theirs) == steps
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert len(a) == len(b) == 2
        for x, y in zip(a, b):
            assert abs(x - y) <= 1e-9 * max(max_lr, 1e-30), (step, x, y)
    # and the trained weights agree: the same rates drove the same AdamW
    for p, q in zip(
        (p for g in our_opt.param_groups for p in g["params"]), (p for g in ds_opt.param_groups for p in g["params"])
    ):
        assert torch.allclose(p, q, rtol=0, atol=1e-7)


def test_log_warmup_reaches_half_the_peak_after_sqrt_of_the_warmup_steps():
    kw = dict(min_lr=0.0, max_lr=1.0, warmup_steps=99, total_steps=1977)
    log = [warmup_decay_rate(i, warmup_type="log", **kw) for i in range(-1, 120)]
    linear = [warmup_decay_rate(i, warmup_type="linear", **kw) for i in range(-1, 120)]
    assert log[0] == 0.0 and log[1] == 0.0  # the first two optimiser steps run at warmup_min_lr
    first_half = next(t for t, r in enumerate(log) if r >= 0.5)
    assert first_half - 1 == math.ceil(math.sqrt(99)) - 1  # iteration 9: log(10) / log(99) > 0.5
    assert next(t for t, r in enumerate(linear) if r >= 0.5) > 45
    assert max(log) == pytest.approx(1.0) and log[100] == pytest.approx(1.0)


def test_resolve_schedule_matches_the_transformers_fill_of_the_auto_values():
    train = TrainConfig(lr=1e-5, warmup_ratio=0.05, schedule="warmup_decay")
    s = resolve_schedule(train, 1977)
    assert s.deepspeed_params() == {
        "warmup_min_lr": 0.0,
        "warmup_max_lr": 1e-5,
        "warmup_num_steps": math.ceil(0.05 * 1977),
        "total_num_steps": 1977,
        "warmup_type": "log",
    }
    assert resolve_schedule(TrainConfig(warmup_ratio=0.0, schedule="warmup_decay"), 10).warmup_steps == 1
    assert resolve_schedule(TrainConfig(warmup_ratio=0.0), 10).warmup_steps == 0  # linear: none
    sched = s.build(_optimizer(1e-5))
    assert isinstance(sched, WarmupDecayLR)
    linear = resolve_schedule(TrainConfig(lr=1e-5), 100).build(_optimizer(1e-5))
    assert not isinstance(linear, WarmupDecayLR)


def test_the_schedule_survives_a_checkpoint_round_trip():
    opt = _optimizer(1e-4)
    sched = WarmupDecayLR(opt, total_steps=50, max_lr=1e-4, warmup_steps=5)
    _train(opt, sched, 12)
    state = sched.state_dict()
    opt2 = _optimizer(1e-4)
    sched2 = WarmupDecayLR(opt2, total_steps=50, max_lr=1e-4, warmup_steps=5)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
