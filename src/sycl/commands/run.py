"""``sycl run EXPERIMENT.yaml``: generate -> holdout -> mine -> train -> evaluate -> report, skipping current stages."""

from __future__ import annotations

import argparse

from sycl.pipeline.config import STAGES


def register(subparsers) -> None:
    from sycl.config import add_flags, add_set_option
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
    add_set_option(p, "train.ws2.train.lr=1e-5")
    add_flags(p, RunConfig, ["out", "seed"])
    p.set_defaults(func=run)


def resolve_config(args: argparse.Namespace):
    """The :class:`RunConfig` of the command line: the file, then ``--set``, then the flags."""
    from sycl.config import command_overrides
    from sycl.pipeline.config import load_run_config

    return load_run_config(args.config, command_overrides(args))


def run(args: argparse.Namespace) -> int:
    from sycl.pipeline.runner import Runner
    from sycl.pipeline.summary import print_summary

    cfg = resolve_config(args)
    manifest = Runner(cfg, force_from=args.force_from, source=str(args.config)).run()
    print_summary(cfg.run_dir(), manifest)
    return 0
