"""``sycl push FOLDER --repo owner/name [--repo-type dataset]``: publish a model or a data set on the hub.

A model directory of ``sycl train`` is uploaded as its model files and card; a BEIR folder (a
generated set) as ``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv`` and a dataset card
written from its files and ``manifest.json``. Nothing else in the folder is uploaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.reporting.config import PushConfig

    p = subparsers.add_parser(
        "push",
        help="upload a trained model or a BEIR data set (files and card only) to the Hugging Face hub",
        description=__doc__.split("\n\n")[1]
        + " The token comes from huggingface_hub (HF_TOKEN or `hf auth login`); HF_ENDPOINT selects the hub.",
    )
    p.add_argument(
        "folder", type=Path, metavar="FOLDER", help="model directory, or BEIR folder with --repo-type dataset"
    )
    add_flags(p, PushConfig, list(PushConfig.model_fields))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, validate
    from sycl.reporting.config import PushConfig
    from sycl.reporting.publish import push

    print(push(args.folder, validate(PushConfig, flag_values(args), "<command line>")))
    return 0
