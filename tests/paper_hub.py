"""A fake Hugging Face cache holding the paper's released files at their exact hub paths.

``build_paper_hub(root)`` writes ``root/datasets--<owner>--<name>/{refs/main, snapshots/<commit>/<path>,
blobs/<sha256>}`` the way huggingface_hub lays out its cache (snapshot entries are relative
symlinks into ``blobs/``), for

* ``BatsResearch/sycl`` (branch ``main``): ``llama33_70b/corpus.jsonl``, ``llama33_70b/qrels/train.tsv``,
  ``real_data/bm25_top_docs/train_qrels.jsonl``, ``real_data/trec20/queries.jsonl``,
  ``real_data/trec20/qrel.tsv``;
* ``mteb/msmarco`` at the pinned commit: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/{train,dev,test}.tsv``.

Tiny content with matching ids: 8 MS MARCO train queries (one annotated positive each, BM25
negatives that exclude it, 4 synthetic passages at levels 3..0), 2 dev queries, 2 TREC DL 2019
and 2 TREC DL 2020 queries judged 0-3. In each TREC DL year one query has only label-1
judgements, so with the paper's relevance level 2 it has no relevant document.
Point huggingface_hub at it with ``HF_HUB_CACHE`` (or ``huggingface_hub.constants.HF_HUB_CACHE``).
Imported by tests; unique module name.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from topics import TOPICS

MSMARCO_COMMIT = "c5a29a104738b98a9e76336939199e264163d4a0"
SYCL_COMMIT = "5ec1000000000000000000000000000000000013"
TRAIN = [f"10{i}" for i in range(8)]  # MS MARCO train query ids
DEV = ["2001", "2002"]
DL19 = ["3001", "3002"]
DL20 = ["4001", "4002"]


@dataclass
class PaperHub:
    cache: Path
    msmarco: Path  # snapshot folder of mteb/msmarco
    sycl: Path  # snapshot folder of BatsResearch/sycl


def _write_repo(cache: Path, repo: str, commit: str, files: dict[str, str], branch: str | None = "main") -> Path:
    root = cache / ("datasets--" + repo.replace("/", "--"))
    snap = root / "snapshots" / commit
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        data = text.encode("utf-8")
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snap / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    if branch:
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / branch).write_text(commit)
    return snap


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _tsv(rows) -> str:
    return "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in rows)


def build_paper_hub(cache: Path) -> PaperHub:
    text = {q: f"how do {TOPICS[i]} work" for i, q in enumerate(TRAIN + DEV + DL19 + DL20)}
    # MS MARCO passages: one annotated positive per train/dev query, graded passages for TREC DL, fillers
    docs, train_qrels, dev_qrels, dl19_qrels, dl20_qrels = [], [], [], [], []
    for q in TRAIN + DEV:
        docs.append({"_id": f"p{q}", "title": "", "text": f"this passage explains how {text[q][7:]}"})
        (train_qrels if q in TRAIN else dev_qrels).append((q, f"p{q}", 1))
    for year, qids, rows in ((19, DL19, dl19_qrels), (20, DL20, dl20_qrels)):
        for j, q in enumerate(qids):
            levels = (3, 2, 1, 0) if j == 0 else (1, 1, 0)  # the second query: nothing at level >= 2
            for n, lev in enumerate(levels):
                did = f"dl{year}-{q}-{n}"
                docs.append({"_id": did, "title": "", "text": f"passage {n} judged {lev} about {text[q][7:]}"})
                rows.append((q, did, lev))
    docs += [
        {"_id": f"f{i}", "title": "", "text": f"filler passage {i} about {TOPICS[i % len(TOPICS)]}"} for i in range(6)
    ]
    fillers = [d["_id"] for d in docs if d["_id"].startswith(("f", "dl"))]
    msmarco = {
        "corpus.jsonl": _jsonl(docs),
        # MS MARCO's queries.jsonl holds train, dev and DL 2019 queries, not DL 2020's
        "queries.jsonl": _jsonl({"_id": q, "text": text[q]} for q in TRAIN + DEV + DL19),
        "qrels/train.tsv": _tsv(train_qrels),
        "qrels/dev.tsv": _tsv(dev_qrels),
        "qrels/test.tsv": _tsv(dl19_qrels),
    }
    synth_docs, synth_qrels, bm25 = [], [], []
    for i, q in enumerate(TRAIN):
        for lev in (3, 2, 1, 0):
            did = f"{q}-L{lev}-0"
            synth_docs.append({"_id": did, "title": "", "text": f"synthetic level {lev} passage on {text[q][7:]}"})
            synth_qrels.append((q, did, lev))
        negatives = [fillers[(i + j) % len(fillers)] for j in range(4)]
        bm25.append({"qid": q, "docid": negatives, "score": [float(20 - j) for j in range(4)]})
    sycl = {
        "llama33_70b/corpus.jsonl": _jsonl(synth_docs),
        "llama33_70b/qrels/train.tsv": _tsv(synth_qrels),
        "real_data/bm25_top_docs/train_qrels.jsonl": _jsonl(bm25),
        "real_data/trec20/queries.jsonl": _jsonl({"_id": q, "text": text[q]} for q in DL20),
        "real_data/trec20/qrel.tsv": _tsv(dl20_qrels),
    }
    return PaperHub(
        cache,
        _write_repo(cache, "mteb/msmarco", MSMARCO_COMMIT, msmarco, branch=None),
        _write_repo(cache, "BatsResearch/sycl", SYCL_COMMIT, sycl),
    )


def use_hub_cache(cache: Path, monkeypatch) -> list[tuple[str, str]]:
    """Point huggingface_hub at ``cache`` and record every ``(repo, file)`` and ``(repo, "<snapshot>")`` asked for."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    calls: list[tuple[str, str]] = []
    real_file, real_snapshot = huggingface_hub.hf_hub_download, huggingface_hub.snapshot_download

    def file(repo_id, filename, **kw):
        calls.append((repo_id, filename))
        return real_file(repo_id, filename, **kw)

    def snapshot(repo_id, **kw):
        calls.append((repo_id, "<snapshot>"))
        return real_snapshot(repo_id, **kw)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", file)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    return calls
