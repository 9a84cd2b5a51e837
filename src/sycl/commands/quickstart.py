"""``sycl quickstart``: generate, train and evaluate offline on embedded defaults (the README's main command)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quickstart", help="run the whole pipeline offline on embedded defaults (about 5-10 minutes on 2 cores)",
        description="Generates multi-level ranking contexts for 50 shipped queries with the embedded LLM, trains "
                    "the embedded all-MiniLM-L6-v2 three ways (sycl's default list-wise recipe, the paper's ws2, "
                    "InfoNCE on the binarised data), evaluates them and the base model on held-out queries and "
                    "writes a report. The same run can use a real LLM server with --backend openai.")
    p.add_argument("--out", default="sycl-quickstart", help="run directory (default: ./sycl-quickstart)")
    p.add_argument("--eval", dest="eval_paths", action="append", default=[], metavar="PATH",
                   help="also evaluate on this BEIR folder (test split; repeatable)")
    p.add_argument("--backend", default="embedded", choices=["embedded", "openai", "vllm", "transformers"])
    p.add_argument("--model", help="generator model name (openai/vllm) or path (transformers)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--concurrency", type=int)
    p.add_argument("--limit", type=int, help="use only the first N queries")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--from", dest="force_from", choices=["generate", "holdout", "train", "evaluate", "report"],
                   help="redo this stage and every later one")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.pipeline.runner import Runner
    from sycl.pipeline.summary import print_summary
    from sycl.pipeline.quickstart import WEAK_GENERATOR_NOTE, quickstart_config

    cfg = quickstart_config(out=args.out, backend=args.backend, model=args.model, base_url=args.base_url,
                            api_key_env=args.api_key_env, concurrency=args.concurrency, limit=args.limit,
                            eval_paths=args.eval_paths, epochs=args.epochs, seed=args.seed)
    if args.backend == "embedded":
        print(WEAK_GENERATOR_NOTE, file=sys.stderr)
    manifest = Runner(cfg, force_from=args.force_from, source="sycl quickstart").run()
    print_summary(cfg.run_dir(), manifest)
    if args.backend == "embedded":
        print("\n" + WEAK_GENERATOR_NOTE)
    return 0
