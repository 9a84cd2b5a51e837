"""``sycl train --config EXPERIMENT.yaml``: train a dense retriever on graded ranking contexts.

Flags override the file: ``--loss``, ``--lr``, ``--epochs``, ``--batch-size``, ... are
shortcuts for ``--set loss.name=...``, ``--set train.lr=...`` and so on; ``--set`` takes any
dotted key (``--set loss.label_temperature=0.1``). Multi-process: launch the same command with
``torchrun --nproc_per_node=N -m sycl.cli train ...`` (or ``accelerate launch``); in-batch
negatives are gathered across processes.
"""
from __future__ import annotations

import argparse

# flag -> dotted key of the experiment file
SHORTCUTS = {
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
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a bi-encoder on multi-level ranking contexts (list-wise or contrastive)",
        description="Train a dense retriever as described by an experiment file (model, data sources, loss, "
                    "optimisation, collapse guard). The output folder is a model that "
                    "sentence_transformers.SentenceTransformer(path) loads, plus training_log.jsonl, "
                    "training.json and experiment.yaml.",
    )
    p.add_argument("--config", "-c", help="experiment YAML file (configs/local/*.yaml, configs/paper/*.yaml)")
    p.add_argument("--out", help="output model folder (default: the file's 'out', else runs/models/<name>)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the output folder")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting by its dotted key, e.g. --set loss.label_temperature=0.1 (repeatable)")
    p.add_argument("--model", help="base model: a folder, a hub name, or embedded:all-MiniLM-L6-v2")
    p.add_argument("--loss", help="loss name (infonce, ws2, kl, wasserstein1d, lambdaloss)")
    p.add_argument("--temperature", type=float, help="score temperature of the loss")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps")
    p.add_argument("--batch-size", type=int, help="queries per process per micro-batch")
    p.add_argument("--group-size", type=int, help="passages per query")
    p.add_argument("--seed", type=int)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"])
    p.set_defaults(func=run)


def overrides_from_args(args: argparse.Namespace) -> list[str]:
    """``--set`` items followed by the shortcut flags that were given (later items win)."""
    items = list(args.overrides)
    for flag, key in SHORTCUTS.items():
        value = getattr(args, flag, None)
        if value is not None:
            items.append(f"{key}={value}")
    return items


def run(args: argparse.Namespace) -> int:
    from sycl.io.errors import DataError
    from sycl.training import load_experiment, train

    if not args.config and not any(o.startswith("data.") for o in args.overrides):
        raise DataError(None, "give an experiment file with --config (see configs/local/)")
    config = load_experiment(args.config, overrides_from_args(args))
    out = train(config, out=args.out, resume=args.resume)
    print(out)
    return 0
