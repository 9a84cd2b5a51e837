"""The hand-off records: versions, foreign files and errors that name the file and the field."""

from __future__ import annotations

import json

import pytest

from sycl.io.errors import DataError
from sycl.io.records import (
    VERSION,
    ComparisonRecord,
    GenerationManifest,
    MetricsRecord,
    MiningRecord,
    RunManifest,
    TrainingRecord,
    parse_record,
    peek_kind,
    read_record,
    write_record,
)

TRAINING = {
    "kind": "training",
    "config": {"name": "x", "loss": {"name": "wasserstein1d"}},
    "base_model": "m",
    "loss": "wasserstein1d",
    "n_queries": 3,
    "label_counts": {"3": 3, "0": 3},
    "seconds": 1.5,
    "steps": 2,
}
METRICS = {"kind": "evaluation", "model": "m", "results": [{"dataset": "d", "measures": {"nDCG@10": 0.5}}]}


def _write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_a_file_without_version_is_read_as_version_1(tmp_path):
    rec = read_record(_write(tmp_path / "training.json", TRAINING), TrainingRecord)
    assert rec.version == 1 and rec.label_counts == {"3": 3, "0": 3} and rec.collapse_warnings == 0
    assert rec.model_dump(mode="json")["label_counts"] == {"3": 3, "0": 3}


def test_an_older_file_that_does_not_parse_names_version_and_the_stage(tmp_path):
    old = {k: v for k, v in TRAINING.items() if k != "steps"}
    with pytest.raises(DataError) as err:
        read_record(_write(tmp_path / "training.json", old), TrainingRecord)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'training.json'}: field version: missing: written by an older sycl")
    assert "re-run sycl train" in msg and "field steps: Field required" in msg


def test_a_newer_version_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"field version: 7: written by a newer sycl \(this one reads version 1\)"):
        read_record(_write(tmp_path / "metrics.json", {**METRICS, "version": VERSION + 6}), MetricsRecord)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({**METRICS, "kind": "training"}, "field kind: expected \"evaluation\", found kind 'training'"),
        ({"name": "an app"}, 'field kind: expected "evaluation", found no kind'),
        ([1, 2], "expected a JSON object"),
        ({**METRICS, "version": "one"}, "field version: expected a whole number >= 1, found 'one'"),
    ],
)
def test_a_foreign_file_is_refused_by_its_kind(tmp_path, obj, problem):
    path = _write(tmp_path / "metrics.json", obj)
    with pytest.raises(DataError) as err:
        read_record(path, MetricsRecord)
    assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)


def test_a_bad_field_is_named_with_its_path(tmp_path):
    bad = {**METRICS, "version": 1, "results": [{"dataset": "d", "measures": {"nDCG@10": "high"}}]}
    with pytest.raises(DataError, match=r"metrics.json: field results.0.measures.nDCG@10: Input should be a valid"):
        read_record(_write(tmp_path / "metrics.json", bad), MetricsRecord)
    with pytest.raises(DataError, match=r"training.json: field stepz: unknown key"):
        read_record(_write(tmp_path / "training.json", {**TRAINING, "version": 1, "stepz": 1}), TrainingRecord)


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found: expected a sycl training record"):
        read_record(tmp_path / "training.json", TrainingRecord)
    (tmp_path / "m.json").write_text('{"kind": "evaluation",\n "model": }')
    with pytest.raises(DataError, match=r"m.json:2: malformed JSON"):
        read_record(tmp_path / "m.json", MetricsRecord)
    assert peek_kind(tmp_path / "m.json") is None
    assert peek_kind(_write(tmp_path / "t.json", TRAINING)) == "training"


def test_grown_entries_keep_unknown_keys_and_records_refuse_them(tmp_path):
    grown = {**METRICS, "results": [{**METRICS["results"][0], "recall_curve": [0.1, 0.2]}]}
    rec = parse_record(grown, MetricsRecord, "metrics.json")
    write_record(tmp_path / "metrics.json", rec)
    again = read_record(tmp_path / "metrics.json", MetricsRecord)
    assert again.results[0].model_extra == {"recall_curve": [0.1, 0.2]}
    assert again == rec
    # the generation manifest keeps its backend's own settings
    man = parse_record(
        {
            "kind": "generation",
            "backend": "openai",
            "model": "m",
            "base_url": "http://x",
            "levels": {"1": "a"},
            "counts": {"queries": 1, "done": 1, "failed": 0, "passages": 1},
        },
        GenerationManifest,
    )
    assert man.model_extra == {"base_url": "http://x"} and man.levels == {1: "a"}


@pytest.mark.parametrize(
    "record",
    [
        TrainingRecord.model_validate({**TRAINING, "loss_function": "wasserstein1d", "loss_options": {"t": 0.05}}),
        MetricsRecord.model_validate(METRICS),
        MiningRecord(
            method="bm25",
            dataset="d",
            split="train",
            k=5,
            format="jsonl",
            out="n.jsonl",
            queries=1,
            negatives=5,
            short=0,
            skipped_empty=0,
            seconds=0.1,
        ),
        RunManifest(name="r", config={}, seed=1, started="2025-01-01T00:00:00+00:00"),
        ComparisonRecord(settings={"alpha": 0.05}, systems={"a": ["a/metrics.json"]}, comparisons=[]),
    ],
)
def test_every_record_round_trips(tmp_path, record):
    write_record(tmp_path / "r.json", record)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["kind"] == type(record).model_fields["kind"].default and data["version"] == VERSION
    assert read_record(tmp_path / "r.json", type(record)) == record


def test_the_mining_record_round_trips_from_the_real_writer(tmp_path, record_round_trip):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))  # the shared tiny BEIR set
    from eval_data import make_beir

    from sycl.mining.negatives import mine_negatives, record_path

    out = tmp_path / "neg.jsonl"
    returned = mine_negatives(make_beir(tmp_path / "tiny", split="train"), out, k=3, show_progress=False)
    assert record_path(out) == tmp_path / "neg.mining.json"
    record = record_round_trip(record_path(out), MiningRecord)
    assert record.model_dump(mode="json") == returned and record.method == "bm25" and record.negatives > 0


def test_contracts_doc_matches_the_models():
    from pathlib import Path

    from sycl.io.record_docs import BEGIN, markdown, replace_block

    doc = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"
    text = doc.read_text(encoding="utf-8")
    assert BEGIN in text
    assert replace_block(text) == text, (
        "docs/CONTRACTS.md is stale: python -m sycl.io.record_docs --write docs/CONTRACTS.md"
    )
    # every record and every field of it is documented
    assert "| `search_path` |" in markdown() and "### MiningRecord" in markdown()


def test_the_doc_generator_runs_as_a_module(tmp_path):
    import subprocess
    import sys

    doc = tmp_path / "C.md"
    doc.write_text("# intro\n")
    subprocess.run([sys.executable, "-m", "sycl.io.record_docs", "--write", str(doc)], check=True, capture_output=True)
    assert doc.read_text().startswith("# intro\n\n<!-- records:begin") and "### ComparisonRecord" in doc.read_text()
