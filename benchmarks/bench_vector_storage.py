"""Effect of storing corpus vectors at fp16 instead of fp32 on retrieval quality (issue 14).

Encodes a BEIR test set (default SciFact) once with the embedded MiniLM (fp32 encoding, through
the embedding cache), then searches exactly (top 100, identical ids excluded as ``sycl
evaluate`` does) over the fp32 vectors and over the same vectors rounded to float16, exactly
what ``vector_storage: fp16`` stores (``writer`` assigns float32 model outputs into a float16
memory map: round to nearest). Reports nDCG@10 (and recall@100) of both and how many top-10
lists are identical.

    python benchmarks/bench_vector_storage.py [--data /work/shared/datasets/scifact]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/datasets/scifact"))
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    from sycl.evaluation.metrics import compute_metrics
    from sycl.io.beir import qrels_path, read_qrels, read_queries
    from sycl.io.corpus import Corpus
    from sycl.modeling import BiEncoder
    from sycl.retrieval.cache import EmbeddingCache
    from sycl.retrieval.encoding import CorpusTexts, ListTexts, encode
    from sycl.retrieval.search import exact_search

    t0 = time.perf_counter()
    model = BiEncoder.from_pretrained()
    qrels = read_qrels(qrels_path(args.data, args.split))
    queries = read_queries(args.data / "queries.jsonl")
    corpus = Corpus.open(args.data)
    qids = [q for q in qrels if q in queries]
    cache = EmbeddingCache()
    qv = np.asarray(
        encode(model, ListTexts([queries[q] for q in qids]), "query", cache=cache, precision="fp32").vectors
    )
    dv = np.asarray(
        encode(model, CorpusTexts(corpus), "passage", cache=cache, precision="fp32").vectors, dtype=np.float32
    )
    exclude = corpus.rows_of(qids, missing="ignore")
    out = {
        "data": str(args.data),
        "queries": len(qids),
        "passages": len(corpus),
        "dim": dv.shape[1],
        "encode_s": round(time.perf_counter() - t0, 1),
    }
    tops = {}
    for name, docs in (("fp32", dv), ("fp16", dv.astype(np.float16))):
        top = exact_search(qv, docs, 100, exclude=exclude)
        tops[name] = top
        ids = corpus.ids
        run = {
            q: {ids[int(r)].as_py(): float(s) for r, s in zip(top.rows[i], top.scores[i]) if r >= 0}
            for i, q in enumerate(qids)
        }
        means, _ = compute_metrics(qrels, run, ["nDCG@10", "R@100"])
        out[name] = {k: round(v, 5) for k, v in means.items()}
        out[name + "_bytes"] = int(docs.nbytes)
    out["identical_top10"] = int(np.all(tops["fp32"].rows[:, :10] == tops["fp16"].rows[:, :10], axis=1).sum())
    out["max_abs_score_diff"] = float(np.max(np.abs(tops["fp32"].scores[:, :10] - tops["fp16"].scores[:, :10])))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
