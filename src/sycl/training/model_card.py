"""Model card (``README.md``) for a trained model directory (uploaded by :mod:`sycl.reporting.publish`).

The card is ``huggingface_hub.ModelCard`` rendered from ``resources/cards/model_card.md`` with
typed ``ModelCardData`` (``library_name``, ``pipeline_tag``, ``tags``, ``base_model``, and
``datasets``: the hub data sets the training sources came from, which the hub links to their
cards), as sentence-transformers writes its cards. The content comes from the files ``sycl
train`` leaves in the directory: ``training.json`` (read as a
:class:`~sycl.io.records.TrainingRecord`; its ``config`` is the resolved
:class:`~sycl.training.config.ExperimentConfig`), ``sycl_model.json``,
``config_sentence_transformers.json``, and, when known, evaluation results (``metrics.json``
of kind ``evaluation``). Local paths appear by their last component only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from sycl.io.atomic import atomic_write_text
from sycl.io.errors import DataError
from sycl.io.hub import data_origin
from sycl.io.markdown import fmt, md_escape
from sycl.io.records import TrainingRecord, read_record
from sycl.log import get_logger

log = get_logger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$|^[A-Za-z0-9][\w.-]*$")


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"malformed JSON: {err}") from None
    return obj if isinstance(obj, dict) else None


def _hub_id(name: str | None) -> str | None:
    """``name`` when it looks like a hub repository id and is not a local path, else None.

    The project's embedded encoder (``embedded:all-MiniLM-L6-v2``) is the hub's
    ``sentence-transformers/all-MiniLM-L6-v2``.
    """
    if name and name.startswith("embedded:"):
        return f"sentence-transformers/{name.split(':', 1)[1]}" if name.endswith("all-MiniLM-L6-v2") else None
    if not name or Path(name).exists() or name.startswith((".", "/", "~")):
        return None
    return name if _HUB_ID.match(name) else None


def find_eval_metrics(model_dir: Path) -> list[dict]:
    """Evaluation ``metrics.json`` objects that belong to ``model_dir``, in the layouts the project writes.

    Looks at ``model_dir/metrics.json``, ``model_dir/eval/**/metrics.json`` and, for a run
    directory layout (``RUN/models/NAME``), ``RUN/eval/NAME/metrics.json``.
    """
    candidates = [model_dir / "metrics.json"]
    if (model_dir / "eval").is_dir():
        candidates += sorted((model_dir / "eval").rglob("metrics.json"))
    if model_dir.parent.name == "models":
        candidates.append(model_dir.parent.parent / "eval" / model_dir.name / "metrics.json")
    out = []
    for p in candidates:
        obj = _read_json(p)
        if obj and obj.get("kind") == "evaluation" and isinstance(obj.get("results"), list):
            out.append(obj)
    return out


def _results(eval_metrics: Iterable) -> list[dict]:
    """Flatten paths / metrics objects / single result entries into result entries."""
    out = []
    for item in eval_metrics:
        if isinstance(item, (str, Path)):
            p = Path(item)
            p = p / "metrics.json" if p.is_dir() else p
            obj = _read_json(p)
            if obj is None:
                raise DataError(p, "evaluation metrics file not found")
            if obj.get("kind") != "evaluation":
                raise DataError(p, 'expected "kind": "evaluation"')
            item = obj
        if isinstance(item, dict) and isinstance(item.get("results"), list):
            out += [r for r in item["results"] if isinstance(r, dict)]
        elif isinstance(item, dict) and "measures" in item:
            out.append(item)
        else:
            raise DataError(
                None, f"eval_metrics entries must be metrics.json paths or objects, got {type(item).__name__}"
            )
    return out


def _prompts(model_dir: Path, sycl_model: dict) -> dict[str, str]:
    st = _read_json(model_dir / "config_sentence_transformers.json") or {}
    prompts = {k: v for k, v in (st.get("prompts") or {}).items() if isinstance(v, str) and v}
    if not prompts:
        if sycl_model.get("query_prefix"):
            prompts["query"] = sycl_model["query_prefix"]
        if sycl_model.get("passage_prefix"):
            prompts["passage"] = sycl_model["passage_prefix"]
    return prompts


def _prompt_kwargs(prompts: dict[str, str]) -> tuple[str, str]:
    qp = "query" if "query" in prompts else None
    pp = next((k for k in ("passage", "document", "corpus") if k in prompts), None)
    return (f', prompt_name="{qp}"' if qp else ""), (f', prompt_name="{pp}"' if pp else "")


def _value(v) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "[]"
    return f"{v:g}" if isinstance(v, float) else fmt(v)


# the settings that shape the model (the rest of ExperimentConfig is logging, output and machine)
_HYPERPARAMETERS = (
    "train.lr",
    "train.epochs",
    "train.max_steps",
    "train.batch_size",
    "train.gradient_accumulation",
    "train.weight_decay",
    "train.warmup_ratio",
    "train.schedule",
    "train.max_grad_norm",
    "train.seed",
    "train.in_batch_negatives",
    "train.grad_cache",
    "loss.temperature",
    "loss.label_temperature",
    "loss.in_batch",
    "loss.infonce_weight",
    "model.max_query_length",
    "model.max_passage_length",
)
_SOURCE_RULES = (
    "query_subset",
    "min_score",
    "max_score",
    "score_transform",
    "group_random_k",
    "group_top_k",
    "group_bottom_k",
    "group_first_k",
)


def _short(value: str) -> str:
    """A local path by its last component (a card is public; the folder is not), anything else as is."""
    return Path(value).name if ("/" in value and "://" not in value) else value


def _sources(config) -> tuple[list[dict], list[str]]:
    """The training sources for the card, and the hub data sets they were read from."""
    rows, repos = [], []
    for i, src in enumerate(config.data.sources):
        origin, repo = data_origin(src.path or src.corpus)
        for spec in (src.path, src.corpus, src.queries, src.qrels):
            hub = data_origin(spec)[1] if spec and spec.startswith("hf://") else None
            if hub and hub not in repos:
                repos.append(hub)
        rules = ", ".join(f"{k} {_value(getattr(src, k))}" for k in _SOURCE_RULES if getattr(src, k) is not None)
        rows.append(
            {
                "name": md_escape(src.name or f"source{i}"),
                "origin": origin,
                "qrels": md_escape(_short(src.qrels)),
                "rules": f"; {md_escape(rules)}" if rules else "",
            }
        )
    return rows, repos


def _experiment(path: Path, training: TrainingRecord):
    from sycl.config import validate
    from sycl.training.config import ExperimentConfig

    return validate(ExperimentConfig, training.config, f"{path}: config")


def render_model_card(model_dir: str | Path, eval_metrics: list | None = None, repo_id: str | None = None) -> str:
    """The card's Markdown text. ``repo_id`` replaces the local path in the loading example."""
    from huggingface_hub import ModelCard, ModelCardData

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise DataError(model_dir, "model directory not found")
    record = model_dir / "training.json"
    if not record.is_file():
        raise DataError(record, "not found: a model card needs the training record of `sycl train`")
    training = read_record(record, TrainingRecord)
    config = _experiment(record, training)
    sycl_model = _read_json(model_dir / "sycl_model.json") or {}
    results = _results(eval_metrics) if eval_metrics is not None else _results(find_eval_metrics(model_dir))
    base = training.base_model or config.model.model
    loss = training.loss or config.loss.name
    sources, repos = _sources(config)
    tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense-retrieval", "sycl"]
    tags.append(re.sub(r"[^a-z0-9-]+", "-", loss.lower()).strip("-"))
    data = ModelCardData(
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=list(dict.fromkeys(t for t in tags if t)),
        base_model=_hub_id(base),
        datasets=repos or None,
    )
    counts = training.label_counts
    model_rows = [("base model", md_escape(_short(base))), ("loss", md_escape(loss))]
    for key, label in (
        ("pooling", "pooling"),
        ("normalize", "normalised embeddings"),
        ("similarity", "similarity"),
        ("max_query_length", "max query tokens"),
        ("max_passage_length", "max passage tokens"),
    ):
        if key in sycl_model:
            model_rows.append((label, md_escape(_value(sycl_model[key]))))
    settings = config.model_dump(mode="json")
    hyper = []
    for key in _HYPERPARAMETERS:
        section, field = key.split(".")
        if settings[section][field] is not None:
            hyper.append((md_escape(key), md_escape(_value(settings[section][field]))))
    measures: list[str] = []
    for r in results:
        measures += [m for m in r.get("measures", {}) if m not in measures]
    prompts = _prompts(model_dir, sycl_model)
    query_kw, passage_kw = _prompt_kwargs(prompts)
    options = training.loss_options
    card = ModelCard.from_template(
        data,
        template_path=str(resources.files("sycl").joinpath("resources", "cards", "model_card.md")),
        title=md_escape(model_dir.resolve().name),
        base_model_text=f"`{base}`" if _hub_id(base) else f"`{_short(base)}`",
        model_rows=model_rows,
        n_queries=fmt(training.n_queries),
        n_passages=fmt(sum(counts.values()) or None),
        per_label=", ".join(
            f"level {k}: {fmt(v)}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]), reverse=True)
        ),
        sources=sources,
        group_size=config.data.group_size,
        data_format=config.data.format,
        selection=config.data.passage_selection_strategy.replace("_", " "),
        loss=md_escape(loss),
        loss_options=", ".join(f"`{md_escape(k)}` = {md_escape(_value(v))}" for k, v in options.items()),
        steps=fmt(training.steps),
        world_size=fmt(training.world_size),
        precision=md_escape(training.precision),
        seconds=fmt(training.seconds, 1),
        collapse_warnings=training.collapse_warnings,
        hyperparameters=hyper,
        measures=[md_escape(m) for m in measures],
        results=[
            {
                "dataset": md_escape(r.get("dataset", "?")),
                "split": md_escape(r.get("split", "")),
                "n_queries": fmt(r.get("n_queries")),
                "cells": [fmt(r.get("measures", {}).get(m)) for m in measures],
            }
            for r in results
        ],
        repo=repo_id or str(model_dir),
        query_kw=query_kw,
        passage_kw=passage_kw,
        prompts="; ".join(f"`{k}` = `{v}`" for k, v in prompts.items()),
    )
    return str(card)


def write_model_card(model_dir: str | Path, eval_metrics: list | None = None, repo_id: str | None = None) -> Path:
    """Write ``model_dir/README.md`` atomically and return its path.

    ``eval_metrics``: ``metrics.json`` paths (or their folders), loaded metrics objects, or single
    result entries (``{"dataset", "split", "measures", ...}``). ``None`` looks for metrics in the
    layouts of :func:`find_eval_metrics`.
    """
    path = Path(model_dir) / "README.md"
    atomic_write_text(path, render_model_card(model_dir, eval_metrics, repo_id))
    return path
