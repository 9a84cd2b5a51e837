"""Generate MS MARCO-shaped training data at the paper's size (issue 14), fast (Arrow, big blocks).

Writes under ``--out`` (outside the repository; several GB):

* ``corpus.jsonl``: ``--passages`` passages (default 8,841,823) with numeric ids ``0..N-1`` and
  MS MARCO-like lengths (log-normal, mean ~340 characters) cut from a random word stream;
* ``queries.jsonl``: ``--queries`` train queries (default 502,939) with 7-digit numeric ids;
* ``qrels/train.tsv``: 1 positive per query (a few with 2, ~1.06 per query, as MS MARCO train);
* ``train_qrels.jsonl``: the BM25 top-``--depth`` (default 1000) per query in the released
  grouped format ``{"qid": "...", "docid": [...], "score": [...]}`` with two-decimal BM25-like
  scores, the annotated positives left out, lines in another query order than ``train.tsv``.

    python benchmarks/gen_msmarco_scale.py --out /work/bigdata/msmarco [--queries 502939 --depth 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WORDS = (
    "the of and a to in is for was on that with as by it from at are an be this which or were has "
    "protein cell river energy market signal model data light water system theory growth city network "
    "health policy carbon memory music language ocean school law fire metal president county population "
    "average salary degree temperature symptoms cost definition located between during after"
).split()


def _write(fh, arr: pa.Array) -> None:
    """Write a string array's characters (each element ends with a newline) as one block."""
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    off = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    fh.write(memoryview(arr.buffers()[2])[off[0] : off[-1]])


def join(*parts) -> pa.Array:
    """Element-wise concatenation of string arrays and constant strings (as large strings)."""
    conv = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p.cast(pa.large_string()) for p in parts]
    return pc.binary_join_element_wise(*conv, pa.scalar("", pa.large_string()))


def word_stream(rng: np.random.Generator, n_bytes: int) -> bytes:
    """~``n_bytes`` of random words separated by spaces (a 32 MB block repeated)."""
    block_words = rng.integers(0, len(WORDS), size=6_000_000)
    block = " ".join(WORDS[i] for i in block_words).encode()
    return (block * (n_bytes // len(block) + 1))[:n_bytes]


def strings_from(data: bytes, lengths: np.ndarray, start: int) -> pa.Array:
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64) + start
    return pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))


def corpus(out: Path, n: int, rng: np.random.Generator, chunk: int = 1_000_000) -> None:
    lengths = np.clip(rng.lognormal(np.log(310), 0.45, size=n), 20, 3000).astype(np.int64)
    data = word_stream(rng, int(lengths.sum()) + 16)
    pos = 0
    with open(out / "corpus.jsonl", "wb") as fh:
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            text = strings_from(data, lengths[s:e], pos)
            pos += int(lengths[s:e].sum())
            ids = pa.array(np.arange(s, e)).cast(pa.large_string())
            _write(fh, join('{"_id": "', ids, '", "title": "", "text": "', text, '"}\n'))


def queries_and_positives(out: Path, qids: np.ndarray, n_passages: int, rng: np.random.Generator):
    n = len(qids)
    lengths = np.clip(rng.lognormal(np.log(33), 0.35, size=n), 8, 200).astype(np.int64)
    data = word_stream(rng, int(lengths.sum()) + 16)
    text = strings_from(data, lengths, 0)
    ids = pa.array(qids).cast(pa.large_string())
    with open(out / "queries.jsonl", "wb") as fh:
        _write(fh, join('{"_id": "', ids, '", "text": "', text, '?"}\n'))
    n_pos = 1 + (rng.random(n) < 0.06)
    pos_q = np.repeat(qids, n_pos)
    pos_d = rng.integers(0, n_passages, size=len(pos_q))
    (out / "qrels").mkdir(exist_ok=True)
    with open(out / "qrels" / "train.tsv", "wb") as fh:
        fh.write(b"query-id\tcorpus-id\tscore\n")
        _write(fh, join(pa.array(pos_q).cast(pa.string()), "\t", pa.array(pos_d).cast(pa.string()), "\t1\n"))
    return pos_q, pos_d


def negatives(
    out: Path,
    qids: np.ndarray,
    pos_q,
    pos_d,
    n_passages: int,
    depth: int,
    rng: np.random.Generator,
    chunk: int = 20_000,
) -> None:
    order = rng.permutation(len(qids))
    with open(out / "train_qrels.jsonl", "wb") as fh:
        for s in range(0, len(order), chunk):
            q = qids[order[s : s + chunk]]
            d = rng.integers(0, n_passages, size=(len(q), depth))
            # leave every annotated positive of the query out (as the released file does): a clash
            # moves to the next id until it is no positive (queries have 1-2 positives)
            lo, hi = np.searchsorted(pos_q, q, side="left"), np.searchsorted(pos_q, q, side="right")
            for _ in range(3):
                clash = np.zeros(d.shape, dtype=bool)
                for extra in range(int((hi - lo).max())):
                    has = lo + extra < hi
                    clash[has] |= d[has] == pos_d[np.minimum(lo + extra, len(pos_d) - 1)][has][:, None]
                if not clash.any():
                    break
                d[clash] = (d[clash] + 1) % n_passages
            assert not clash.any()
            scores = np.round(np.sort(rng.gamma(9.0, 2.2, size=(len(q), depth)), axis=1)[:, ::-1], 2)
            off = pa.array(np.arange(0, len(q) * depth + 1, depth, dtype=np.int32))
            docs = pa.ListArray.from_arrays(off, pa.array(d.ravel()).cast(pa.string()))
            sc = pa.ListArray.from_arrays(off, pa.array(scores.ravel()).cast(pa.string()))
            line = join(
                '{"qid": "',
                pa.array(q).cast(pa.string()),
                '", "docid": ["',
                pc.binary_join(docs, '", "'),
                '"], "score": [',
                pc.binary_join(sc, ", "),
                "]}\n",
            )
            _write(fh, line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--passages", type=int, default=8_841_823)
    ap.add_argument("--queries", type=int, default=502_939)
    ap.add_argument("--depth", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not (args.out / "corpus.jsonl").exists():
        corpus(args.out, args.passages, rng)
        print(f"corpus: {time.time() - t0:.0f} s", flush=True)
    qids = np.sort(rng.choice(np.arange(1_000_000, 9_999_999), size=args.queries, replace=False))
    pos_q, pos_d = queries_and_positives(args.out, qids, args.passages, rng)
    print(f"queries + positives: {time.time() - t0:.0f} s", flush=True)
    negatives(args.out, qids, pos_q, pos_d, args.passages, args.depth, rng)
    sizes = {p.name: p.stat().st_size / 1e9 for p in args.out.rglob("*") if p.is_file()}
    print(f"done in {time.time() - t0:.0f} s; GB: " + ", ".join(f"{k} {v:.2f}" for k, v in sizes.items()), flush=True)


if __name__ == "__main__":
    main()
