"""Where a data set comes from: a local folder, a Hugging Face hub path, or a BEIR name.

``resolve_dataset(spec)`` turns any of these into a local BEIR folder:

* a local folder (returned as is);
* ``hf://datasets/<owner>/<name>[@revision][/subdir]``: downloaded with
  ``huggingface_hub.snapshot_download`` (kept in the Hugging Face cache). Repositories in
  the BEIR layout are used directly; MTEB-style repositories (parquet ``corpus``/``queries``/
  ``qrels`` configs, or gzipped JSONL) are converted once to BEIR JSONL under
  ``$SYCL_CACHE/hub/``;
* a BEIR data set name (``scifact``, ``msmarco``, ``trec-covid``, optionally ``name/subdir``
  as in ``cqadupstack/android``): the archive ``$SYCL_BEIR_URL/<name>.zip`` (default: the
  BEIR archive at TU Darmstadt) is downloaded to a temporary file, unzipped and renamed
  into ``$SYCL_CACHE/beir/<name>``.

Without a network (connection refused, no DNS, ``HF_HUB_OFFLINE=1``) and without a cached
copy, :class:`DataError` says so and asks for a local folder.

``resolve_location(value)`` is for one file (a corpus, a queries or a qrels file) given locally
or as ``hf://datasets/<owner>/<name>[@revision]/<path>``: a hub file is fetched alone
(:mod:`sycl.io.hub`), never its whole folder or repository.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from sycl.io.atomic import atomic_dir
from sycl.io.beir import iter_jsonl, write_corpus, write_qrels, write_queries
from sycl.io.corpus import cache_root
from sycl.io.errors import DataError
from sycl.io.hub import check_parts, hub_file, is_hub, not_cached, parse_hub_path
from sycl.log import get_logger, progress

_log = get_logger(__name__)

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets"
# Data sets whose archives the BEIR project publishes at BEIR_URL.
BEIR_NAMES = (
    "msmarco",
    "trec-covid",
    "nfcorpus",
    "nq",
    "hotpotqa",
    "fiqa",
    "arguana",
    "webis-touche2020",
    "cqadupstack",
    "quora",
    "dbpedia-entity",
    "scidocs",
    "fever",
    "climate-fever",
    "scifact",
)
_NO_NETWORK = "no network is reachable ({why}); pass a local BEIR folder instead (corpus.jsonl, queries.jsonl, qrels/)"


def beir_url() -> str:
    """Base URL of the BEIR archives (``$SYCL_BEIR_URL`` overrides the default)."""
    return os.environ.get("SYCL_BEIR_URL", BEIR_URL).rstrip("/")


def resolve_dataset(spec: str | Path) -> Path:
    """A local BEIR folder for ``spec`` (folder, ``hf://datasets/...`` or BEIR name), downloading if needed."""
    text = str(spec)
    if text.startswith("hf://"):
        return _resolve_hf(text)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise DataError(path, "expected a BEIR folder (corpus.jsonl, queries.jsonl, qrels/), found a file")
        return path
    name, _, sub = text.partition("/")
    if name in BEIR_NAMES:
        if sub:
            check_parts(text, sub.rstrip("/"), "folder")
        return _resolve_beir(name, sub)
    raise DataError(
        text,
        "not found: neither a local folder, an hf://datasets/<owner>/<name> path, "
        f"nor a BEIR data set name ({', '.join(BEIR_NAMES)})",
    )


def resolve_location(value: str | Path, default_name: str | None = None) -> Path:
    """A local path for a file given locally or as ``hf://datasets/<owner>/<name>[@rev]/<path>``.

    A hub path that names a file is fetched as that one file. A folder (local, or a hub path
    without a file suffix) stands for its ``default_name`` file when one is given (a corpus
    folder for its ``corpus.jsonl``); a hub folder without ``default_name`` is resolved as a
    whole data set (:func:`resolve_dataset`).
    """
    if is_hub(value):
        hp = parse_hub_path(str(value))
        if hp.names_file:
            return hub_file(hp)
        if default_name is not None:
            return hub_file(hp.child(default_name))
        return resolve_dataset(str(value))
    path = Path(value).expanduser()
    if default_name is not None and path.is_dir():
        return path / default_name
    return path


# ---------------------------------------------------------------- BEIR archives


def _resolve_beir(name: str, sub: str = "") -> Path:
    root = cache_root() / "beir"
    final = root / name
    if not final.is_dir():
        with atomic_dir(final) as tmp:  # another process that finished first keeps its copy
            archive = tmp / f".{name}.zip"
            _download(f"{beir_url()}/{name}.zip", archive)
            inner = _unzip(archive, tmp / ".unzipped")
            for child in list(inner.iterdir()):
                child.rename(tmp / child.name)
            archive.unlink()
            shutil.rmtree(tmp / ".unzipped", ignore_errors=True)
    out = final / sub if sub else final
    if not out.is_dir():
        raise DataError(out, f"the BEIR archive {name!r} has no folder {sub!r}")
    return out


def _download(url: str, dest: Path) -> None:
    """Stream ``url`` to ``dest`` with a progress bar; network failures become :class:`DataError`."""
    _log.info("downloading %s", url)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(30.0, connect=10.0)) as resp:
            if resp.status_code != 200:
                raise DataError(url, f"download failed: HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length") or 0) or None
            with open(dest, "wb") as fh, progress(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                for chunk in resp.iter_bytes(1 << 20):
                    fh.write(chunk)
                    bar.update(len(chunk))
    except httpx.TransportError as err:
        raise DataError(url, _NO_NETWORK.format(why=f"{type(err).__name__}: {err}")) from None


def _unzip(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest``; return the data set folder (the single top folder, if any)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise DataError(archive, f"unsafe path in archive: {member!r}")
            zf.extractall(dest)
    except zipfile.BadZipFile as err:
        raise DataError(archive, f"not a valid zip archive ({err})") from None
    entries = [p for p in dest.iterdir() if not p.name.startswith(("__MACOSX", "."))]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


# ---------------------------------------------------------------- Hugging Face hub


def _resolve_hf(spec: str) -> Path:
    hp = parse_hub_path(spec)
    repo, rev, sub = hp.repo, hp.revision, hp.path
    if hp.names_file:
        raise DataError(
            spec, "names a file; a data set is a folder (give the file as a source's corpus, queries or qrels instead)"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        snap = Path(
            snapshot_download(repo, repo_type="dataset", revision=rev, allow_patterns=[f"{sub}/**"] if sub else None)
        )
    except RevisionNotFoundError:
        raise DataError(spec, f"missing revision: {repo} has no revision {rev!r} on the Hugging Face hub") from None
    except RepositoryNotFoundError:
        raise DataError(spec, f"no data set {repo} on the Hugging Face hub (or it is private)") from None
    except LocalEntryNotFoundError as err:
        raise DataError(spec, not_cached(hp, err) + "; pass a local BEIR folder instead") from None
    src = snap / sub if sub else snap
    hub_cache = cache_root() / "hub"
    dst = hub_cache / repo.replace("/", "__") / snap.name / (sub or "_root")
    if not (_inside(src, snap) or src == snap) or not _inside(dst, hub_cache):  # parse_hub_path refused '..' already
        raise DataError(spec, "the path leaves the Hugging Face cache")
    if not src.is_dir():
        raise DataError(spec, f"the repository has no folder {sub!r}")
    if (src / "corpus.jsonl").exists() and (src / "queries.jsonl").exists():
        return src
    if not (dst / "corpus.jsonl").exists():
        convert_hub_layout(src, dst)
    return dst


_DOC_ID_COLS = ("_id", "id", "doc_id", "docid", "corpus-id")
_QUERY_ID_COLS = ("_id", "id", "query_id", "qid", "query-id")
_QID_COLS = ("query-id", "query_id", "qid", "q_id")
_DID_COLS = ("corpus-id", "corpus_id", "doc_id", "docid", "pid")
_REL_COLS = ("score", "relevance", "label", "rel")


def _pick(cols: list[str], names: tuple[str, ...], what: str, where: Path) -> str:
    for n in names:
        if n in cols:
            return n
    raise DataError(where, f"no {what} column (looked for {', '.join(names)}; found {', '.join(cols)})")


def _parquet_rows(files: list[Path]) -> Iterator[tuple[Path, dict]]:
    import pyarrow.parquet as pq

    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                yield f, row


def _jsonl_rows(path: Path) -> Iterator[tuple[Path, dict]]:
    if path.suffix == ".gz":
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / path.stem
            with gzip.open(path, "rb") as fin, open(plain, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            for _, obj in iter_jsonl(plain):
                yield path, obj
    else:
        for _, obj in iter_jsonl(path):
            yield path, obj


def _table_source(src: Path, config: str) -> Iterator[tuple[Path, dict]] | None:
    """Rows of ``config`` (``corpus``/``queries``) from JSONL(.gz) or parquet files, or None."""
    for name in (f"{config}.jsonl", f"{config}.jsonl.gz"):
        if (src / name).exists():
            return _jsonl_rows(src / name)
    files = sorted((src / config).rglob("*.parquet")) if (src / config).is_dir() else []
    files = files or sorted(src.glob(f"{config}-*.parquet")) or sorted(src.glob(f"data/{config}-*.parquet"))
    return _parquet_rows(files) if files else None


def _records(rows: Iterator[tuple[Path, dict]], fields: dict[str, tuple[str, ...]], optional=("title",)):
    cols: dict[str, str] | None = None
    for f, row in rows:
        if cols is None:
            cols = {k: _pick(list(row), names, k, f) for k, names in fields.items() if k not in optional}
            cols.update({k: n for k in optional for n in fields.get(k, ()) if n in row})
        yield {k: ("" if row.get(c) is None else row[c]) for k, c in cols.items()}


def _qrels_files(src: Path) -> dict[str, list[Path]]:
    """``{split: files}`` for qrels stored as TSV or parquet (``qrels/``, ``default/`` or ``data/``)."""
    out: dict[str, list[Path]] = {}
    for folder in ("qrels", "default", "data"):
        d = src / folder
        if not d.is_dir():
            continue
        for f in sorted(d.rglob("*")):
            if f.suffix not in (".tsv", ".parquet") or f.name.startswith(("corpus", "queries")):
                continue
            split = f.stem.split("-")[0] if f.suffix == ".parquet" else f.stem
            if f.suffix == ".parquet" and f.parent != d:  # qrels/<split>/0000.parquet
                split = f.parent.name
            out.setdefault(split, []).append(f)
        if out:
            break
    return out


def _inside(path: Path, root: Path) -> bool:
    """True when ``path`` lies strictly below ``root``, by their normalised absolute paths."""
    return os.path.normpath(os.path.abspath(path)).startswith(os.path.normpath(os.path.abspath(root)) + os.sep)


def convert_hub_layout(src: Path, dst: Path) -> Path:
    """Convert an MTEB/hub data set folder (parquet configs or JSONL.gz) to a new BEIR folder ``dst``.

    Corpus rows need an id (``_id``/``id``) and ``text`` (``title`` optional); queries an id
    and ``text``; qrels ``query-id``, ``corpus-id``, ``score``. Written atomically: the folder
    appears under ``dst`` only when complete. An existing ``dst`` is never replaced or removed
    (a :class:`DataError`), except that one a concurrent conversion finished first is used.
    """
    from sycl.io.beir import read_qrels

    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DataError(dst, "already exists; the conversion writes a new folder and never replaces one")

    corpus, queries = _table_source(src, "corpus"), _table_source(src, "queries")
    if corpus is None or queries is None:
        raise DataError(
            src, "no corpus/queries found (expected corpus.jsonl[.gz] or corpus/*.parquet, and the same for queries)"
        )
    splits = _qrels_files(src)
    if not splits:
        raise DataError(
            src,
            "no qrels found (expected qrels/<split>.tsv or qrels/<split>-*.parquet; "
            "the BeIR/<name> hub repositories keep them in BeIR/<name>-qrels)",
        )
    with atomic_dir(dst) as tmp:  # another process that finished the same conversion first keeps its copy
        write_corpus(
            tmp / "corpus.jsonl", _records(corpus, {"_id": _DOC_ID_COLS, "text": ("text",), "title": ("title",)})
        )
        write_queries(
            tmp / "queries.jsonl",
            {str(r["_id"]): r["text"] for r in _records(queries, {"_id": _QUERY_ID_COLS, "text": ("text",)})},
        )
        for split, files in splits.items():
            qrels: dict[str, dict[str, int]] = {}
            if files[0].suffix == ".tsv":
                for f in files:
                    for qid, docs in read_qrels(f).items():
                        qrels.setdefault(qid, {}).update(docs)
            else:
                recs = _records(_parquet_rows(files), {"q": _QID_COLS, "d": _DID_COLS, "s": _REL_COLS})
                for r in recs:
                    qrels.setdefault(str(r["q"]), {})[str(r["d"])] = int(r["s"])
            write_qrels(tmp / "qrels" / f"{split}.tsv", qrels)
    if not (dst / "corpus.jsonl").is_file():
        raise DataError(dst, "appeared while converting and is not a converted data set; left as it is")
    return dst
