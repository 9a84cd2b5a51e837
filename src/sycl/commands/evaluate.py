"""``sycl evaluate --model PATH --dataset D [--dataset D2 ...] --out DIR``: retrieval metrics.

Writes ``DIR/metrics.json`` (kind ``evaluation``), ``DIR/runs/<dataset>.<split>.trec`` and
``DIR/summary.md``; prints the summary table. Runs under ``torchrun`` as well.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sycl.embedded import EMBEDDED_ENCODER


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.evaluation.config import EvaluationConfig

    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a retriever on BEIR-style data sets (nDCG@10, RR@10, recall, MAP)",
        description="Encode queries and corpus (with an on-disk embedding cache keyed by the model's weights), "
        "search exactly, and score with trec_eval (pytrec-eval-terrier via ir-measures). "
        "D is a BEIR folder, hf://datasets/<owner>/<name>, a BEIR name, or a suite "
        "(shipped: paper, beir, local; or a suite .yaml file).",
    )
    p.add_argument(
        "--model",
        default=EMBEDDED_ENCODER,
        help="sycl or sentence-transformers directory, or a Hugging Face model name (default: the embedded all-MiniLM-L6-v2)",
    )
    p.add_argument("--dataset", "-d", action="append", required=True, metavar="D", help="data set or suite; repeatable")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--max-length", type=int, help="sets --max-query-length and --max-passage-length at once")
    add_flags(p, EvaluationConfig, [k for k in EvaluationConfig.model_fields if k != "measures"])
    add_flags(p, EvaluationConfig, {"measure": "measures"})
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, validate
    from sycl.evaluation.config import EvaluationConfig
    from sycl.evaluation.evaluator import evaluate

    values = flag_values(args)
    if args.max_length is not None:
        values.setdefault("max_query_length", args.max_length)
        values.setdefault("max_passage_length", args.max_length)
    config = validate(EvaluationConfig, values, "<command line>")
    evaluate(args.model, args.dataset, args.out, config)
    from sycl.distributed import is_main_process

    if is_main_process():
        print((args.out / "summary.md").read_text(encoding="utf-8"), end="")
    return 0
