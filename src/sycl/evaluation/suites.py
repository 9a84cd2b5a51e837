"""Registry of evaluation suites: named lists of data sets with their split and conventions.

A suite is a YAML file, shipped under ``sycl/resources/suites/<name>.yaml`` or given by
path; adding a benchmark is adding one entry::

    name: local
    root: ../shared/datasets          # optional base for relative sources
    datasets:
      - {name: scifact, source: scifact, split: test}
      - {name: trec-dl-2019, source: "hf://datasets/mteb/msmarco", split: test, relevance_level: 2}

``source`` is anything :func:`sycl.io.sources.resolve_dataset` accepts (folder, ``hf://``,
BEIR name). ``corpus``, ``queries`` and ``qrels`` put together a data set from files in
different places, each local or ``hf://datasets/<owner>/<name>[@revision]/<path>`` (fetched
alone), as a training source can: TREC DL 2020 is the released queries and judgements scored
against the MS MARCO corpus. Each replaces that part of ``source``; without ``source`` all three
are needed, and ``split`` only names the run file. ``relevance_level`` is the threshold of the
binary measures; ``primary`` the headline measure; ``precision`` and ``search_precision`` (per
entry, or for the whole suite at its top level) fix how it is encoded and searched unless the
evaluation names one, as does ``encode_backend`` (the ``paper`` suite: torch in fp32 and exact search, as the
reference ran; ``--precision auto --search-precision auto --encode-backend auto`` gives sycl's measured
fastest paths); ``ignore_identical_ids: true`` drops a retrieved
document whose id equals the query id (BEIR's rule, meant for ArguAna and Quora, whose queries are
themselves documents of the corpus). It is off unless an entry turns it on: the reference toolkit
never drops, and on other collections an equal id is a coincidence of numbering (Cranfield and CISI
number queries and documents from 1, so the rule would hide 1 and 7 judged-relevant documents).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pydantic import Field, model_validator

from sycl.config import StrictModel, read_yaml, validate
from sycl.io.errors import DataError
from sycl.io.sources import BEIR_NAMES
from sycl.kernels.options import EncodeBackend, Precision, SearchPrecision


class DatasetEntry(StrictModel):
    """One data set to evaluate: where it is, which split, and how to score it."""

    name: str
    source: str | None = Field(default=None, description="BEIR folder, hf://datasets/... path or BEIR name")
    corpus: str | None = Field(default=None, description="corpus.jsonl (local or hf://...), instead of source's")
    queries: str | None = Field(default=None, description="queries.jsonl (local or hf://...), instead of source's")
    qrels: str | None = Field(default=None, description="qrels file (local or hf://...), instead of source's split")
    split: str = "test"
    relevance_level: int = Field(default=1, ge=1)
    primary: str = "nDCG@10"
    ignore_identical_ids: bool = Field(
        default=False, description="drop a retrieved document whose id equals the query id (BEIR's ArguAna, Quora)"
    )

    precision: Precision | None = Field(
        default=None, description="encoding precision of this entry unless the evaluation names one"
    )
    search_precision: SearchPrecision | None = Field(
        default=None, description="search precision of this entry unless the evaluation names one"
    )
    encode_backend: EncodeBackend | None = Field(
        default=None, description="what encodes this entry's texts unless the evaluation names it"
    )

    @model_validator(mode="after")
    def _check_parts(self) -> DatasetEntry:
        if self.source is None and None in (self.corpus, self.queries, self.qrels):
            raise ValueError(f"data set {self.name!r}: give 'source', or all of 'corpus', 'queries' and 'qrels'")
        return self

    def describe(self) -> str:
        """Where the data set comes from, for logs and ``metrics.json``."""
        parts = [
            f"{k}={v}" for k, v in (("corpus", self.corpus), ("queries", self.queries), ("qrels", self.qrels)) if v
        ]
        return ", ".join(([self.source] if self.source else []) + parts)


class Suite(StrictModel):
    name: str
    description: str = ""
    root: str | None = None
    precision: Precision | None = Field(default=None, description="encoding precision of entries that set none")
    search_precision: SearchPrecision | None = Field(
        default=None, description="search precision of entries that set none"
    )
    encode_backend: EncodeBackend | None = Field(
        default=None, description="what encodes the texts of entries that set none"
    )
    datasets: list[DatasetEntry]


def _suite_dir():
    return resources.files("sycl") / "resources" / "suites"


def available_suites() -> list[str]:
    """Names of the suites shipped with sycl."""
    return sorted(p.name[:-5] for p in _suite_dir().iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a shipped suite by name or a suite YAML file; relative sources are joined to ``root``.

    ``$SYCL_DATASETS_ROOT`` replaces the ``root`` of a suite that declares one.
    """
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) and Path(text).exists():
        path = Path(text)
        data = read_yaml(path)
    elif text in available_suites():
        path = Path(str(_suite_dir() / f"{text}.yaml"))
        data = read_yaml(path)
    else:
        raise DataError(text, f"unknown suite; shipped suites: {', '.join(available_suites())}")
    suite = validate(Suite, data, str(path))
    for e in suite.datasets:
        e.precision = e.precision or suite.precision
        e.search_precision = e.search_precision or suite.search_precision
        e.encode_backend = e.encode_backend or suite.encode_backend
    root = os.environ.get("SYCL_DATASETS_ROOT") if suite.root is not None else None
    root = root or suite.root
    if root:
        for e in suite.datasets:
            for key in ("source", "corpus", "queries", "qrels"):
                value = getattr(e, key)
                if value is not None and "://" not in value and not Path(value).is_absolute():
                    setattr(e, key, str(Path(os.path.expandvars(root)) / value))
    return suite


def is_suite(spec: str) -> bool:
    """True for a shipped suite name or a ``.yaml`` suite file."""
    return (spec in available_suites()) or (spec.endswith((".yaml", ".yml")) and Path(spec).is_file())


def _name_of(spec: str) -> str:
    text = spec.rstrip("/")
    if text.startswith("hf://"):
        text = text.split("@")[0]
        return text.rsplit("/", 1)[-1]
    if not Path(text).exists() and text.split("/")[0] in BEIR_NAMES:
        return text.replace("/", "-")
    return Path(text).name or text


def expand(specs: list[str], split: str = "test", relevance_level: int | None = None) -> list[DatasetEntry]:
    """Turn command-line data set specs (suites, folders, ``hf://`` paths, BEIR names) into entries.

    ``split`` applies to specs that are not suites; ``relevance_level`` (when given)
    overrides every entry's level. Names are made unique with a numeric suffix.
    """
    out: list[DatasetEntry] = []
    for spec in specs:
        if is_suite(spec):
            out.extend(load_suite(spec).datasets)
        else:
            out.append(DatasetEntry(name=_name_of(spec), source=spec, split=split))
    if relevance_level is not None:
        for e in out:
            e.relevance_level = relevance_level
    seen: dict[str, int] = {}
    for e in out:
        key = f"{e.name}.{e.split}"
        if key in seen:
            seen[key] += 1
            e.name = f"{e.name}-{seen[key]}"
        else:
            seen[key] = 1
    return out
