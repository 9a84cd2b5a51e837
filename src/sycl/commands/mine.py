"""``sycl mine --dataset D --split train --k 1000 --out FILE [--model PATH]``: hard negatives.

Writes each judged query's top-k documents (BM25, or dense with ``--model``) without its
judged positives, as grouped JSONL (``qid``, ``docid`` list, ``score`` list = rank) or TSV,
and the mining record beside it (``FILE`` with the suffix ``.mining.json``); prints the record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    from sycl.config import add_flags
    from sycl.mining.config import MiningConfig

    p = subparsers.add_parser(
        "mine",
        help="mine hard negatives (BM25 or dense top-k minus the judged positives)",
        description="For every judged query of a split, retrieve the top-k documents with BM25 (bm25s, Snowball "
        "stemming) or with a dense model, drop the query's judged positives, and write "
        "them as a grouped JSONL qrels file (score = rank) or TSV, readable as a training source.",
    )
    p.add_argument("--out", required=True, type=Path, help="output file (.jsonl or .tsv)")
    add_flags(p, MiningConfig, list(MiningConfig.model_fields))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.config import flag_values, validate
    from sycl.mining.config import MiningConfig
    from sycl.mining.negatives import mine

    config = validate(MiningConfig, flag_values(args), "<command line>")
    print(json.dumps(mine(config, args.out), indent=2))
    return 0
