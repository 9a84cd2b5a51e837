"""``sycl report``: the HTML page and Markdown of a complete run and of partial ones."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from reporting_artefacts import EVIL, write_generation, write_metrics, write_model

from sycl.cli import main
from sycl.io.errors import DataError
from sycl.reporting import build_report

CHART_IDS = ["chart-metrics", "chart-loss", "chart-diagnostics", "chart-labels", "chart-quality-0"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _figures(html: str) -> dict[str, str]:
    """``{figure id: img tag}`` of the embedded charts."""
    return dict(re.findall(r'<figure id="([^"]+)"><img ([^>]*)>', html))


def test_full_run_report(run_dir):
    html_path, md_path = build_report([run_dir])
    assert html_path == run_dir / "report" / "report.html" and md_path == run_dir / "report" / "report.md"
    html = html_path.read_text(encoding="utf-8")
    figs = _figures(html)
    assert sorted(figs) == sorted(CHART_IDS)
    assert html.count("<img ") == len(CHART_IDS)
    for tag in figs.values():
        assert 'src="data:image/png;base64,' in tag and 'alt="' in tag
    assert 'alt="Training loss curves: infonce, ws2"' in html
    # Self-contained: no external resources at all.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html
    # Metrics: values present, the best per column in bold (ws2 on scifact nDCG@10, infonce on cranfield).
    assert '<td class="num best">0.6620</td>' in html
    assert '<td class="num best">0.3100</td>' in html
    assert '<td class="num">0.6450</td>' in html
    # Samples: ordered by level with badges, text escaped.
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert EVIL not in html and "<b>bold" not in html
    q1 = html.index("what causes ocean tides?")
    order = [html.index(f"level {lv}</span>", q1) for lv in (3, 2, 1, 0)]
    assert order == sorted(order)
    assert "\u2026" in html  # the long vaccine passage is capped
    # Provenance and configuration.
    assert "versions.torch" in html and "stages.train.seconds" in html
    assert "configuration of ws2" in html


def test_markdown_tables_and_figures(run_dir):
    _, md_path = build_report([run_dir], title="Tiny | run")
    md = md_path.read_text(encoding="utf-8")
    assert md.startswith("# Tiny \\| run\n")
    assert "| model | scifact | cranfield | average |" in md
    assert "| ws2 | **0.6620** | 0.2970 | 0.4795 |" in md
    assert "| infonce | 0.6500 | **0.3100** | **0.4800** |" in md
    for cid in CHART_IDS:
        assert f"(figures/{cid}.png)" in md
        assert (md_path.parent / "figures" / f"{cid}.png").read_bytes().startswith(PNG_MAGIC)
    assert "&lt;script&gt;" in md and "<script>" not in md
    assert "- **[level 3]** Tides are caused" in md


def test_missing_pieces_are_skipped_with_notes(tmp_path):
    write_metrics(tmp_path / "run" / "eval" / "base", "base", "m")
    html_path, md_path = build_report([tmp_path / "run"])
    html = html_path.read_text()
    assert sorted(_figures(html)) == ["chart-metrics"]
    assert "No trained models" in html and "No label counts" in html
    assert "No trained models" in md_path.read_text()


def test_generation_without_quality_and_log_without_diagnostics(tmp_path):
    gen = write_generation(tmp_path / "run" / "data")
    manifest = json.loads((gen / "manifest.json").read_text())
    del manifest["quality"]
    (gen / "manifest.json").write_text(json.dumps(manifest))
    m = write_model(tmp_path / "run" / "models" / "ws2", "ws2", 10, 1.0)
    rows = [json.loads(line) for line in (m / "training_log.jsonl").read_text().splitlines()]
    (m / "training_log.jsonl").write_text(
        "".join(json.dumps({"step": r["step"], "loss": r["loss"]}) + "\n" for r in rows)
    )
    html = build_report([tmp_path / "run"])[0].read_text()
    assert sorted(_figures(html)) == ["chart-labels", "chart-loss"]
    assert "no quality.per_level_mean" in html
    assert "no collapse diagnostics" in html


def test_other_measure_and_several_run_dirs(tmp_path):
    write_metrics(tmp_path / "a" / "eval" / "ws2", "ws2", "m")
    write_metrics(tmp_path / "b" / "eval" / "ws2", "base", "m")
    with pytest.raises(DataError, match="--out"):
        build_report([tmp_path / "a", tmp_path / "b"])
    html_path, md_path = build_report([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp", measure="R@100")
    md = md_path.read_text()
    assert "*R@100 per data set (best per column in bold)*" in md
    assert "| a/ws2 | **0.9310** | **0.8200** | **0.8755** |" in md
    assert "| b/ws2 | 0.9250 | 0.8000 | 0.8625 |" in md


def test_report_is_rewritten_atomically(run_dir):
    html_path, _ = build_report([run_dir])
    first = html_path.read_text()
    shutil.rmtree(run_dir / "models" / "infonce")
    html_path, _ = build_report([run_dir])
    assert html_path.read_text() != first
    assert not [p for p in html_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_cli_report(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "--out", str(tmp_path / "out"), "--samples", "1"]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'out' / 'report.html'}" in out
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count('class="context"') == 1


def test_cli_empty_dir_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "nothing to report" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report").exists()


def test_generation_failures_and_timings_are_reported(tmp_path):
    gen = write_generation(tmp_path / "run" / "data")
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["failures"] = [{"query_id": "q9", "error": "no passage for level 1 <parse>", "raw": "..."}]
    (gen / "manifest.json").write_text(json.dumps(manifest))
    html = build_report([tmp_path / "run"])[0].read_text()
    assert "1 quer(y/ies) failed; first: q9: no passage for level 1 &lt;parse&gt;" in html
    assert '<td class="num">160.0</td>' in html and '<td class="num">12.5</td>' in html


def test_llm_judge_agreement_is_reported(tmp_path):
    gen = write_generation(tmp_path / "run" / "data")
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["llm_judge"] = {
        "model": "judge-70b",
        "cohen_kappa": 0.4321,
        "exact_agreement": 0.55,
        "share_expected_order": 0.25,
        "judged": 11,
        "passages": 11,
        "confusion_matrix": {
            "labels": [3, 2, 1, 0],
            "counts": [[2, 1, 1, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 2]],
        },
    }
    (gen / "manifest.json").write_text(json.dumps(manifest))
    html = build_report([tmp_path / "run"])[0].read_text()
    caption = re.search(r"LLM judge judge-70b on [^<]*", html).group(0)
    assert "kappa 0.432" in caption and "expected order 0.250" in caption and "graded 11 of 11 passages" in caption
    md = (tmp_path / "run" / "report" / "report.md").read_text()
    assert "| 3 | 2 | 1 | 1 | 0 |" in md.replace("  ", " ")


def test_significant_differences_are_marked_with_their_intervals(tmp_path):
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.8, 30)
    systems = {
        "base": base,
        "better": np.clip(base + 0.1 + rng.normal(0, 0.05, 30), 0, 1),
        "same": np.clip(base + rng.normal(0, 0.05, 30), 0, 1),
    }
    for name, vals in systems.items():
        pq = {f"q{i}": float(v) for i, v in enumerate(vals)}
        (tmp_path / "eval" / name).mkdir(parents=True)
        (tmp_path / "eval" / name / "metrics.json").write_text(
            json.dumps(
                {
                    "kind": "evaluation",
                    "model": name,
                    "results": [
                        {
                            "dataset": "toy",
                            "split": "test",
                            "measures": {"nDCG@10": float(vals.mean())},
                            "per_query": {"nDCG@10": pq},
                        }
                    ],
                }
            )
        )
    _, md_path = build_report([tmp_path], tmp_path / "out")
    md = md_path.read_text()
    better = stats.ttest_rel(systems["better"], base)
    same = stats.ttest_rel(systems["same"], base)
    holm_better = (
        min(1.0, 2 * min(better.pvalue, same.pvalue))
        if better.pvalue <= same.pvalue
        else max(2 * same.pvalue, better.pvalue)
    )
    ci = better.confidence_interval()
    assert f"| better | {systems['better'].mean():.4f}\\* |" in md.replace("**", "")
    assert f"| same | {systems['same'].mean():.4f} |" in md.replace("**", "")
    row = (
        f"| better | toy | {(systems['better'] - base).mean() * 100:+.2f}\\* | "
        f"\\[{ci.low * 100:+.2f}, {ci.high * 100:+.2f}\\] | {better.pvalue:.4f} | {holm_better:.4f} | 30 |"
    )
    assert row in md
    assert "Paired differences against base" in md
