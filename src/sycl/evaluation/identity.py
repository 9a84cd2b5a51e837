"""What identifies the data set an evaluation scored: where its files came from, and its judgements.

``sycl evaluate`` records both in every ``results`` entry of ``metrics.json``:

* ``origin``: the corpus, queries and qrels files, each as the hub file it was fetched from
  (``hf://datasets/<owner>/<name>@<commit>/<path>``), the BEIR archive it was unpacked from
  (``beir:<name>/<path>``), or its absolute local path;
* ``qrels_sha256``: sha256 of the judgements actually used (those of queries that are in the
  queries file), one ``qid<TAB>docid<TAB>label`` line each, sorted;
* ``content``: the xxh3-128 checksum of the corpus and queries files' bytes.

``sycl compare`` pairs two evaluations query by query only when they scored the same data set: two
data sets with the same name and overlapping query ids (two cuts both called ``tiny``) are otherwise
paired. The judgements must be equal, and so must the corpus and queries: by content when both
evaluations recorded it (a local copy at another path is the same data set; a file edited in place
between the two is not), else by origin (outputs written before ``content`` was recorded).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from sycl.io.corpus import Corpus, cache_root
from sycl.io.errors import DataError
from sycl.io.integrity import file_checksum

FIELDS = ("origin", "qrels_sha256")

# huggingface_hub's cache: datasets--<owner>--<name>/snapshots/<commit>/<path>
_HF_CACHE = re.compile(
    r"/datasets--(?P<owner>[^/]+?)--(?P<name>[^/]+)/snapshots/(?P<commit>[0-9a-f]{40})/(?P<path>.+)$"
)
# sycl's conversion of a hub data set: <cache>/hub/<owner>__<name>/<commit>/<subfolder or _root>/<file>
_SYCL_HUB = re.compile(r"^(?P<owner>[^/]+?)__(?P<name>[^/]+)/(?P<commit>[0-9a-f]{40})/(?P<path>.+)$")


def file_origin(path: str | Path) -> str:
    """Where a local data file came from: a hub file with its commit, a BEIR archive, or its absolute path.

    The path is made absolute without following links: huggingface_hub's snapshot files are links
    into ``blobs/``, and the snapshot path is the one that names the repository and commit.
    """
    absolute = os.path.abspath(os.path.expanduser(str(path)))
    m = _HF_CACHE.search(absolute)
    if m:
        return f"hf://datasets/{m['owner']}/{m['name']}@{m['commit']}/{m['path']}"
    root = os.path.abspath(cache_root())
    for sub, fmt in (("hub", "hub"), ("beir", "beir")):
        base = os.path.join(root, sub) + os.sep
        if absolute.startswith(base):
            rel = absolute[len(base) :].replace(os.sep, "/")
            if fmt == "beir":
                return f"beir:{rel}"
            m = _SYCL_HUB.match(rel)
            if m:
                inner = m["path"].removeprefix("_root/")
                return f"hf://datasets/{m['owner']}/{m['name']}@{m['commit']}/{inner}"
    return absolute


def dataset_origin(corpus: Path, queries: Path, qrels: Path) -> dict[str, str]:
    """``{"corpus", "queries", "qrels"}``: :func:`file_origin` of each file an evaluation read."""
    return {"corpus": file_origin(corpus), "queries": file_origin(queries), "qrels": file_origin(qrels)}


def dataset_content(corpus: Corpus, queries: Path) -> dict[str, str]:
    """``{"corpus", "queries"}``: the xxh3-128 checksum of each file's bytes (the corpus's is computed once per
    conversion, :meth:`sycl.io.corpus.Corpus.checksum`: MS MARCO's 3 GB are not re-read by each evaluation)."""
    return {"corpus": corpus.checksum(), "queries": file_checksum(queries)}


def qrels_fingerprint(qrels: Mapping[str, Mapping[str, int | float]]) -> str:
    """sha256 of ``{qid: {docid: label}}`` as sorted ``qid<TAB>docid<TAB>label`` lines."""
    h = hashlib.sha256()
    for qid in sorted(qrels):
        docs = qrels[qid]
        for did in sorted(docs):
            h.update(f"{qid}\t{did}\t{docs[did]}\n".encode())
    return h.hexdigest()


def same_dataset(a: dict, b: dict) -> bool | None:
    """Whether two ``results`` entries scored the same data set; ``None`` when one of them does not say."""
    if any(f not in e for e in (a, b) for f in FIELDS):
        return None
    if a["qrels_sha256"] != b["qrels_sha256"]:
        return False
    if a.get("content") and b.get("content"):
        return a["content"] == b["content"]
    return a["origin"] == b["origin"]


def check_same_dataset(key: str, outputs: list[tuple[Path, dict]]) -> None:
    """Raise :class:`DataError` unless every ``(metrics.json, results entry)`` of data set ``key`` (``name/split``)
    has the same origin and the same judgements; one without the fields is an error that says to re-run."""
    for path, entry in outputs:
        missing = [f for f in FIELDS if f not in entry]
        if missing:
            raise DataError(
                path,
                f"{key}: no {' or '.join(repr(f) for f in missing)} in this evaluation output (written by sycl "
                "evaluate since it records which data set it scored), so it cannot be checked to be the same "
                "data set as the others; re-run sycl evaluate on it (cached vectors make that quick)",
            )
    first_path, first = outputs[0]
    for path, entry in outputs[1:]:
        if same_dataset(entry, first):
            continue
        same_files = entry["origin"] == first["origin"]
        if same_files and entry["qrels_sha256"] != first["qrels_sha256"]:
            what = (
                f"has other judgements than {key} in {first_path}, read from the same files (did they change "
                "between the two evaluations?)"
            )
        elif same_files:
            changed = " and ".join(f for f in ("corpus", "queries") if entry["content"][f] != first["content"][f])
            what = (
                f"was read from the same files as {key} in {first_path}, but its {changed} changed between the "
                "two evaluations"
            )
        else:
            what = f"is not the data set called {key} in {first_path}"
        raise DataError(
            path,
            f"{key} {what}, so their queries cannot be paired: here {_describe(entry)}; there {_describe(first)}",
        )


def _describe(entry: dict) -> str:
    o, n = entry["origin"], entry.get("n_documents")
    docs = f"{n} documents, " if n is not None else ""
    return f"{o['qrels']} (corpus {o['corpus']}, {docs}qrels sha256 {entry['qrels_sha256'][:12]})"
