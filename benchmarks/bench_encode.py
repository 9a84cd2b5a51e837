"""Encoding throughput: sycl's encoder path vs sentence-transformers ``encode`` (its defaults, fp32).

Both encode the same SciFact passages with all-MiniLM-L6-v2 (max length 256) in the same
run. sycl: length-sorted batches under the autocast ``--precision`` gives (``auto``: bf16
where the kernel probe measured it faster than fp32, see ``sycl info``), written through the evaluation encoder. Reported: passages/s for each, the ratio,
and the cosine between sycl's vectors and sentence-transformers' fp32 vectors.

``--quality`` also evaluates SciFact test end to end with sycl in fp32 and in bf16 (full
corpus; vectors cached under ``--cache-dir`` so a re-run is cheap) and reports both nDCG@10.

    python benchmarks/bench_encode.py --n 1000 --quality

On a machine shared with other jobs, ``--threads 1`` and the CPU-time ratio (process CPU seconds
of each encoder) compare the two with less noise than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT / ".." / "shared" / "datasets" / "scifact"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=SCIFACT)
    ap.add_argument("--n", type=int, default=1000, help="passages to time (0: the whole corpus)")
    ap.add_argument("--batch-size", type=int, default=None, help="sycl batch size (default: sycl's, 16 on CPU)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--quality", action="store_true", help="also compare nDCG@10 on SciFact test, fp32 vs bf16")
    ap.add_argument("--cache-dir", default="/tmp/sycl-bench-embeddings")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)

    from sentence_transformers import SentenceTransformer

    from sycl.io.corpus import Corpus
    from sycl.kernels.decisions import describe
    from sycl.kernels.precision import resolve_dtype
    from sycl.kernels.probe import cpu_model
    from sycl.modeling import BiEncoder, embedded_encoder_path
    from sycl.retrieval.encoding import ListTexts, encode

    corpus = Corpus.open(args.dataset)
    rng = np.random.default_rng(0)
    rows = (
        np.arange(len(corpus))
        if args.n <= 0
        else np.sort(rng.choice(len(corpus), min(args.n, len(corpus)), replace=False))
    )
    texts = corpus.texts(rows)
    st = SentenceTransformer(embedded_encoder_path(), device="cpu")
    ours = BiEncoder.from_pretrained()
    assert st.max_seq_length == 256 == ours.settings["max_passage_length"]
    st.encode(texts[:32])
    ours.encode(texts[:32], precision=args.precision)

    t, c = time.perf_counter(), time.process_time()
    ref = st.encode(texts)
    t_st, c_st = time.perf_counter() - t, time.process_time() - c
    print(f"sentence-transformers encode (defaults: batch 32, fp32): {len(texts) / t_st:.1f} passages/s", flush=True)
    t, c = time.perf_counter(), time.process_time()
    vec = np.asarray(
        encode(ours, ListTexts(texts), "passage", batch_size=args.batch_size, precision=args.precision).vectors
    )
    t_ours, c_ours = time.perf_counter() - t, time.process_time() - c
    cos = (vec * ref).sum(1) / np.linalg.norm(vec, axis=1) / np.linalg.norm(ref, axis=1)
    print(
        f"sycl encode ({args.precision}, batch {args.batch_size}): {len(texts) / t_ours:.1f} passages/s; "
        f"speed-up {t_st / t_ours:.2f}x (CPU time: {c_st / c_ours:.2f}x); cosine to fp32 min {cos.min():.5f} mean {cos.mean():.6f}",
        flush=True,
    )
    chosen = str(resolve_dtype(args.precision, "cpu") or "fp32").replace("torch.", "")
    print(
        f"CPU {cpu_model()}: precision {args.precision} -> {chosen} ({describe()}); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    result = {
        "cpu": cpu_model(),
        "precision": args.precision,
        "chosen": chosen,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "passages": len(texts),
        "threads": args.threads,
        "st_per_s": round(len(texts) / t_st, 1),
        "sycl_per_s": round(len(texts) / t_ours, 1),
        "speedup": round(t_st / t_ours, 2),
        "cpu_seconds_st": round(c_st, 2),
        "cpu_seconds_sycl": round(c_ours, 2),
        "cpu_time_speedup": round(c_st / c_ours, 2),
        "cos_min": round(float(cos.min()), 6),
        "cos_mean": round(float(cos.mean()), 6),
    }
    if args.quality:
        from sycl.evaluation import evaluate

        for prec in ("fp32", args.precision):
            rep = evaluate(
                ours,
                [str(args.dataset)],
                None,
                precision=prec,
                cache_dir=args.cache_dir,
                batch_size=args.batch_size,
                show_progress=False,
            )
            result[f"ndcg10_{prec}"] = round(rep["results"][0]["measures"]["nDCG@10"], 4)
            print(f"SciFact test nDCG@10 ({prec}): {result[f'ndcg10_{prec}']}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
