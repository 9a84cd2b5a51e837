"""``sycl report RUN_DIR [RUN_DIR ...]``: an HTML page and Markdown of runs' charts and tables."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.reporting.config import ReportConfig

    p = subparsers.add_parser(
        "report",
        help="HTML + Markdown report of run directories (loss curves, metrics, label and level charts, samples)",
        description="Walk run directories for metrics.json, training.json/training_log.jsonl and generation/run "
        "manifests, and write a self-contained report.html plus report.md and figures/.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run, model, evaluation or generation directories")
    add_flags(p, ReportConfig, list(ReportConfig.model_fields))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, validate
    from sycl.reporting.config import ReportConfig
    from sycl.reporting.report import report

    html_path, md_path = report(args.run_dirs, validate(ReportConfig, flag_values(args), "<command line>"))
    print(f"report: {html_path}")
    print(f"markdown: {md_path}")
    return 0
