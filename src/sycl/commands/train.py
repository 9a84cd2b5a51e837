"""``sycl train --config EXPERIMENT.yaml``: train a dense retriever on graded ranking contexts.

Flags override the file: ``--loss``, ``--lr``, ``--epochs``, ``--batch-size``, ... are
shortcuts for ``--set loss.name=...``, ``--set train.lr=...`` and so on; ``--set`` takes any
dotted key (``--set loss.label_temperature=0.1``). A flag wins over a ``--set`` of the same
setting (:func:`sycl.config.command_overrides`). Multi-process: launch the same command with
``torchrun --nproc_per_node=N -m sycl.cli train ...`` (or ``accelerate launch``); in-batch
negatives are gathered across processes.
"""

from __future__ import annotations

import argparse

# flag -> dotted key of the experiment file (ExperimentConfig); name, type, choices and help come from the field
FLAGS = {
    "model": "model.model",
    "loss": "loss.name",
    "temperature": "loss.temperature",
    "lr": "train.lr",
    "epochs": "train.epochs",
    "max_steps": "train.max_steps",
    "batch_size": "train.batch_size",
    "group_size": "data.group_size",
    "seed": "train.seed",
    "precision": "train.precision",
    "out": "out",
}


def register(subparsers) -> None:
    from sycl.config import add_flags, add_set_option
    from sycl.training.config import ExperimentConfig

    p = subparsers.add_parser(
        "train",
        help="train a bi-encoder on multi-level ranking contexts (list-wise or contrastive)",
        description="Train a dense retriever as described by an experiment file (model, data sources, loss, "
        "optimisation, collapse guard). The output folder is a model that "
        "sentence_transformers.SentenceTransformer(path) loads, plus training_log.jsonl, "
        "training.json, experiment.yaml and a model card (README.md).",
    )
    p.add_argument("--config", "-c", help="experiment YAML file (configs/local/*.yaml, configs/paper/*.yaml)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the output folder")
    add_set_option(p, "loss.label_temperature=0.1")
    add_flags(p, ExperimentConfig, FLAGS)
    p.set_defaults(func=run)


def resolve_config(args: argparse.Namespace):
    """The :class:`ExperimentConfig` of the command line: the file, then ``--set``, then the flags."""
    from sycl.config import command_overrides
    from sycl.io.errors import DataError
    from sycl.training import load_experiment

    overrides = command_overrides(args)
    if not args.config and not any(k.startswith("data.") for k in overrides):
        raise DataError(None, "give an experiment file with --config (see configs/local/)")
    return load_experiment(args.config, overrides)


def run(args: argparse.Namespace) -> int:
    from sycl.training import train

    print(train(resolve_config(args), resume=args.resume))
    return 0
