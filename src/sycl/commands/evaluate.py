"""``sycl evaluate --model PATH --dataset D [--dataset D2 ...] --out DIR``: retrieval metrics.

Writes ``DIR/metrics.json`` (kind ``evaluation``), ``DIR/runs/<dataset>.<split>.trec`` and
``DIR/summary.md``; prints the summary table. Runs under ``torchrun`` as well.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sycl.embedded import EMBEDDED_ENCODER


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a retriever on BEIR-style data sets (nDCG@10, RR@10, recall, MAP)",
        description="Encode queries and corpus (with an on-disk embedding cache keyed by the model's weights), "
                    "search exactly, and score with trec_eval (pytrec-eval-terrier via ir-measures). "
                    "D is a BEIR folder, hf://datasets/<owner>/<name>, a BEIR name, or a suite "
                    "(shipped: paper, beir, local; or a suite .yaml file).",
    )
    p.add_argument("--model", default=EMBEDDED_ENCODER,
                   help="sycl or sentence-transformers directory, or a Hugging Face model name (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--dataset", "-d", action="append", required=True, metavar="D", help="data set or suite; repeatable")
    p.add_argument("--split", default="test", help="qrels split for data sets given directly (suites set their own)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--k", type=int, default=1000, help="documents retrieved per query (default 1000)")
    p.add_argument("--measure", action="append", dest="measures", metavar="M",
                   help="ir-measures name, repeatable (default: nDCG@10 RR@10 R@100 R@1000 AP@1000)")
    p.add_argument("--relevance-level", type=int, help="label counted as relevant by binary measures (overrides suites)")
    p.add_argument("--keep-identical-ids", action="store_true",
                   help="do not drop a retrieved document whose id equals the query id (BEIR drops it)")
    p.add_argument("--batch-size", type=int, default=None, help="texts per encoding batch (default: 16 on CPU, 128 on GPU)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="encoding autocast (auto: bf16 on GPUs and on CPUs where it measured faster than fp32, "
                        "see sycl info; else fp32)")
    p.add_argument("--search-precision", choices=["auto", "fp32", "int8", "bf16"], default="auto",
                   help="auto (default): the path measured fastest on this CPU (sycl info); fp32: exact; int8 or "
                        "bf16: candidates selected in reduced precision, final scores and order recomputed in fp32 "
                        "(a path that measured slower than fp32 here is warned about, or refused when it would take hours)")
    p.add_argument("--index", default="exact", help="'exact' (default) or 'faiss:<factory>', e.g. faiss:HNSW32")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--cache-dir", help="embedding cache folder (default $SYCL_CACHE/embeddings)")
    p.add_argument("--strict", action="store_true", help="fail if any judged document is missing from the corpus")
    p.add_argument("--pooling", choices=["mean", "cls", "last"])
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--similarity", choices=["dot", "cosine"])
    p.add_argument("--query-prefix")
    p.add_argument("--passage-prefix")
    p.add_argument("--max-query-length", type=int)
    p.add_argument("--max-passage-length", type=int)
    p.add_argument("--max-length", type=int, help="both max lengths at once")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sycl.evaluation.evaluate import evaluate

    settings = dict(
        split=args.split, k=args.k, relevance_level=args.relevance_level,
        ignore_identical_ids=not args.keep_identical_ids, batch_size=args.batch_size, precision=args.precision,
        search_precision=args.search_precision, index=args.index, cache=not args.no_cache, cache_dir=args.cache_dir,
        strict=args.strict, pooling=args.pooling, normalize=args.normalize, similarity=args.similarity,
        query_prefix=args.query_prefix, passage_prefix=args.passage_prefix,
        max_query_length=args.max_query_length or args.max_length,
        max_passage_length=args.max_passage_length or args.max_length,
    )
    if args.measures:
        settings["measures"] = args.measures
    report = evaluate(args.model, args.dataset, args.out, **settings)
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        print((args.out / "summary.md").read_text(encoding="utf-8"), end="")
    return 0
