"""``sycl report RUN_DIR [RUN_DIR ...]``: an HTML page and Markdown of runs' charts and tables."""
from __future__ import annotations

import argparse



def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML + Markdown report of run directories (loss curves, metrics, label and level charts, samples)",
        description="Walk run directories for metrics.json, training.json/training_log.jsonl and generation/run "
        "manifests, and write a self-contained report.html plus report.md and figures/.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run, model, evaluation or generation directories")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default RUN_DIR/report; required with several)")
    p.add_argument("--title", default=None, help="page title")
    p.add_argument("--measure", default="nDCG@10", help="headline measure of the chart and summary (default nDCG@10)")
    p.add_argument("--samples", type=int, default=3, metavar="N", help="sample ranking contexts per generated set (default 3)")
    p.add_argument("--max-chars", type=int, default=320, metavar="N", help="characters shown per passage (default 320)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.reporting.report import build_report

    html_path, md_path = build_report(args.run_dirs, args.out, args.title, measure=args.measure,
                                      n_samples=args.samples, max_chars=args.max_chars)
    print(f"report: {html_path}")
    print(f"markdown: {md_path}")
    return 0
