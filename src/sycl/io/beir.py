"""BEIR/MTEB folder layout: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Queries and qrels are small enough to hold in dicts (500k MS MARCO queries fit in ~100 MB);
the corpus is not: open it with :class:`sycl.io.corpus.Corpus`, which memory-maps it.

Qrels are read from three layouts, detected per file:
  * BEIR TSV with header ``query-id<TAB>corpus-id<TAB>score``;
  * TREC qrels, 4 whitespace-separated columns ``qid 0 docid rel``;
  * grouped JSONL, one ``{"qid": ..., "docid": [...], "score": [...]}`` per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pyarrow as pa

from sycl.io.atomic import atomic_open
from sycl.io.columnar import QRELS_SCHEMA, has_duplicates, qrels_tsv_fast, queries_fast
from sycl.io.errors import DataError

Qrels = dict[str, dict[str, int]]


def _decode_problem(raw: bytes, err: UnicodeDecodeError, first_line: bool) -> str:
    if first_line and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "not valid UTF-8: the file looks like UTF-16 (byte-order mark); re-encode it as UTF-8"
    return f"not valid UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1} ({err.reason}); re-encode the file as UTF-8"


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for non-blank lines (1-based, ``\n``-terminated).

    Lines are decoded one by one, so a wrong encoding raises :class:`DataError` naming the
    exact line and column. A UTF-8 byte-order mark on the first line is dropped.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "expected a file, found a folder")
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(path, _decode_problem(raw, err, lineno == 1), lineno) from None
            if line.strip():
                yield lineno, line


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each JSON object line of ``path``."""
    for lineno, line in iter_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(path, f"malformed JSON: {err.msg} (column {err.colno})", lineno) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", lineno)
        yield lineno, obj


def _require_str(path: Path, lineno: int, obj: dict, key: str, allow_empty: bool = False) -> str:
    if key not in obj:
        raise DataError(path, f"missing field {key!r}", lineno)
    val = obj[key]
    if isinstance(val, (int, float)) and not isinstance(val, bool) and key == "_id":
        val = str(val)
    if not isinstance(val, str):
        raise DataError(path, f"field {key!r} must be a string, got {type(val).__name__}", lineno)
    if not allow_empty and not val.strip():
        raise DataError(path, f"field {key!r} is empty", lineno)
    return val


def read_queries(path: str | Path) -> dict[str, str]:
    """Read queries from BEIR ``queries.jsonl`` (``_id``, ``text``) or a TSV ``id<TAB>text``.

    Returns ``{query_id: text}`` in file order. Duplicate ids, missing fields and empty files
    raise :class:`DataError` naming the file and line.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "queries.jsonl"
    if path.suffix == ".jsonl" and path.is_file():
        fast = queries_fast(path)
        if fast is not None:
            return fast
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    if path.suffix in (".tsv", ".txt"):
        for lineno, line in iter_lines(path):
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) < 2:
                raise DataError(path, "expected 'id<TAB>text'", lineno)
            qid, text = parts[0].strip(), "\t".join(parts[1:]).strip()
            if lineno == 1 and qid.lower() in ("id", "qid", "query-id", "query_id", "_id"):
                continue
            if not qid or not text:
                raise DataError(path, "empty query id or text", lineno)
            if qid in out:
                raise DataError(path, f"duplicate query id {qid!r} (first on line {first[qid]})", lineno)
            out[qid], first[qid] = text, lineno
    else:
        for lineno, obj in iter_jsonl(path):
            qid = _require_str(path, lineno, obj, "_id")
            text = _require_str(path, lineno, obj, "text")
            if qid in out:
                raise DataError(path, f"duplicate query id {qid!r} (first on line {first[qid]})", lineno)
            out[qid], first[qid] = text, lineno
    if not out:
        raise DataError(path, "file is empty: no queries")
    return out


QRELS_HEADER = ("query-id", "query_id", "qid")  # first column of an optional TSV header line


def finite_score(path: Path, lineno: int, raw, what: str = "score") -> float:
    """``raw`` as a finite float, or a :class:`DataError` naming the file and line."""
    try:
        val = float(raw)
    except (TypeError, ValueError):
        raise DataError(path, f"{what} {raw!r} is not a number", lineno) from None
    if val != val or val in (float("inf"), float("-inf")):
        raise DataError(path, f"{what} {raw!r} is not finite", lineno)
    return val


def _label(path: Path, lineno: int, raw, what: str = "score") -> int:
    val = finite_score(path, lineno, raw, what)
    if val != int(val):
        raise DataError(path, f"{what} {raw!r} is not an integer label", lineno)
    return int(val)


def iter_qrels(path: str | Path, label=_label) -> Iterator[tuple[int, str, str, int]]:
    """Yield ``(line_number, query_id, doc_id, label)`` for every judgement of a qrels file.

    ``label(path, lineno, raw)`` parses each score: integer labels by default;
    :func:`finite_score` keeps fractional ones (the training tables use it).

    The layout is detected per file: ``.jsonl``/``.json`` is grouped JSONL (``score`` may be
    omitted; labels then default to 0, i.e. negatives); otherwise whitespace-separated
    columns, 3 (BEIR, optional header) or 4 (TREC ``qid 0 docid rel``). Does not check for
    duplicates or emptiness; :func:`read_qrels` does.
    """
    path = Path(path)
    if path.suffix in (".jsonl", ".json"):
        for lineno, obj in iter_jsonl(path):
            qid = _require_str(path, lineno, obj, "qid")
            dids = obj.get("docid")
            if not isinstance(dids, list):
                raise DataError(path, "field 'docid' must be a list", lineno)
            scores = obj.get("score", [0] * len(dids))
            if not isinstance(scores, list) or len(scores) != len(dids):
                raise DataError(path, "field 'score' must be a list as long as 'docid'", lineno)
            for did, s in zip(dids, scores):
                if not isinstance(did, (str, int)) or isinstance(did, bool) or not str(did).strip():
                    raise DataError(path, f"document id {did!r} in 'docid' must be a non-empty string", lineno)
                yield lineno, qid, str(did), label(path, lineno, s)
        return
    for lineno, line in iter_lines(path):
        # TSV when the line has tabs (ids may then contain spaces), else any whitespace
        parts = [p.strip() for p in line.strip().split("\t")] if "\t" in line else line.split()
        if lineno == 1 and parts and parts[0].lower() in QRELS_HEADER:
            continue
        if len(parts) == 3:
            qid, did, rel = parts
        elif len(parts) == 4:
            qid, _, did, rel = parts
        else:
            raise DataError(
                path, f"expected 3 columns (query-id corpus-id score) or 4 (qid 0 docid rel), got {len(parts)}", lineno
            )
        yield lineno, qid, did, label(path, lineno, rel)


def read_qrels(path: str | Path) -> Qrels:
    """Read qrels as ``{query_id: {doc_id: label}}`` from BEIR TSV, TREC 4-column or grouped JSONL.

    A repeated (query, document) pair or a file without judgements raises :class:`DataError`.
    BEIR TSV files are parsed with Arrow when they are clean (see :mod:`sycl.io.columnar`).
    For millions of judgements prefer :func:`read_qrels_arrow`.
    """
    path = Path(path)
    if path.suffix not in (".jsonl", ".json") and path.is_file():
        table = qrels_tsv_fast(path)
        if table is not None and not has_duplicates(table):
            return qrels_dict(table)
    qrels: Qrels = {}
    seen: dict[tuple[str, str], int] = {}
    for lineno, qid, did, rel in iter_qrels(path):
        key = (qid, did)
        if key in seen:
            raise DataError(
                path, f"duplicate judgement for query {qid!r}, document {did!r} (first on line {seen[key]})", lineno
            )
        seen[key] = lineno
        qrels.setdefault(qid, {})[did] = rel
    if not qrels:
        raise DataError(path, "file is empty: no judgements")
    return qrels


def qrels_path(folder: str | Path, split: str) -> Path:
    """Path of ``qrels/<split>.tsv`` in a BEIR folder; an unknown split lists the known ones."""
    folder = Path(folder)
    for ext in (".tsv", ".txt", ".jsonl"):
        p = folder / "qrels" / f"{split}{ext}"
        if p.exists():
            return p
    known = list_splits(folder)
    raise DataError(folder, f"unknown split {split!r}; available: {', '.join(known) or 'none (no qrels/ folder)'}")


def list_splits(folder: str | Path) -> list[str]:
    """Names of the qrels splits present in a BEIR folder."""
    qdir = Path(folder) / "qrels"
    if not qdir.is_dir():
        return []
    return sorted(
        {p.stem for p in qdir.iterdir() if p.suffix in (".tsv", ".txt", ".jsonl") and not p.name.startswith(".")}
    )


def write_corpus(path: str | Path, docs: Iterable[Mapping]) -> int:
    """Write ``corpus.jsonl`` atomically from mappings with ``_id``, ``text`` and optional ``title``/``metadata``."""
    n = 0
    with atomic_open(path) as fh:
        for d in docs:
            rec = {"_id": str(d["_id"]), "title": d.get("title", "") or "", "text": d["text"]}
            if d.get("metadata"):
                rec["metadata"] = d["metadata"]
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_queries(path: str | Path, queries: Mapping[str, str]) -> int:
    """Write BEIR ``queries.jsonl`` atomically from ``{query_id: text}``."""
    with atomic_open(path) as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": str(qid), "text": text}, ensure_ascii=False) + "\n")
    return len(queries)


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, int]] | Iterable[tuple[str, str, int]]) -> int:
    """Write BEIR ``qrels/<split>.tsv`` (with header) atomically from ``{query_id: {doc_id: label}}``
    or from ``(query id, doc id, label)`` rows (streamed); returns the number of rows."""
    if isinstance(qrels, Mapping):
        qrels = ((qid, did, rel) for qid, docs in qrels.items() for did, rel in docs.items())
    n = 0
    with atomic_open(path) as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qid, did, rel in qrels:
            fh.write(f"{qid}\t{did}\t{int(rel)}\n")
            n += 1
    return n


def read_qrels_arrow(path: str | Path) -> pa.Table:
    """Qrels as an Arrow table ``query-id: string, corpus-id: string, score: int64`` in file order.

    About 20 bytes a judgement plus the ids, against ~280 for ``{qid: {docid: label}}``
    dicts: use it for large qrels (MS MARCO: 2M judgements). Same layouts and the same
    :class:`DataError` for bad input as :func:`sycl.io.beir.read_qrels`.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    table = qrels_tsv_fast(path) if path.suffix not in (".jsonl", ".json") else None
    pa.default_memory_pool().release_unused()  # the CSV reader's buffers
    if table is not None and not has_duplicates(table):
        pa.default_memory_pool().release_unused()
        return table
    read_qrels(path)  # raises the precise error (duplicate, bad label, ...) if there is one
    rows = list(zip(*[(q, d, r) for _, q, d, r in iter_qrels(path)]))
    return pa.table([pa.array(c, t.type) for c, t in zip(rows, QRELS_SCHEMA)], schema=QRELS_SCHEMA)


def qrels_dict(table: pa.Table) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: label}}`` from a :func:`read_qrels_table` table."""
    out: dict[str, dict[str, int]] = {}
    for q, d, s in zip(
        table.column("query-id").to_pylist(), table.column("corpus-id").to_pylist(), table.column("score").to_pylist()
    ):
        out.setdefault(q, {})[d] = s
    return out
