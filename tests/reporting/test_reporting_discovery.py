"""Discovery of run artefacts: names, skipped pieces, and clear errors on bad or empty input."""

from __future__ import annotations

import json

import pytest
from reporting_artefacts import write_metrics, write_model, write_run

from sycl.io.errors import DataError
from sycl.reporting.discovery import discover


def test_finds_every_kind_and_names_them_by_folder(run_dir):
    art = discover([run_dir])
    assert [e.name for e in art.evaluations] == ["base", "infonce", "ws2"]
    assert [t.name for t in art.trainings] == ["infonce", "ws2"]
    assert [g.name for g in art.generations] == ["data"]
    assert [r.name for r in art.runs] == ["run"]
    ws2 = art.trainings[1]
    assert ws2.info.loss == "ws2" and len(ws2.log) == 40
    assert art.evaluations[0].results[0].measures["nDCG@10"] == pytest.approx(0.645)


def test_several_run_dirs_prefix_names(tmp_path):
    a = write_run(tmp_path / "a")
    b = tmp_path / "b"
    write_metrics(b / "eval" / "ws2", "ws2", "m")
    art = discover([a, b])
    assert [e.name for e in art.evaluations] == ["a/base", "a/infonce", "a/ws2", "b/ws2"]


def test_artefact_at_the_root_is_named_after_the_dir(tmp_path):
    write_metrics(tmp_path / "only-eval", "base", "m")
    art = discover([tmp_path / "only-eval"])
    assert [e.name for e in art.evaluations] == ["only-eval"]


def test_empty_dir_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="nothing to report"):
        discover([tmp_path / "empty"])


def test_missing_dir_is_an_error(tmp_path):
    with pytest.raises(DataError, match="run directory not found"):
        discover([tmp_path / "nope"])


def test_malformed_metrics_names_file_and_line(tmp_path):
    p = tmp_path / "eval" / "metrics.json"
    p.parent.mkdir(parents=True)
    p.write_text('{"kind": "evaluation",\n "results": [}\n')
    with pytest.raises(DataError) as err:
        discover([tmp_path])
    assert str(err.value).startswith(f"{p}:2: malformed JSON")


@pytest.mark.parametrize(("value", "problem"), [("high", "a valid number"), (float("nan"), "a finite number")])
def test_non_numeric_measure_is_an_error(tmp_path, value, problem):
    p = write_metrics(tmp_path / "e", "base", "m")
    obj = json.loads(p.read_text())
    obj["results"][0]["measures"]["nDCG@10"] = value
    obj["version"] = 1
    p.write_text(json.dumps(obj))
    with pytest.raises(DataError, match=f"metrics.json: field results.0.measures.nDCG@10: Input should be {problem}"):
        discover([tmp_path])


def test_cut_off_last_log_line_is_skipped_with_a_note(tmp_path):
    m = write_model(tmp_path / "models" / "ws2", "ws2", 5, 1.0)
    with open(m / "training_log.jsonl", "a") as fh:
        fh.write('{"step": 6, "lo')
    art = discover([tmp_path])
    assert len(art.trainings[0].log) == 5
    assert any("cut-off last line" in n for n in art.notes)


def test_malformed_middle_log_line_names_the_line(tmp_path):
    m = write_model(tmp_path / "m", "ws2", 5, 1.0)
    lines = (m / "training_log.jsonl").read_text().splitlines()
    lines[2] = "not json"
    (m / "training_log.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"training_log.jsonl:3: malformed JSON"):
        discover([tmp_path])


def test_unrelated_manifests_and_checkpoints_are_ignored(tmp_path):
    write_metrics(tmp_path / "eval" / "x", "base", "m")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "manifest.json").write_text("{not json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text('{"name": "an app"}')
    write_model(tmp_path / "models" / "m" / "checkpoint-10", "ws2", 3, 1.0)
    art = discover([tmp_path])
    assert art.generations == [] and art.runs == [] and art.trainings == []
    assert any("web/manifest.json" in n and "skipped" in n for n in art.notes)
