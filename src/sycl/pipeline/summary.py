"""What ``sycl run`` and ``sycl quickstart`` print at the end: where things went and the headline table."""

from __future__ import annotations

from pathlib import Path

from sycl.io.records import MetricsRecord, RunManifest, read_record

HEADLINE = "nDCG@10"


def headline_table(run_dir: Path, measure: str = HEADLINE) -> str:
    """A Markdown table: one row per evaluated model, one column per data set."""
    rows: dict[str, dict[str, float]] = {}
    datasets: list[str] = []
    for metrics in sorted((run_dir / "eval").glob("*/metrics.json")):
        name = metrics.parent.name
        for r in read_record(metrics, MetricsRecord).results:
            col = f"{r.dataset} ({r.split})"
            if col not in datasets:
                datasets.append(col)
            if measure in r.measures:
                rows.setdefault(name, {})[col] = r.measures[measure]
    if not rows:
        return "(no evaluation results)"
    order = sorted(rows, key=lambda n: (n != "base", n))
    lines = ["| model | " + " | ".join(datasets) + " |", "|---|" + "---:|" * len(datasets)]
    for name in order:
        cells = [f"{rows[name][d]:.4f}" if d in rows[name] else "-" for d in datasets]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return f"{measure}\n\n" + "\n".join(lines)


def print_summary(run_dir: Path, manifest: RunManifest) -> None:
    run_dir = Path(run_dir)
    print(f"\nrun directory: {run_dir}")
    for label, rel in (
        ("generated data", "generated"),
        ("held-out split", "holdout/test"),
        ("mined negatives", "mined/negatives.jsonl"),
        ("models", "models"),
        ("evaluations", "eval"),
        ("report", "report/report.html"),
    ):
        if (run_dir / rel).exists():
            print(f"  {label:16s} {run_dir / rel}")
    done, skipped = manifest.executed, manifest.skipped
    print(
        f"  stages run: {', '.join(done) or 'none'}" + (f"; current, skipped: {', '.join(skipped)}" if skipped else "")
    )
    print(f"  total time: {manifest.seconds or 0:.0f} s\n")
    print(headline_table(run_dir))
