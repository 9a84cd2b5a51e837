"""``train.report_to``: TensorBoard, W&B (offline) and MLflow (local file store), read back with their own readers.

One training run on a tiny BERT logs to all three, is interrupted after step 3 (a callback
raises, as a crash would), and is resumed from its step-2 checkpoint. Each tracker must hold
every record of ``training_log.jsonl`` in one run that continues across the resume, the
experiment config as hyperparameters, and ``sycl run``'s evaluation.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from tinyexp import experiment, make_graded_set, make_tiny_model

from sycl.io.errors import DataError

pytest.importorskip("tensorboard")
pytest.importorskip("wandb")
pytest.importorskip("mlflow")

KEYS = ("loss", "lr", "grad_norm", "own_group_prob", "passage_mean_cos", "groups_per_s")


class Interrupted(Exception):
    pass


def stop_after_step_3(trainer, record):
    if trainer.step == 3:
        raise Interrupted


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """(output folder, training_log records, MLflow tracking URI) of an interrupted and resumed tracked run."""
    from sycl.config import validate
    from sycl.evaluation.config import EvaluationConfig
    from sycl.pipeline.runner import evaluate_model
    from sycl.training import train

    root = tmp_path_factory.mktemp("tracked")
    data, model = make_graded_set(root / "data"), make_tiny_model(root / "model")
    uri = f"file:{root / 'mlruns'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_PROJECT", "sycl-test")
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        cfg = experiment(
            data, model, root / "out", epochs=2, save_every=2, report_to=["tensorboard", "wandb", "mlflow"]
        )
        with pytest.raises(Interrupted):
            train(cfg, callbacks=[stop_after_step_3])
        first_ids = json.loads((root / "out" / "trackers.json").read_text())
        out = train(cfg, resume=True)
        assert json.loads((out / "trackers.json").read_text()) == first_ids  # the same runs continued
        evaluate_model(str(out), [str(data)], root / "eval", validate(EvaluationConfig, {}), trained=True)
    log = [json.loads(x) for x in (out / "training_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    return out, log, uri, metrics["results"][0]["measures"]["nDCG@10"]


def test_tensorboard_event_files_hold_every_record(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, log, _, ndcg = tracked
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    for key in KEYS:
        events = acc.Scalars(f"train/{key}")
        # the resumed run dropped the interrupted run's step 3 (purge) and logged it again
        assert [e.step for e in events] == [1, 2, 3, 4, 5, 6], key
        assert [e.value for e in events] == pytest.approx([r[key] for r in log], rel=1e-6, abs=1e-7), key
    (evaluation,) = [t for t in acc.Tags()["scalars"] if t.startswith("eval/")][:1]
    assert evaluation.endswith("/test/nDCG@10") and acc.Scalars(evaluation)[0].step == 6
    assert acc.Scalars(evaluation)[0].value == pytest.approx(ndcg, rel=1e-6)
    assert "experiment/text_summary" in acc.Tags()["tensors"]
    text = acc.Tensors("experiment/text_summary")[0].tensor_proto.string_val[0].decode()
    assert '"label_temperature": 0.5' in text


def wandb_records(path: Path) -> list:
    """The protobuf records of a W&B offline run file (a LevelDB-style log: 32 KiB blocks of CRC'd chunks)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B" and struct.unpack("<H", data[4:6])[0] == 0xBEE1
    records, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        block_left = 32768 - pos % 32768
        if block_left < 7:  # the rest of a block too short for a header is padding
            pos += block_left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_wandb_offline_runs_hold_every_record_in_one_run(tracked):
    out, log, _, ndcg = tracked
    run_id = json.loads((out / "trackers.json").read_text())["wandb"]
    runs = sorted((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 3  # the interrupted training, the resumed training, the evaluation
    history, config, ids = {}, {}, set()
    for run in runs:
        for record in wandb_records(next(run.glob("run-*.wandb"))):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                ids.add(record.run.run_id)
                config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
            elif kind == "config":
                config.update({i.key: json.loads(i.value_json) for i in record.config.update})
            elif kind == "history":
                row = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                history.setdefault(row["train/step"], {}).update(row)  # a step logged again replaces the first
    assert ids == {run_id}
    assert sorted(history) == [1, 2, 3, 4, 5, 6]
    for r in log:
        for key in KEYS:
            assert history[r["step"]][f"train/{key}"] == pytest.approx(r[key], rel=1e-9, abs=1e-12)
    assert config["train.lr"] == 1e-3 and config["loss.name"] == "kl"
    assert [v for k, v in history[6].items() if k.endswith("/test/nDCG@10")] == [pytest.approx(ndcg)]


def test_mlflow_run_holds_every_record_and_the_config(tracked):
    from mlflow import MlflowClient

    out, log, uri, ndcg = tracked
    run_id = json.loads((out / "trackers.json").read_text())["mlflow"]
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny"
    assert run.data.params["train.lr"] == "0.001" and run.data.params["train.report_to"] == (
        '["tensorboard", "wandb", "mlflow"]'
    )
    for key in KEYS:
        history = client.get_metric_history(run_id, f"train/{key}")
        last = {}
        for m in sorted(history, key=lambda m: m.timestamp):
            last[m.step] = m.value  # step 3 was logged before the interruption and again after the resume
        assert sorted(last) == [1, 2, 3, 4, 5, 6], key
        assert [last[r["step"]] for r in log] == pytest.approx([r[key] for r in log], rel=1e-9, abs=1e-12)
    (name,) = [k for k in run.data.metrics if k.startswith("eval/") and k.endswith("nDCG_at_10")]
    assert run.data.metrics[name] == pytest.approx(ndcg)
    experiments = [e.name for e in client.search_experiments()]
    assert "tiny" in experiments


def test_missing_tracker_package_stops_before_training(tmp_path, monkeypatch):
    import importlib.util

    from sycl.training import train

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    cfg = experiment(tmp_path / "no-data", tmp_path / "no-model", tmp_path / "out", report_to=["wandb"])
    with pytest.raises(DataError, match=r"report_to: wandb needs the wandb package.*sycl-ir\[wandb\]"):
        train(cfg)
    assert not (tmp_path / "out").exists()


def test_report_to_settings_are_validated():
    from sycl.config import validate
    from sycl.training.config import TrainConfig

    assert TrainConfig().report_to == ["none"]
    assert validate(TrainConfig, {"report_to": "wandb"}).report_to == ["wandb"]
    with pytest.raises(DataError, match="report_to"):
        validate(TrainConfig, {"report_to": ["none", "wandb"]})
    with pytest.raises(DataError, match="report_to"):
        validate(TrainConfig, {"report_to": ["comet"]})
