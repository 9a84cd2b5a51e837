"""``sycl run EXPERIMENT.yaml``: generate -> holdout -> mine -> train -> evaluate -> report, skipping current stages."""

from __future__ import annotations

import argparse

from sycl.pipeline.config import STAGES


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.pipeline.config import RunConfig

    p = subparsers.add_parser(
        "run",
        help="run a whole experiment file (generate, mine, train, evaluate, report)",
        description="Run every stage an experiment file describes. Each stage records a fingerprint of its "
        "settings and inputs in RUN_DIR/manifest.json; a rerun skips stages whose outputs are "
        "current and redoes the rest. See configs/run/ for examples.",
    )
    p.add_argument("config", help="experiment YAML file")
    p.add_argument("--from", dest="force_from", choices=STAGES, help="redo this stage and every later one")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any setting by its dotted key, e.g. --set train.ws2.train.lr=1e-5",
    )
    add_flags(p, RunConfig, ["out", "seed"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, set_items
    from sycl.pipeline.config import load_run_config
    from sycl.pipeline.runner import Runner
    from sycl.pipeline.summary import print_summary

    cfg = load_run_config(args.config, {**set_items(args.overrides), **flag_values(args)})
    manifest = Runner(cfg, force_from=args.force_from, source=str(args.config)).run()
    print_summary(cfg.run_dir(), manifest)
    return 0
