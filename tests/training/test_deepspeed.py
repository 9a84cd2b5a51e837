"""DeepSpeed: the shipped ZeRO-3 file resolved from the experiment, no autocast under a bf16 engine,
and ZeRO stages 1-3 under ``torchrun`` on CPU against plain single-process training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from tinyexp import experiment, make_graded_set, make_tiny_model

from sycl.io.errors import DataError
from sycl.training.config import TrainConfig
from sycl.training.deepspeed_config import engine_dtype, read_deepspeed_config, resolve_deepspeed_config
from sycl.training.schedules import resolve_schedule

REPO = Path(__file__).resolve().parents[2]
ZERO3 = REPO / "configs" / "paper" / "zero3.json"


# the paper's schedule over ~1,977 optimiser steps (506k queries / 256 per step)
PAPER_SCHEDULE = resolve_schedule(TrainConfig(lr=1e-5, warmup_ratio=0.05, schedule="warmup_decay"), 1977)


def _paper(**kw):
    """The paper's settings: 16 per device x 4 GPUs x accumulation 4, clipping 1.0, bf16, Contriever's width."""
    args = dict(
        micro_batch=16,
        accumulation=4,
        world_size=4,
        max_grad_norm=1.0,
        dtype=torch.bfloat16,
        hidden_size=768,
        schedule=PAPER_SCHEDULE,
        weight_decay=0.0,
        source=str(ZERO3),
    )
    args.update(kw)
    return resolve_deepspeed_config(read_deepspeed_config(ZERO3), **args)


def _autos(node) -> int:
    if isinstance(node, dict):
        return sum(_autos(v) for v in node.values())
    return int(node == "auto")


def test_shipped_zero3_is_resolved_from_the_experiment():
    raw = read_deepspeed_config(ZERO3)
    assert _autos(raw) > 0  # the file keeps the placeholders; they are filled at launch
    cfg = _paper()
    assert _autos(cfg) == 0
    assert (cfg["train_micro_batch_size_per_gpu"], cfg["gradient_accumulation_steps"], cfg["train_batch_size"]) == (
        16,
        4,
        256,
    )
    assert cfg["gradient_clipping"] == 1.0 and cfg["bf16"]["enabled"] is True and engine_dtype(cfg) == torch.bfloat16
    assert cfg["fp16"]["enabled"] is False
    zero = cfg["zero_optimization"]
    assert zero["stage"] == 3 and zero["reduce_bucket_size"] == 1e6  # the reference's value, kept
    assert (zero["stage3_prefetch_bucket_size"], zero["stage3_param_persistence_threshold"]) == (
        int(0.9 * 768 * 768),
        7680,
    )
    # the reference's optimizer and scheduler sections are checked against the trainer's, then left to it
    assert "optimizer" not in cfg and "scheduler" not in cfg
    fp32 = _paper(dtype=None, max_grad_norm=None)  # the paper's runs: no --bf16/--fp16, "auto" -> disabled
    assert fp32["bf16"]["enabled"] is False and fp32["fp16"]["enabled"] is False and engine_dtype(fp32) is None
    assert fp32["gradient_clipping"] == 0.0
    assert _paper(dtype=torch.float16)["fp16"]["enabled"] is True


def test_the_shipped_file_carries_the_reference_sections():
    raw = read_deepspeed_config(ZERO3)
    assert raw["optimizer"]["type"] == "AdamW" and raw["optimizer"]["params"]["torch_adam"] is True
    assert raw["scheduler"]["type"] == "WarmupDecayLR"
    assert set(raw["scheduler"]["params"]) == {"warmup_min_lr", "warmup_max_lr", "warmup_num_steps", "total_num_steps"}
    assert raw["fp16"]["enabled"] == raw["bf16"]["enabled"] == "auto"


@pytest.mark.parametrize(
    "edit, needle",
    [
        ({"optimizer": {"type": "Lamb"}}, "optimizer.type is 'Lamb'"),
        ({"optimizer": {"type": "AdamW", "params": {"lr": 3e-5}}}, "optimizer.params.lr is 3e-05 but the experiment"),
        ({"optimizer": {"type": "AdamW", "params": {"eps": 1e-6}}}, "optimizer.params.eps is 1e-06"),
        ({"optimizer": {"type": "AdamW", "params": {"amsgrad": True}}}, "optimizer.params.amsgrad: not an option"),
        ({"scheduler": {"type": "WarmupLR"}}, "scheduler.type is 'WarmupLR'"),
        (
            {"scheduler": {"type": "WarmupDecayLR", "params": {"warmup_type": "linear"}}},
            "scheduler.params.warmup_type is 'linear' but the experiment gives 'log'",
        ),
        (
            {"scheduler": {"type": "WarmupDecayLR", "params": {"total_num_steps": 500}}},
            "scheduler.params.total_num_steps is 500 but the experiment gives 1977",
        ),
    ],
)
def test_optimizer_and_scheduler_sections_must_agree_with_the_experiment(edit, needle):
    with pytest.raises(DataError) as err:
        _paper_with(edit)
    assert needle in err.value.problem


def test_a_warmup_decay_section_needs_the_warmup_decay_schedule():
    linear = resolve_schedule(TrainConfig(lr=1e-5, schedule="linear"), 1977)
    with pytest.raises(DataError, match="set train.schedule: warmup_decay"):
        _paper(schedule=linear)
    explicit = {"scheduler": {"type": "WarmupDecayLR", "params": {**PAPER_SCHEDULE.deepspeed_params()}}}
    assert "scheduler" not in _paper_with(explicit)  # explicit values equal to the run's are accepted


def _paper_with(edit):
    raw = {**read_deepspeed_config(ZERO3), **edit}
    return resolve_deepspeed_config(
        raw,
        micro_batch=16,
        accumulation=4,
        world_size=4,
        max_grad_norm=1.0,
        dtype=None,
        hidden_size=768,
        schedule=PAPER_SCHEDULE,
        source="z.json",
    )


@pytest.mark.parametrize(
    "edit, needle",
    [
        ({"train_micro_batch_size_per_gpu": 8}, "train_micro_batch_size_per_gpu is 8 but the experiment gives 16"),
        (
            {"bf16": {"enabled": True}},
            "bf16.enabled is True but the experiment gives False (train.precision resolves to fp32)",
        ),
        (
            {"zero_optimization": {"stage": 3, "sub_group_size": "auto"}},
            'cannot resolve "auto" for zero_optimization.sub_group_size',
        ),
    ],
)
def test_contradictions_and_unresolvable_values_name_the_key(edit, needle):
    with pytest.raises(DataError) as err:
        _paper_with(edit)
    assert err.value.path == "z.json" and needle in err.value.problem


@pytest.mark.parametrize("section", ["optimizer", "scheduler"])
def test_a_section_without_the_trainers_schedule_to_check_it_against_is_an_error(section):
    raw = read_deepspeed_config(ZERO3)
    raw.pop("scheduler" if section == "optimizer" else "optimizer")
    with pytest.raises(DataError, match=f"'{section}': the trainer builds"):
        resolve_deepspeed_config(
            raw, micro_batch=16, accumulation=4, world_size=1, max_grad_norm=1.0, dtype=None, source="z.json"
        )


def test_malformed_json_names_the_line(tmp_path):
    bad = tmp_path / "z.json"
    bad.write_text('{\n  "bf16": {"enabled": true},\n  "zero_optimization": {"stage": 3,}\n}\n')
    with pytest.raises(DataError) as err:
        read_deepspeed_config(bad)
    assert err.value.line == 3


def test_deepspeeds_own_config_class_reads_the_resolved_file():
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.config import DeepSpeedConfig

    # unresolved, DeepSpeed reads "auto" as bf16 disabled, silently: the reason for resolving first
    raw = read_deepspeed_config(ZERO3)
    raw.update(train_micro_batch_size_per_gpu=1, gradient_accumulation_steps=1, train_batch_size=1)
    assert DeepSpeedConfig(raw).bfloat16_config.enabled is False
    ds = DeepSpeedConfig(_paper(world_size=1))  # DeepSpeedConfig sees one process outside a process group
    assert ds.bfloat16_config.enabled is True and ds.zero_optimization_stage == 3
    assert (ds.train_micro_batch_size_per_gpu, ds.gradient_accumulation_steps, ds.train_batch_size) == (16, 4, 64)
    assert ds.gradient_clipping == 1.0 and ds.zero_config.overlap_comm is True
    # the bucket sizes of the transformers-style ZeRO-3 files follow the encoder's width
    raw = read_deepspeed_config(ZERO3)
    raw["zero_optimization"].update(
        {k: "auto" for k in ("reduce_bucket_size", "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold")}
    )
    zero = DeepSpeedConfig(
        resolve_deepspeed_config(
            raw,
            micro_batch=16,
            accumulation=4,
            world_size=1,
            max_grad_norm=1.0,
            dtype=torch.bfloat16,
            hidden_size=768,
            schedule=PAPER_SCHEDULE,
        )
    ).zero_config
    assert (zero.reduce_bucket_size, zero.prefetch_bucket_size, zero.param_persistence_threshold) == (
        768 * 768,
        int(0.9 * 768 * 768),
        7680,
    )


class _Bf16Engine:
    """Stands in for an engine that already runs the model in bf16 (DeepSpeed with bf16 enabled)."""

    model_dtype = torch.bfloat16


def test_no_autocast_around_the_forward_of_an_engine_that_runs_bf16(tmp_path, monkeypatch):
    from sycl.training import Trainer
    from sycl.training.config import ExperimentConfig

    data, model = make_graded_set(tmp_path / "data", n_queries=4), make_tiny_model(tmp_path / "model")
    cfg = ExperimentConfig.model_validate(experiment(data, model, tmp_path / "out", precision="bf16"))
    trainer = Trainer(cfg)
    trainer.prepare()
    seen = []
    embed = trainer.model.embed
    monkeypatch.setattr(
        trainer.model, "embed", lambda *a, **k: seen.append(torch.is_autocast_enabled("cpu")) or embed(*a, **k)
    )
    trainer.forward_batch(torch.arange(2).numpy())
    assert seen == [True, True]  # the plain engine: bf16 autocast as the experiment asks
    seen.clear()
    trainer.engine = _Bf16Engine()
    trainer.forward_batch(torch.arange(2).numpy())
    assert seen == [False, False]


@pytest.mark.slow
@pytest.mark.parametrize("stage, precision", [(1, "fp32"), (2, "fp32"), (3, "fp32"), (3, "bf16")])
def test_zero_stages_under_torchrun_match_single_process_training(stage, precision, tmp_path):
    """Two CPU processes (DeepSpeed's CPU accelerator, gloo) with ZeRO-``stage`` against one plain fp32 process.

    In fp32 the losses, gradient norms and weights match; with bf16 DeepSpeed runs the model in
    bf16 (no autocast on top) and the losses stay within bf16 rounding of fp32's.

    The first run on a machine JIT-compiles DeepSpeed's shared-memory communication op (minutes;
    cached under ~/.cache/torch_extensions afterwards).
    """
    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file
    from test_train_distributed import torchrun

    from sycl.cli import main

    data, model = make_graded_set(tmp_path / "data", n_queries=8), make_tiny_model(tmp_path / "model", dropout=0.0)
    ds = tmp_path / "zero.json"
    ds.write_text(
        json.dumps({"bf16": {"enabled": "auto"}, "zero_optimization": {"stage": stage, "reduce_bucket_size": "auto"}})
    )
    cfg = experiment(data, model, tmp_path / "ds", batch_size=2, max_steps=2)
    cfg["loss"] = {"name": "kl", "temperature": 0.5, "in_batch": "lowest"}
    cfg["train"]["deepspeed"] = str(ds)
    cfg["train"]["precision"] = precision
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    torchrun("-m", "sycl.cli", "-q", "train", "--config", tmp_path / "exp.yaml", cwd=tmp_path)
    assert (
        main(
            [
                "-q",
                "train",
                "--config",
                str(tmp_path / "exp.yaml"),
                "--out",
                str(tmp_path / "plain"),
                "--batch-size",
                "4",
                "--set",
                "train.deepspeed=null",
                "--precision",
                "fp32",
            ]
        )
        == 0
    )
    logs = {
        n: [json.loads(x) for x in (tmp_path / n / "training_log.jsonl").read_text().splitlines()]
        for n in ("ds", "plain")
    }
    assert [r["step"] for r in logs["ds"]] == [1, 2]
    info = json.loads((tmp_path / "ds" / "training.json").read_text())
    assert info["world_size"] == 2 and info["precision"] == {"fp32": "fp32", "bf16": "bfloat16"}[precision]
    if precision == "bf16":
        for a, b in zip(logs["ds"], logs["plain"]):
            assert a["loss"] == pytest.approx(b["loss"], rel=2e-2) and a["loss"] != b["loss"]
        return
    for a, b in zip(logs["ds"], logs["plain"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5) and math.isfinite(a["grad_norm"])
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    w_ds, w_plain = (
        load_file(str(tmp_path / "ds" / "model.safetensors")),
        load_file(str(tmp_path / "plain" / "model.safetensors")),
    )
    assert w_ds.keys() == w_plain.keys()
    for k in w_plain:
        torch.testing.assert_close(w_ds[k], w_plain[k], rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_the_papers_zero3_file_under_torchrun_runs_the_warmup_decay_schedule(tmp_path):
    """The shipped file with its optimizer and scheduler sections, two CPU processes, ZeRO-3 in fp32:
    the rates DeepSpeed steps through are WarmupDecayLR's, and the weights are saved in fp32."""
    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file
    from test_train_distributed import torchrun

    from sycl.training.schedules import warmup_decay_rate

    data, model = make_graded_set(tmp_path / "data", n_queries=16), make_tiny_model(tmp_path / "model", dropout=0.0)
    cfg = experiment(data, model, tmp_path / "ds", batch_size=1, max_steps=8)
    cfg["loss"] = {"name": "ws2"}
    cfg["train"].update(
        deepspeed=str(ZERO3), precision="fp32", schedule="warmup_decay", warmup_ratio=0.5, lr=1e-4, weight_decay=0.0
    )
    cfg["train"]["log_every"] = 1
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    torchrun("-m", "sycl.cli", "-q", "train", "--config", tmp_path / "exp.yaml", cwd=tmp_path)
    log = [json.loads(x) for x in (tmp_path / "ds" / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 9))
    kw = dict(min_lr=0.0, max_lr=1e-4, warmup_steps=4, total_steps=8, warmup_type="log")
    # the rate logged after step t is the one the next step runs at: DeepSpeed's iteration t - 1
    assert [r["lr"] for r in log] == pytest.approx([warmup_decay_rate(t - 1, **kw) for t in range(1, 9)], abs=1e-12)
    weights = load_file(str(tmp_path / "ds" / "model.safetensors"))
    assert {w.dtype for w in weights.values()} == {torch.float32}
