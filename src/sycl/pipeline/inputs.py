"""Every input file a run's stages read, checked before the first stage runs.

A missing evaluation data set used to surface only after generating, mining and training (an
hour at the paper's size). :func:`check_inputs` looks at every local path the experiment names
(the queries to generate for, prompt templates, the mining data set, each training source, each
evaluation data set, and models given as paths) and raises one :class:`DataError` listing all
that are missing. What a run makes itself (``{data}``, ``{heldout}``, ...), ``hf://`` paths and
BEIR names (both need the network to resolve) are left to their stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sycl.data.config import SourceConfig
from sycl.io.beir import qrels_path
from sycl.io.errors import DataError
from sycl.io.hub import is_hub
from sycl.io.sources import BEIR_NAMES
from sycl.pipeline.config import RunConfig

# (where in the experiment, the path, what is wrong)
Problem = tuple[str, str, str]


def local_path(value: str | Path | None) -> Path | None:
    """The local path ``value`` names, or ``None`` when a stage resolves it later: unset, a run path
    (``{data}``), an ``hf://`` path, or a BEIR data set name that is not a local folder."""
    if value is None:
        return None
    text = str(value)
    if not text or "{" in text or is_hub(text):
        return None
    path = Path(text).expanduser()
    if not path.exists() and text.partition("/")[0] in BEIR_NAMES:
        return None
    return path


def _model_path(value: str | None) -> str | None:
    """``value`` when it gives a model as a path (absolute, ``./``, ``../``, ``~``), else ``None``: a model
    ``owner/name`` may be a hub name, resolved when the stage loads it."""
    return value if value is not None and value.startswith(("/", "./", "../", "~")) else None


def _missing(key: str, value: str | Path | None) -> Iterator[Problem]:
    path = local_path(value)
    if path is not None and not path.exists():
        yield key, str(value), "not found"


def _source(key: str, spec: SourceConfig) -> Iterator[Problem]:
    from sycl.data.pool import source_files

    refs = {"path": spec.path, "corpus": spec.corpus, "queries": spec.queries, "query_subset": spec.query_subset}
    problems = [p for name, value in refs.items() for p in _missing(f"{key}.{name}", value)]
    yield from problems
    remote = any(v is not None and local_path(v) is None for v in (spec.path, spec.corpus, spec.queries, spec.qrels))
    if problems or remote:
        return
    try:  # every part local and present: the files the stage will open (the qrels split included)
        files = source_files(spec)
    except DataError as err:
        yield key, str(err.path), err.problem
        return
    for name, f in zip(("corpus", "queries", "qrels"), files):
        if not f.is_file():
            yield f"{key}.{name}", str(f), "file not found"


def _evaluation(datasets: list[str]) -> Iterator[Problem]:
    from sycl.evaluation.evaluator import locate
    from sycl.evaluation.suites import expand

    entries = []
    for i, spec in enumerate(datasets):
        key = f"evaluate.datasets[{i}]"
        if "{" in spec:
            continue
        try:
            entries += [(key, e) for e in expand([spec])]
        except DataError as err:
            yield key, str(err.path), err.problem
    for key, e in entries:
        parts = {"source": e.source, "corpus": e.corpus, "queries": e.queries, "qrels": e.qrels}
        problems = [p for name, value in parts.items() for p in _missing(f"{key} ({e.name}).{name}", value)]
        yield from problems
        if problems or any(v is not None and local_path(v) is None for v in parts.values()):
            continue
        try:  # every part local and present: the files the stage will open (the split's qrels included)
            locate(e)
        except DataError as err:
            yield f"{key} ({e.name})", str(err.path), err.problem


def missing_inputs(cfg: RunConfig) -> list[Problem]:
    """``(key, path, problem)`` of every input of every configured stage that is not there."""
    out: list[Problem] = []
    g = cfg.generate
    if g is not None:
        for key, value in (
            ("generate.queries", g.queries),
            ("generate.prompt_template", g.prompt_template),
            ("generate.llm_judge.prompt_template", g.llm_judge.prompt_template),
        ):
            out += _missing(key, value)
        folder = local_path(g.queries)
        if g.split and folder is not None and folder.is_dir():
            try:
                qrels_path(folder, g.split)
            except DataError as err:
                out.append(("generate.split", str(err.path), err.problem))
    if cfg.mine is not None:
        out += _missing("mine.dataset", cfg.mine.dataset)
        out += _missing("mine.model", _model_path(cfg.mine.model))
    for name, exp in cfg.train.items():
        for i, spec in enumerate(exp.data.sources):
            out += _source(f"train.{name}.data.sources[{i}]", spec)
        out += _missing(f"train.{name}.model.model", _model_path(exp.model.model))
    if cfg.evaluate is not None:
        out += _evaluation(cfg.evaluate.datasets)
    return out


def check_inputs(cfg: RunConfig) -> None:
    """Raise one :class:`DataError` naming every missing input (see :func:`missing_inputs`)."""
    problems = missing_inputs(cfg)
    if not problems:
        return
    (key, path, problem), rest = problems[0], problems[1:]
    also = "".join(f"; also {k}: {p}: {why}" for k, p, why in rest)
    raise DataError(path, f"{problem} ({key}){also}; nothing was run")
