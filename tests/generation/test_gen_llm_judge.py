"""The LLM relevance judge: its prompt, its answer parser, and whole runs against the test server."""

from __future__ import annotations

import json

import pytest

from sycl.generation import GenerationConfig, run_generate
from sycl.generation.levels import default_levels
from sycl.generation.llm_judge import (
    grade_schema,
    judge_generation_config,
    load_judge_template,
    parse_grade,
    render_judge_prompt,
)
from sycl.generation.parsing import AnswerError
from sycl.io.beir import read_qrels
from sycl.io.records import GenerationManifest

LABELS = [3, 2, 1, 0]


@pytest.mark.parametrize(
    "text,grade",
    [
        ('{"final_score": 2}', 2),
        ('```json\n{"final_score": 3}\n```', 3),
        ("##final score: 1", 1),
        ("M: 2, T: 2\n##final score: 0", 0),
        ("3", 3),
        ('{"score": "2"}', 2),
    ],
)
def test_parse_grade_reads_json_umbrela_and_bare_forms(text, grade):
    assert parse_grade(text, LABELS) == grade


@pytest.mark.parametrize(
    "text,msg",
    [("", "empty"), ("quite relevant", "no grade"), ('{"final_score": 7}', "scale"), ("##final score: 5", "scale")],
)
def test_parse_grade_errors(text, msg):
    with pytest.raises(AnswerError, match=msg):
        parse_grade(text, LABELS)


def test_prompt_carries_the_trec_dl_definitions_query_passage_and_answer_format():
    msgs = render_judge_prompt(
        load_judge_template(), "why is the sky blue", "Rayleigh scattering ...", default_levels()
    )
    user = msgs[-1]["content"]
    assert "3 = perfectly relevant: the passage is dedicated to the query and contains the exact answer." in user
    assert "0 = irrelevant: the passage has nothing to do with the query." in user
    assert 'Search query: "why is the sky blue"' in user and 'Passage: "Rayleigh scattering ..."' in user
    assert "(M)" in user and "(T)" in user and "(O)" in user and '{"final_score": G}' in user
    assert "3, 2, 1 or 0" in user and "$" not in user
    assert grade_schema(LABELS)["properties"]["final_score"]["enum"] == [0, 1, 2, 3]


def test_judge_defaults_to_the_generator_and_can_be_another_model():
    cfg = GenerationConfig(backend="openai", model="gen", base_url="http://a/v1", concurrency=8)
    assert (judge_generation_config(cfg).model, judge_generation_config(cfg).base_url) == ("gen", "http://a/v1")
    cfg2 = cfg.model_copy(
        update={
            "llm_judge": cfg.llm_judge.model_copy(update={"model": "big", "base_url": "http://b/v1", "concurrency": 2})
        }
    )
    j = judge_generation_config(cfg2)
    assert (j.backend, j.model, j.base_url, j.concurrency) == ("openai", "big", "http://b/v1", 2)
    cfg3 = cfg.model_copy(update={"llm_judge": cfg.llm_judge.model_copy(update={"backend": "embedded"})})
    assert judge_generation_config(cfg3).model is None


@pytest.fixture
def judged(server_config):
    """``judged(queries_file, out, **llm_judge)``: the chat server's config with the LLM judge on."""
    return lambda qfile, out, **judge: server_config(
        qfile, out, concurrency=4, max_retries=1, llm_judge={"enabled": True, **judge}
    )


def test_llm_judge_agrees_with_a_faithful_generator_and_reports_it(
    judged, unique, tmp_path, write_queries, record_round_trip
):
    queries = {f"q{i}": f"{unique} {i} tide tables" for i in range(3)}
    out = tmp_path / "out"
    m = run_generate(judged(write_queries(tmp_path / "q.jsonl", queries), out)).manifest
    j = m["llm_judge"]
    assert j["judged"] == j["passages"] == 12 and j["unjudged"] == 0
    assert j["cohen_kappa"] == 1.0 and j["exact_agreement"] == 1.0 and j["share_expected_order"] == 1.0
    assert j["confusion_matrix"]["counts"] == [[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 3]]
    assert j["model"] == "m" and j["prompt"]["source"].endswith("judge_umbrela.txt") and j["action"] == "report"
    rows = [json.loads(x) for x in (out / "llm_judgements.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(r["intended"] == r["judged"] for r in rows)
    assert json.loads((out / "manifest.json").read_text())["llm_judge"]["cohen_kappa"] == 1.0
    assert record_round_trip(out / "manifest.json", GenerationManifest).llm_judge.cohen_kappa == 1.0


def test_disagreeing_judge_relabels_or_drops(judged, unique, tmp_path, write_queries):
    queries = {"swap": f"{unique} fault:judgeswapxall bread yeast", "ok": f"{unique} violin strings"}
    qfile = write_queries(tmp_path / "q.jsonl", queries)
    m = run_generate(judged(qfile, tmp_path / "relabel", action="relabel")).manifest
    j = m["llm_judge"]
    assert j["relabelled"] == 4 and j["exact_agreement"] == 0.5 and j["share_expected_order"] == 0.5
    assert j["cohen_kappa"] < 0.5
    assert read_qrels(tmp_path / "relabel" / "qrels" / "train.tsv")["swap"] == {
        "swap-L3-0": 0,
        "swap-L2-0": 1,
        "swap-L1-0": 2,
        "swap-L0-0": 3,
    }
    m = run_generate(judged(qfile, tmp_path / "drop", action="drop")).manifest
    assert m["llm_judge"]["dropped"] == 4 and m["counts"]["contexts"] == 1
    assert set(read_qrels(tmp_path / "drop" / "qrels" / "train.tsv")) == {"ok"}


def test_answers_without_a_grade_are_retried_then_counted_unjudged(judged, unique, tmp_path, write_queries):
    queries = {"p": f"{unique} fault:judgeprosexall coffee roasting", "ok": f"{unique} chess openings"}
    out = tmp_path / "out"
    m = run_generate(judged(write_queries(tmp_path / "q.jsonl", queries), out, action="drop", max_attempts=2)).manifest
    j = m["llm_judge"]
    assert j["unjudged"] == 4 and j["judged"] == 4 and j["retried"] == 4 and j["dropped"] == 0
    assert m["counts_per_level"] == {"3": 2, "2": 2, "1": 2, "0": 2}  # unjudged passages keep their level
    rows = [json.loads(x) for x in (out / "llm_judgements.jsonl").read_text().splitlines()]
    assert sum(r["judged"] is None and "no grade" in r["problem"] for r in rows) == 4


def test_judge_on_a_server_without_response_format_reads_umbrela_answers(judged, unique, tmp_path, write_queries):
    queries = {"a": f"{unique} glacier melt"}
    m = run_generate(judged(write_queries(tmp_path / "q.jsonl", queries), tmp_path / "o")).manifest
    assert m["llm_judge"]["structured_output"] == "json_schema"
    cfg = judged(write_queries(tmp_path / "q.jsonl", queries), tmp_path / "o2")
    cfg = cfg.model_copy(update={"structured_output": "none"})
    m = run_generate(cfg).manifest
    assert m["llm_judge"]["structured_output"] == "none" and m["llm_judge"]["cohen_kappa"] == 1.0


def test_cli_prints_the_judge_agreement(chat_server, unique, tmp_path, write_queries, capsys):
    from sycl.cli import main

    qfile = write_queries(tmp_path / "q.jsonl", {"a": f"{unique} fault:schema500xall harbor tides"})
    rc = main(
        [
            "generate",
            "--queries",
            str(qfile),
            "--out",
            str(tmp_path / "o"),
            "--backend",
            "openai",
            "--base-url",
            chat_server.url,
            "--model",
            "m",
            "--judge",
            "none",
            "--llm-judge",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "llm judge m: Cohen's kappa 1.0" in out and "graded 4 of 4 passages" in out
    assert "structured output: json_object (the server rejected: json_schema)" in out
