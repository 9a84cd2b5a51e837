"""End to end against the test server: faults are retried or recorded, never enter the corpus;
a rerun resumes from the journal; the output is a valid BEIR folder."""

from __future__ import annotations

import json

import pytest

from sycl.cli import main
from sycl.generation import GenerationFailed, generate, run_generate
from sycl.io.beir import read_qrels, read_queries
from sycl.io.validate import validate_folder


def corpus(out):
    return {json.loads(x)["_id"]: json.loads(x)["text"] for x in (out / "corpus.jsonl").read_text().splitlines()}


def test_content_faults_are_retried_and_failures_never_reach_the_corpus(server_config, unique, tmp_path, write_queries):
    queries = {
        "ok": f"{unique} how do bees fly",
        "mal": f"{unique} fault:malformedx1 soil pH",
        "miss": f"{unique} fault:missingx2 sky colour",
        "trunc": f"{unique} fault:truncatedx1 tide tables",
        "meta": f"{unique} fault:metax1 bread yeast",
        "empty": f"{unique} fault:emptyx1 violin strings",
        "badmiss": f"{unique} fault:missingxall glacier melt",
        "badmeta": f"{unique} fault:metaxall coffee roasting",
        "bad500": f"{unique} fault:500xall chess openings",
    }
    qfile = write_queries(tmp_path / "q.jsonl", queries)
    out = tmp_path / "out"
    result = run_generate(server_config(qfile, out, max_attempts=3))
    m = result.manifest
    assert m["kind"] == "generation" and m["counts"]["done"] == 6 and m["counts"]["failed"] == 3
    assert m["counts"]["retried"] >= 1 + 2 + 1 + 1 + 1 + 2 + 2
    assert m["counts_per_level"] == {"3": 6, "2": 6, "1": 6, "0": 6}
    fails = {f["query_id"]: f for f in m["failures"]}
    assert set(fails) == {"badmiss", "badmeta", "bad500"}
    assert "missing" in fails["badmiss"]["error"] and '"level_3"' in fails["badmiss"]["raw"]
    assert "refers to itself" in fails["badmeta"]["error"] or "judges" in fails["badmeta"]["error"]
    assert "HTTP 500" in fails["bad500"]["error"]
    docs = corpus(out)
    assert len(docs) == 24 and set(docs) == {
        f"{q}-L{lab}-0" for q in ("ok", "mal", "miss", "trunc", "meta", "empty") for lab in (3, 2, 1, 0)
    }
    assert not any("irrelevant to the query" in t or "forgot the format" in t for t in docs.values())
    assert set(read_queries(out / "queries.jsonl")) == {"ok", "mal", "miss", "trunc", "meta", "empty"}
    assert read_qrels(out / "qrels" / "train.tsv")["ok"] == {"ok-L3-0": 3, "ok-L2-0": 2, "ok-L1-0": 1, "ok-L0-0": 0}
    assert validate_folder(out).splits[0].judgements == 24
    assert result.failure_rate == pytest.approx(3 / 9)


def test_rerun_resumes_retries_failures_and_threshold_raises(
    server_config, chat_server, unique, tmp_path, write_queries
):
    queries = {f"q{i}": f"{unique} topic number {i}" for i in range(6)}
    queries["bad"] = f"{unique} fault:missingx3 stubborn one"
    qfile = write_queries(tmp_path / "q.jsonl", queries)
    out = tmp_path / "out"
    cfg = server_config(qfile, out, max_attempts=2, max_failure_rate=0.1)
    with pytest.raises(GenerationFailed, match="14.3% of the contexts failed"):
        generate(cfg)
    first = corpus(out)
    n_before = len(chat_server.entries())
    path = generate(cfg)  # only "bad" is asked again, with fresh attempts: its 3rd request fails, the 4th not
    assert path == out
    assert len(chat_server.entries()) - n_before == 2
    again = corpus(out)
    assert {k: v for k, v in again.items() if not k.startswith("bad-")} == first
    assert {k for k in again if k.startswith("bad-")} == {"bad-L3-0", "bad-L2-0", "bad-L1-0", "bad-L0-0"}
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["done"] == 7 and m["failures"] == [] and m["this_run"]["skipped_from_journal"] == 6


def test_per_level_mode_several_passages_and_samples(server_config, unique, tmp_path, write_queries):
    qfile = write_queries(tmp_path / "q.jsonl", {"a": f"{unique} alpha", "b": f"{unique} fault:metax1 beta"})
    out = tmp_path / "out"
    res = run_generate(server_config(qfile, out, mode="per-level", samples_per_query=2))
    # the fault counter is per prompt: the first request of each level prompt of "b" is meta-text
    assert res.manifest["counts"]["done"] == 4 and res.manifest["counts"]["retried"] == 4
    ids = set(corpus(out))
    assert ids == {f"{q}-L{lab}-{i}" for q in "ab" for lab in (3, 2, 1, 0) for i in (0, 1)}


def test_cli_summary_exit_status_and_split_selection(chat_server, unique, tmp_path, tiny_beir, capsys, write_queries):
    folder = tiny_beir(n_queries=4, splits=("train", "test"))
    qrels = folder / "qrels" / "train.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tq1-l3\t3\nq2\tq2-l3\t3\n")
    out = tmp_path / "out"
    rc = main(
        [
            "generate",
            "--queries",
            str(folder),
            "--split",
            "train",
            "--out",
            str(out),
            "--backend",
            "openai",
            "--base-url",
            chat_server.url,
            "--model",
            "m",
            "--judge",
            "none",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "generated 8 passages for 2 contexts" in printed and "per level: 3: 2, 2: 2, 1: 2, 0: 2" in printed
    assert set(read_queries(out / "queries.jsonl")) == {"q1", "q2"}
    qfile = write_queries(tmp_path / "q.jsonl", {"x": f"{unique} fault:500xall never"})
    rc = main(
        [
            "generate",
            "--queries",
            str(qfile),
            "--out",
            str(tmp_path / "o2"),
            "--backend",
            "openai",
            "--base-url",
            chat_server.url,
            "--model",
            "m",
            "--judge",
            "none",
            "--set",
            "max_retries=0",
        ]
    )
    assert rc == 1
    assert "more than --max-failure-rate" in capsys.readouterr().err
    rc = main(
        [
            "generate",
            "--queries",
            str(qfile),
            "--out",
            str(tmp_path / "o3"),
            "--backend",
            "openai",
            "--api-key-env",
            "SYCL_TEST_UNSET_KEY_VAR",
        ]
    )
    assert rc == 2 and "SYCL_TEST_UNSET_KEY_VAR" in capsys.readouterr().err


def test_vllm_backend_without_vllm_says_how_to_install(tmp_path, capsys, write_queries):
    try:  # vllm is an optional extra
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    qfile = write_queries(tmp_path / "q.jsonl", {"a": "alpha"})
    rc = main(
        [
            "generate",
            "--queries",
            str(qfile),
            "--out",
            str(tmp_path / "o"),
            "--backend",
            "vllm",
            "--model",
            "some/model",
        ]
    )
    assert rc == 2
    assert "pip install 'sycl-ir[vllm]'" in capsys.readouterr().err


def test_llama_cpp_python_style_server_completes_in_json_mode_and_manifest_says_how(
    server_config, unique, tmp_path, write_queries
):
    """The reported failure: a 500 naming response_format for json_schema used to burn every retry."""
    queries = {f"q{i}": f"{unique} {i} fault:schema500xall heart rate" for i in range(6)}
    out = tmp_path / "out"
    result = run_generate(server_config(write_queries(tmp_path / "q.jsonl", queries), out, max_retries=6))
    m = result.manifest
    assert m["counts"]["done"] == 6 and m["counts"]["failed"] == 0 and m["counts"]["transport_retries"] == 0
    assert m["structured_output"] == "json_object"
    assert m["structured_output_rejections"][0]["status"] == 500
    assert json.loads((out / "manifest.json").read_text())["structured_output"] == "json_object"
