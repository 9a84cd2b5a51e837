"""``sycl mine --dataset D --split train --k 1000 --out FILE [--model PATH]``: hard negatives.

Writes each judged query's top-k documents (BM25, or dense with ``--model``) without its
judged positives, as grouped JSONL (``qid``, ``docid`` list, ``score`` list = rank) or TSV.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mine",
        help="mine hard negatives (BM25 or dense top-k minus the judged positives)",
        description="For every judged query of a split, retrieve the top-k documents with BM25 (bm25s, Snowball "
                    "stemming, k1=0.9 b=0.4) or with a dense model, drop the query's judged positives, and write "
                    "them as a grouped JSONL qrels file (score = rank) or TSV, readable as a training source.",
    )
    p.add_argument("--dataset", "-d", required=True, help="BEIR folder, hf://datasets/<owner>/<name>, or BEIR name")
    p.add_argument("--split", default="train")
    p.add_argument("--k", type=int, default=1000, help="negatives per query (default 1000)")
    p.add_argument("--out", required=True, type=Path, help="output file (.jsonl or .tsv)")
    p.add_argument("--model", help="dense mining with this model (sycl/sentence-transformers dir or hub name); default BM25")
    p.add_argument("--format", choices=["jsonl", "tsv"], help="default: from the file suffix (.tsv -> tsv, else jsonl)")
    p.add_argument("--positive-label", type=int, default=1, help="judgements with label >= this are positives (default 1)")
    p.add_argument("--keep-identical-ids", action="store_true", help="allow the document whose id equals the query id")
    p.add_argument("--k1", type=float, default=0.9)
    p.add_argument("--b", type=float, default=0.4)
    p.add_argument("--batch-size", type=int, default=None, help="encoding batch size (dense; default: 16 on CPU, 128 on GPU)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto", help="encoding autocast (dense)")
    p.add_argument("--no-cache", action="store_true", help="do not use the embedding cache (dense)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.mining.negatives import mine_negatives

    stats = mine_negatives(
        args.dataset, args.out, split=args.split, k=args.k, model=args.model, fmt=args.format,
        positive_label=args.positive_label, ignore_identical_ids=not args.keep_identical_ids, k1=args.k1, b=args.b,
        batch_size=args.batch_size, precision=args.precision, cache=not args.no_cache,
    )
    print(json.dumps(stats, indent=2))
    return 0
