"""``sycl validate PATH``: check a BEIR folder and print its counts per split and label."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports (pyarrow, httpx) wait until the command runs
    from sycl.io.validate import ValidationReport


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a BEIR folder (corpus, queries, qrels) and print its counts",
        description="Check that every file of a BEIR folder parses, that ids are unique and that every "
        "judgement references a known query and document; print counts per split and label. "
        "Exit status 0 when valid, 2 with a message naming file, line and problem otherwise.",
    )
    p.add_argument("path", help="a BEIR folder, hf://datasets/<owner>/<name>[@rev][/subdir], or a BEIR data set name")
    p.add_argument(
        "--allow-unknown-ids",
        action="store_true",
        help="count judgements with unknown query/document ids as warnings instead of failing",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", help="also write the JSON report to this file (atomically)")
    p.set_defaults(func=run)


def render(report: ValidationReport, file=None) -> None:
    """Print ``report`` as readable tables (rich)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, soft_wrap=True)
    console.print(
        f"[bold]{report.path}[/bold]: {report.documents:,} documents"
        + (f" ({report.empty_documents} empty)" if report.empty_documents else "")
        + f", {report.queries:,} queries"
    )
    labels = sorted({lab for s in report.splits for lab in s.labels})
    table = Table(title="qrels", show_lines=False)
    table.add_column("split")
    table.add_column("queries judged", justify="right")
    table.add_column("judgements", justify="right")
    for lab in labels:
        table.add_column(f"label {lab}", justify="right")
    for s in report.splits:
        table.add_row(
            s.name, f"{s.queries_judged:,}", f"{s.judgements:,}", *[f"{s.labels.get(lab, 0):,}" for lab in labels]
        )
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    console.print("[green]valid[/green]")


def run(args: argparse.Namespace) -> int:
    from sycl.io.atomic import atomic_write_json
    from sycl.io.sources import resolve_dataset
    from sycl.io.validate import validate_folder

    folder = resolve_dataset(args.path)
    report = validate_folder(folder, allow_unknown=args.allow_unknown_ids)
    if args.out:
        atomic_write_json(args.out, report.to_dict())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        render(report)
    return 0
