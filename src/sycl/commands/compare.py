"""``sycl compare SYSTEM SYSTEM [SYSTEM ...]``: paired significance of differences between evaluated systems.

A SYSTEM is ``[NAME=]PATH[,PATH...]``: each PATH (a glob) a ``metrics.json`` of ``sycl evaluate``
or a folder holding one; several paths are the runs (seeds) of one system. The first system is
the baseline. Prints a Markdown table; ``--out FILE`` also writes everything as JSON, per-query
differences included.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.evaluation.compare import CompareConfig

    p = subparsers.add_parser(
        "compare",
        help="paired tests, intervals and corrected p-values between evaluation outputs",
        description="Compare evaluation outputs query by query: mean difference, its confidence interval, the p-value "
        "of a paired t-test (with several runs per system: a two-way query x seed model) or a paired "
        "randomisation test, corrected for multiple comparisons. " + __doc__.split("\n\n")[1],
    )
    p.add_argument("systems", nargs="+", metavar="SYSTEM", help="[NAME=]PATH[,PATH...]; the first is the baseline")
    add_flags(p, CompareConfig, {k: k for k in CompareConfig.model_fields if k != "measures"})
    add_flags(p, CompareConfig, {"measure": "measures"})
    p.add_argument("--out", type=Path, default=None, metavar="FILE", help="also write the comparisons as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, validate
    from sycl.evaluation.compare import CompareConfig, compare_systems, load_system, render_comparison
    from sycl.io.records import write_record

    cfg = validate(CompareConfig, flag_values(args), "<command line>")
    result = compare_systems([load_system(s) for s in args.systems], cfg)
    if args.out is not None:
        write_record(args.out, result)
    print(render_comparison(result), end="")
    return 0
