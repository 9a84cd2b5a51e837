"""``sycl compare --out`` writes valid JSON even where a statistic is undefined.

With one query there is no interval and no t-test: the values were NaN, and ``--out`` held the
bare token ``NaN`` (not JSON; strict parsers reject it) without a word on the console.
"""

from __future__ import annotations

import json

from sycl.cli import main
from sycl.evaluation import evaluate


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def test_one_query_gives_nulls_and_a_warning(tiny_beir, tmp_path, minilm, capsys):
    data = tiny_beir(n_queries=1)
    for out, passage_len in (("a", 64), ("b", 16)):  # two settings: two systems on the same data set
        evaluate(minilm, [str(data)], tmp_path / out, show_progress=False, max_passage_length=passage_len)
    out = tmp_path / "cmp.json"
    assert main(["-q", "compare", f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    result = json.loads(out.read_text(), parse_constant=_no_constants)
    row = result["comparisons"][0]
    assert row["n_queries"] == 1
    assert row["ci_low"] is None and row["ci_high"] is None and row["p"] is None and row["p_adjusted"] is None
    assert isinstance(row["diff"], float)
    warning = [ln for ln in captured.err.splitlines() if ln.startswith("sycl compare: warning: ")]
    assert len(warning) == 1 and "ci_low" in warning[0] and "1 query" in warning[0] and str(out) in warning[0]
    assert "| tiny/test | nDCG@10 | B | A |" in captured.out
