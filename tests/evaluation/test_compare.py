"""``sycl compare`` on evaluation outputs written the way ``sycl evaluate`` writes them."""

import json

import numpy as np
import pytest
from scipy import stats

from sycl.cli import main
from sycl.evaluation.compare import CompareConfig, compare_systems, load_system, render_comparison
from sycl.io.errors import DataError
from sycl.io.records import ComparisonRecord, read_record

QIDS = [f"q{i}" for i in range(40)]


def write_eval(folder, values, other=None, dataset="cranfield"):
    """A metrics.json with per-query nDCG@10 (and RR@10 = values / 2) for ``dataset`` (and ``other``)."""
    results = []
    for ds, vals in ((dataset, values), ("other", other)):
        if vals is None:
            continue
        pq = dict(zip(QIDS, map(float, vals)))
        results.append(
            {
                "dataset": ds,
                "split": "test",
                "origin": {part: f"/data/{ds}/{part}" for part in ("corpus", "queries", "qrels")},
                "qrels_sha256": f"{ds}-judgements",
                "measures": {"nDCG@10": float(np.mean(vals))},
                "per_query": {"nDCG@10": pq, "RR@10": {q: v / 2 for q, v in pq.items()}},
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps({"kind": "evaluation", "model": str(folder), "results": results}))
    return folder


@pytest.fixture
def systems(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.9, 40)
    write_eval(tmp_path / "zero", base, base)
    seeds = {}
    for s in (1, 2, 3):
        better = np.clip(base + 0.08 + rng.normal(0, 0.05, 40), 0, 1)
        same = np.clip(base + rng.normal(0, 0.05, 40), 0, 1)
        write_eval(tmp_path / f"good-s{s}" / "eval", better, same)
        seeds[s] = (better, same)
    return tmp_path, base, seeds


def test_compare_pools_seeds_and_agrees_with_scipy_on_one_run(systems):
    root, base, seeds = systems
    zero = load_system(f"zero={root / 'zero'}")
    good = load_system(f"good={root}/good-s*")  # folders holding eval/metrics.json; one per seed
    assert len(good.paths) == 3 and good.paths[0].name == "metrics.json"
    one = load_system(str(root / "good-s1" / "eval" / "metrics.json"))
    res = compare_systems([zero, good, one], CompareConfig(measures=["nDCG@10", "RR@10"]))
    comparisons = res.model_dump()["comparisons"]
    rows = {(r["dataset"], r["measure"], r["system"]): r for r in comparisons}
    assert len(rows) == 8  # 2 data sets x 2 measures x 2 systems against the baseline
    r = rows[("other/test", "nDCG@10", "eval")]
    ref = stats.ttest_rel(seeds[1][1], base)
    assert r["p"] == pytest.approx(ref.pvalue) and r["ci_low"] == pytest.approx(ref.confidence_interval().low)
    pooled = rows[("cranfield/test", "nDCG@10", "good")]
    diffs = np.mean([seeds[s][0] - base for s in (1, 2, 3)], axis=0)
    assert pooled["n_runs"] == 3 and pooled["diff"] == pytest.approx(diffs.mean())
    assert pooled["per_query"]["q5"] == pytest.approx(diffs[5])
    assert pooled["wins"] + pooled["ties"] + pooled["losses"] == 40
    assert pooled["significant"] and pooled["ci_low"] > 0
    # Holm over the 4 nDCG@10 comparisons: the smallest p times 4, capped at 1
    nd = [x for x in comparisons if x["measure"] == "nDCG@10"]
    smallest = min(nd, key=lambda x: x["p"])
    assert smallest["p_adjusted"] == pytest.approx(min(1.0, 4 * smallest["p"]))
    assert not rows[("other/test", "nDCG@10", "good")]["significant"]
    table = render_comparison(res)
    assert "| cranfield/test | nDCG@10 | good | zero |" in table and f"{pooled['diff'] * 100:+.2f}*" in table


def test_cli_compare_writes_json_and_prints_markers(systems, capsys):
    root, _, _ = systems
    out = root / "cmp.json"
    rc = main(
        [
            "-q",
            "compare",
            f"zero={root / 'zero'}",
            f"good={root}/good-s*",
            "--test",
            "randomisation",
            "--samples",
            "2000",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "paired randomisation test" in printed and "*" in printed
    data = json.loads(out.read_text())
    assert data["kind"] == "comparison" and data["settings"]["test"] == "randomisation"
    assert {r["test"] for r in data["comparisons"]} == {"randomisation"}
    assert read_record(out, ComparisonRecord).model_dump(mode="json") == data  # the file round-trips


def test_different_queries_and_bad_files_are_data_errors(tmp_path, capsys):
    write_eval(tmp_path / "a", np.linspace(0, 1, 40))
    b = write_eval(tmp_path / "b", np.linspace(0, 1, 40))
    data = json.loads((b / "metrics.json").read_text())
    data["results"][0]["per_query"]["nDCG@10"].pop("q3")
    (b / "metrics.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="queries differ"):
        compare_systems([load_system(str(tmp_path / "a")), load_system(str(tmp_path / "b"))])
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "metrics.json").write_text(json.dumps({"kind": "training"}))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c")]) == 2
    assert 'field kind: expected "evaluation"' in capsys.readouterr().err
    with pytest.raises(DataError, match="no file or folder"):
        load_system(str(tmp_path / "nothing-*"))
