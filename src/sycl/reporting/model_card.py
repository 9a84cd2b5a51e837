"""Model card (``README.md``) for a trained model directory, and upload to the Hugging Face hub.

The card is built from the files ``sycl train`` leaves in the directory (``training.json``,
``sycl_model.json``, ``config_sentence_transformers.json``) and, when known, evaluation
results (``metrics.json`` of kind ``evaluation``). It opens with the YAML front matter the hub
reads (``library_name``, ``pipeline_tag``, ``tags``, ``base_model``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sycl.io.atomic import atomic_write_text
from sycl.io.errors import DataError
from sycl.io.records import TrainingRecord, read_record
from sycl.log import get_logger
from sycl.reporting.content import fmt
from sycl.reporting.markdown import md_escape

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


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _flatten(v, f"{prefix}{k}.")]
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        return [kv for i, v in enumerate(obj) for kv in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), obj)]


def _value(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "[]"
    return f"{v:g}" if isinstance(v, float) else fmt(v)


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


def _usage(repo: str, prompts: dict[str, str]) -> str:
    qp = "query" if "query" in prompts else None
    pp = next((k for k in ("passage", "document", "corpus") if k in prompts), None)
    q_kw = f', prompt_name="{qp}"' if qp else ""
    p_kw = f', prompt_name="{pp}"' if pp else ""
    lines = [
        "```python",
        "from sentence_transformers import SentenceTransformer",
        "",
        f'model = SentenceTransformer("{repo}")',
        f'queries = model.encode(["what causes tides?"]{q_kw})',
        f'passages = model.encode(["Tides are caused by the gravitational pull of the moon and the sun."]{p_kw})',
        "scores = model.similarity(queries, passages)  # shape (n_queries, n_passages)",
        "print(scores)",
        "```",
    ]
    if prompts:
        shown = "; ".join(f"`{k}` = `{v}`" for k, v in prompts.items())
        lines += ["", f"The model was trained with prompts (prefixes), which `prompt_name` adds: {shown}."]
    return "\n".join(lines)


def render_model_card(model_dir: str | Path, eval_metrics: list | None = None, repo_id: str | None = None) -> str:
    """The card's Markdown text. ``repo_id`` replaces the local path in the loading example."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise DataError(model_dir, "model directory not found")
    if not (model_dir / "training.json").is_file():
        raise DataError(
            model_dir / "training.json", "not found: a model card needs the training record of `sycl train`"
        )
    training = read_record(model_dir / "training.json", TrainingRecord)
    sycl_model = _read_json(model_dir / "sycl_model.json") or {}
    results = _results(eval_metrics) if eval_metrics is not None else _results(find_eval_metrics(model_dir))
    base, loss = training.base_model, training.loss
    tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense-retrieval", "sycl"]
    if loss:
        tags.append(re.sub(r"[^a-z0-9-]+", "-", loss.lower()).strip("-"))
    front = ["---", "library_name: sentence-transformers", "pipeline_tag: sentence-similarity", "tags:"]
    front += [f"- {t}" for t in dict.fromkeys(tags) if t]
    if _hub_id(base):
        front.append(f"base_model: {_hub_id(base)}")
    front.append("---")

    name = model_dir.resolve().name
    counts = training.label_counts
    n_passages = sum(counts.values())
    body = [
        f"# {md_escape(name)}",
        "",
        f"A dense bi-encoder retriever fine-tuned from `{base or 'unknown'}` with SyCL "
        "(list-wise training on ranking contexts with multiple levels of relevance, arXiv 2503.23239).",
        "",
        "## Model",
        "",
        "| property | value |",
        "| --- | --- |",
        f"| base model | {md_escape(base or chr(0x2014))} |",
        f"| loss | {md_escape(loss or chr(0x2014))} |",
    ]
    for key, label in (
        ("pooling", "pooling"),
        ("normalize", "normalised embeddings"),
        ("similarity", "similarity"),
        ("max_query_length", "max query tokens"),
        ("max_passage_length", "max passage tokens"),
    ):
        if key in sycl_model:
            body.append(f"| {label} | {md_escape(_value(sycl_model[key]))} |")
    flat = [(k, v) for k, v in _flatten(training.config) if v is not None and v != {} and v != []]
    data_items = [(k, v) for k, v in flat if k.split(".")[0] == "data"]  # ExperimentConfig.data
    hyper = [(k, v) for k, v in flat if (k, v) not in data_items]
    body += [
        "",
        "## Training data",
        "",
        f"- queries: {fmt(training.n_queries)}",
        f"- judged passages: {fmt(n_passages or None)}",
    ]
    if counts:
        per = ", ".join(
            f"level {k}: {fmt(v)}" for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]), reverse=True)
        )
        body.append(f"- passages per relevance label: {per}")
    body += [f"- `{md_escape(k)}`: {md_escape(_value(v))}" for k, v in data_items]
    body += [
        "",
        "## Training procedure",
        "",
        f"- loss: `{loss or 'unknown'}`",
        f"- optimiser steps: {fmt(training.steps)} on {fmt(training.world_size)} process(es), "
        f"precision {md_escape(training.precision)}",
        f"- training time: {fmt(training.seconds, 1)} s",
    ]
    options = training.loss_options
    if options:
        body.append(
            "- loss options: " + ", ".join(f"`{md_escape(k)}` = {md_escape(_value(v))}" for k, v in options.items())
        )
    if hyper:
        body += ["", "| hyper-parameter | value |", "| --- | --- |"]
        body += [f"| {md_escape(k)} | {md_escape(_value(v))} |" for k, v in hyper]
    body += ["", "## Evaluation", ""]
    if results:
        measures: list[str] = []
        for r in results:
            measures += [m for m in r.get("measures", {}) if m not in measures]
        body += [
            "| data set | split | queries | " + " | ".join(md_escape(m) for m in measures) + " |",
            "| --- | --- | ---: |" + " ---: |" * len(measures),
        ]
        for r in results:
            ms = r.get("measures", {})
            body.append(
                f"| {md_escape(r.get('dataset', '?'))} | {md_escape(r.get('split', ''))} | {fmt(r.get('n_queries'))} | "
                + " | ".join(fmt(ms.get(m)) for m in measures)
                + " |"
            )
    else:
        body.append("No evaluation results were recorded with this model; run `sycl evaluate` on it.")
    body += [
        "",
        "## Usage",
        "",
        "With [sentence-transformers](https://www.sbert.net):",
        "",
        _usage(repo_id or str(model_dir), _prompts(model_dir, sycl_model)),
        "",
    ]
    return "\n".join(front + [""] + body)


def write_model_card(model_dir: str | Path, eval_metrics: list | None = None, repo_id: str | None = None) -> Path:
    """Write ``model_dir/README.md`` atomically and return its path.

    ``eval_metrics``: ``metrics.json`` paths (or their folders), loaded metrics objects, or single
    result entries (``{"dataset", "split", "measures", ...}``). ``None`` looks for metrics in the
    layouts of :func:`find_eval_metrics`.
    """
    path = Path(model_dir) / "README.md"
    atomic_write_text(path, render_model_card(model_dir, eval_metrics, repo_id))
    return path


_NETWORK_ERROR_NAMES = {
    "TransportError",
    "NetworkError",
    "ConnectError",
    "ConnectTimeout",
    "TimeoutException",
    "ConnectionError",
    "Timeout",
    "OfflineModeIsEnabled",
    "NameResolutionError",
    "MaxRetryError",
}


def _is_network_error(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it wraps) is a failure to reach a server, whichever HTTP client raised it."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, (ConnectionError, TimeoutError)):
            return True
        if any(cls.__name__ in _NETWORK_ERROR_NAMES for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
        seen += 1
    return False


def push_to_hub(
    model_dir: str | Path,
    repo_id: str,
    token_env: str = "HF_TOKEN",
    private: bool = False,
    commit_message: str = "Upload SyCL model",
) -> str:
    """Upload a trained model directory to the Hugging Face hub; return the repository URL.

    The model card is (re)written with ``repo_id`` in its loading example first. The token is
    read from the environment variable ``token_env`` (else the cached ``huggingface-cli login``).
    Offline mode or an unreachable hub raises :class:`DataError` saying so.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").is_file():
        raise DataError(model_dir, "not a sentence-transformers model directory (no modules.json)")
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise DataError(
            model_dir,
            "cannot push to the hub: no network is reachable (HF_HUB_OFFLINE is set); "
            "unset it on a machine with internet access",
        )
    write_model_card(model_dir, repo_id=repo_id)
    token = os.environ.get(token_env) or None
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(
            folder_path=str(model_dir),
            repo_id=repo_id,
            repo_type="model",
            commit_message=commit_message,
            ignore_patterns=["checkpoint-*", "checkpoint-*/**", ".*", "**/.*", "*.tmp"],
        )
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        hint = f" (set {token_env} to a token with write access)" if status in (401, 403) else ""
        raise DataError(model_dir, f"the hub refused the upload to {repo_id!r}: {err}{hint}") from None
    except Exception as err:
        if not _is_network_error(err):
            raise
        raise DataError(
            model_dir, f"cannot push to {constants.ENDPOINT}: no network is reachable ({type(err).__name__}: {err})"
        ) from None
    log.info("pushed %s to %s", model_dir, url)
    return str(url)
