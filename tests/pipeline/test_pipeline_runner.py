"""`sycl run` end to end on a real local chat server and a tiny model: stages, skipping, --from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from topics import TOPICS

from sycl.cli import main
from sycl.io import read_qrels, read_queries
from sycl.io.errors import DataError
from sycl.io.records import GenerationManifest, MetricsRecord, RunManifest, TrainingRecord
from sycl.pipeline.config import load_run_config
from sycl.pipeline.runner import Runner

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent / "generation" / "chat_server.py"


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("PORT"), line
    yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    sys.path.insert(0, str(HERE.parent / "training"))
    from tinyexp import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def write_experiment(tmp_path: Path, server: str, model: Path, **extra) -> Path:
    queries = tmp_path / "queries.tsv"
    queries.write_text("".join(f"q{i}\thow do {t} work\n" for i, t in enumerate(TOPICS[:10])))
    train = {"epochs": 1, "batch_size": 4, "lr": 1e-4, "precision": "fp32", "log_every": 1, "save_every": 0}
    mdl = {"model": str(model), "max_query_length": 16, "max_passage_length": 32}
    cfg = {
        "name": "t",
        "out": str(tmp_path / "run"),
        "seed": 5,
        "generate": {
            "queries": str(queries),
            "backend": "openai",
            "base_url": server,
            "model": "test",
            "concurrency": 4,
            "judge": None,
        },
        "holdout": {"fraction": 0.3},
        "train": {
            "listwise": {
                "model": dict(mdl),
                "data": {"sources": [{"path": "{data}"}], "group_size": 4},
                "loss": {"name": "kl", "temperature": 0.5, "label_temperature": 0.5},
                "train": dict(train),
            },
            "infonce": {
                "model": dict(mdl),
                "data": {"sources": [{"path": "{data}"}], "format": "binary", "positive_threshold": 2, "group_size": 3},
                "loss": "infonce",
                "train": dict(train),
            },
        },
        "evaluate": {"datasets": ["{heldout}"], "show_progress": False, "precision": "fp32"},
        "report": True,
    }
    cfg.update(extra)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_run_stages_skip_and_force(tmp_path, server, tiny_model, capsys, record_round_trip):
    exp = write_experiment(tmp_path, server, tiny_model)
    assert main(["--quiet", "run", str(exp)]) == 0
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "run" and manifest["seed"] == 5 and "torch" in manifest["versions"]
    stages = set(manifest["stages"])
    assert stages == {
        "generate",
        "holdout",
        "train/listwise",
        "train/infonce",
        "evaluate/base",
        "evaluate/listwise",
        "evaluate/infonce",
        "report",
    }
    # the held-out split: 3 of 10 queries, disjoint from the training queries, one corpus for both
    split = json.loads((run / "holdout" / "split.json").read_text())
    assert len(split["test"]) == 3 and not set(split["test"]) & set(split["train"])
    assert set(read_queries(run / "holdout" / "test" / "queries.jsonl")) == set(split["test"])
    assert set(read_qrels(run / "holdout" / "train" / "qrels" / "train.tsv")) == set(split["train"])
    for name in ("base", "listwise", "infonce"):
        metrics = record_round_trip(run / "eval" / name / "metrics.json", MetricsRecord)
        res = metrics.results[0]
        assert res.n_queries == 3 and res.precision == res.precision_used == "fp32"
        # the request stays "auto"; the result says which search ran
        assert res.search_precision == "auto" and res.search_precision_used in ("fp32", "bf16", "int8")
        assert res.search_path == (
            "fp32 exact" if res.search_precision_used == "fp32" else f"{res.search_precision_used}+rescore"
        )
    # every hand-off file the run wrote reads back through its record and dumps to the same JSON
    record_round_trip(run / "manifest.json", RunManifest)
    record_round_trip(run / "generated" / "manifest.json", GenerationManifest)
    for name in ("listwise", "infonce"):
        assert record_round_trip(run / "models" / name / "training.json", TrainingRecord).steps > 0
    assert "## " in (run / "models" / "listwise" / "README.md").read_text()  # model card with results
    assert (run / "report" / "report.html").stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "| listwise |" in out and "nDCG@10" in out

    # a rerun with nothing changed skips every stage
    assert main(["--quiet", "run", str(exp)]) == 0
    again = json.loads((run / "manifest.json").read_text())
    assert again["executed"] == [] and len(again["skipped"]) == len(stages)
    assert again["stages"]["train/listwise"]["finished"] == manifest["stages"]["train/listwise"]["finished"]

    # changing one model's settings redoes that model, its evaluation and the report only
    cfg = yaml.safe_load(exp.read_text())
    cfg["train"]["infonce"]["train"]["lr"] = 5e-5
    exp.write_text(yaml.safe_dump(cfg))
    assert main(["--quiet", "run", str(exp)]) == 0
    third = json.loads((run / "manifest.json").read_text())
    assert third["executed"] == ["train/infonce", "evaluate/infonce", "report"]

    # --from train redoes training and everything after it, not generation
    assert main(["--quiet", "run", str(exp), "--from", "train"]) == 0
    forced = json.loads((run / "manifest.json").read_text())
    assert "generate" in forced["skipped"] and "holdout" in forced["skipped"]
    assert {"train/listwise", "train/infonce", "evaluate/base", "report"} <= set(forced["executed"])


def test_run_config_errors_name_the_key(tmp_path, server, tiny_model):
    exp = write_experiment(tmp_path, server, tiny_model, evalute={"datasets": ["x"]})
    with pytest.raises(DataError, match="evalute: unknown key"):
        load_run_config(exp)
    exp = write_experiment(tmp_path, server, tiny_model)
    cfg = yaml.safe_load(exp.read_text())
    cfg["train"]["listwise"]["loss"]["temprature"] = 1
    exp.write_text(yaml.safe_dump(cfg))
    with pytest.raises(DataError, match="train.listwise"):
        load_run_config(exp)
    assert main(["run", str(exp)]) == 2


def test_unknown_stage_for_from(tmp_path, server, tiny_model):
    cfg = load_run_config(write_experiment(tmp_path, server, tiny_model))
    with pytest.raises(DataError, match="unknown stage"):
        Runner(cfg, force_from="bake")


@pytest.mark.parametrize("path", sorted((HERE.parents[1] / "configs" / "run").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_run_configs_validate(path):
    cfg = load_run_config(path)
    assert cfg.train and cfg.evaluate is not None


def test_a_suite_entrys_missing_encoder_stops_the_run_before_any_stage(
    tmp_path, server, tiny_model, monkeypatch, capsys
):
    """A suite entry that asks for OpenVINO without it fails now, not after generating and training."""
    from sycl.kernels import openvino_encoder

    monkeypatch.setattr(openvino_encoder, "available", lambda: False)
    data = tmp_path / "beir"
    data.mkdir()
    (data / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "a passage"}\n')
    (data / "queries.jsonl").write_text('{"_id": "q1", "text": "a query"}\n')
    (data / "qrels").mkdir()
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: mine\ndatasets:\n  - {{name: one, source: {data}, encode_backend: openvino}}\n")
    exp = write_experiment(
        tmp_path, server, tiny_model, evaluate={"datasets": ["{heldout}", str(suite)], "show_progress": False}
    )
    assert main(["-q", "run", str(exp)]) == 2
    err = capsys.readouterr().err.strip()
    assert "encode_backend openvino: the openvino package is not installed" in err and "\n" not in err
    assert not (tmp_path / "run" / "generated").exists()  # nothing was generated
