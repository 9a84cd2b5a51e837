"""``sycl quickstart``: generate, train and evaluate offline on embedded defaults (the README's main command)."""

from __future__ import annotations

import argparse
import sys

GENERATOR_FLAGS = ("backend", "model", "base_url", "api_key_env", "concurrency", "limit")


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.pipeline.config import STAGES
    from sycl.pipeline.quickstart import QuickstartConfig

    p = subparsers.add_parser(
        "quickstart",
        help="run the whole pipeline offline on embedded defaults (a few minutes on 2 cores)",
        description="Generates multi-level ranking contexts for 50 shipped queries with the embedded LLM, trains "
        "the embedded all-MiniLM-L6-v2 three ways (sycl's default list-wise recipe, the paper's ws2, "
        "InfoNCE on the binarised data), evaluates them and the base model on held-out queries and "
        "writes a report. The same run can use a real LLM server with --backend openai.",
    )
    add_flags(p, QuickstartConfig, {"out": "out", "eval": "eval_paths", "epochs": "epochs", "seed": "seed"})
    # the generator's flags are GenerationConfig's own fields (one definition, shared with sycl generate)
    add_flags(p, QuickstartConfig, [f"generator.{k}" for k in GENERATOR_FLAGS])
    p.add_argument(
        "--from",
        dest="force_from",
        choices=[s for s in STAGES if s != "mine"],
        help="redo this stage and every later one",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import apply_overrides, flag_values, validate
    from sycl.pipeline.quickstart import WEAK_GENERATOR_NOTE, QuickstartConfig, quickstart_config
    from sycl.pipeline.runner import Runner
    from sycl.pipeline.summary import print_summary

    q = validate(QuickstartConfig, apply_overrides({}, flag_values(args)), "<command line>")
    cfg = quickstart_config(q)
    if q.generator.backend == "embedded":
        print(WEAK_GENERATOR_NOTE, file=sys.stderr)
    manifest = Runner(cfg, force_from=args.force_from, source="sycl quickstart").run()
    print_summary(cfg.run_dir(), manifest)
    if q.generator.backend == "embedded":
        print("\n" + WEAK_GENERATOR_NOTE)
    return 0
