"""Dataset card (``README.md``) of a BEIR folder, from its files and ``manifest.json`` of ``sycl generate``.

The card is ``huggingface_hub.DatasetCard`` rendered from ``resources/cards/dataset_card.md``
with typed ``DatasetCardData``: the YAML metadata carries ``configs`` the way the hub's viewer
and ``datasets.load_dataset`` read a BEIR repository (``corpus``, ``queries`` and ``default`` =
the qrels, one split per ``qrels/<split>.tsv``), the task, size category, licence and source.
The body has the counts per file and split (counted from the files), and for a generated set
the generation settings, the passages per relevance level, the judges' numbers, the prompt
template and the source queries' origin and licence.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from sycl.io.atomic import atomic_write_text
from sycl.io.errors import DataError
from sycl.io.hub import data_origin, is_network_error
from sycl.io.markdown import md_escape

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def size_category(n: int) -> str:
    """The hub's ``size_categories`` value for ``n`` rows."""
    for bound, name in _SIZES:
        if n < bound:
            return name
    return "1M<n<10M" if n < 10_000_000 else "10M<n<100M" if n < 100_000_000 else "n>100M"


def read_manifest(dataset_dir: Path) -> dict | None:
    """``manifest.json`` of a generated set (kind ``generation``), or ``None`` when the folder has none."""
    path = dataset_dir / "manifest.json"
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"malformed JSON: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != "generation":
        raise DataError(path, 'expected "kind": "generation" (the manifest of sycl generate)')
    return manifest


def hub_license(repo: str, revision: str | None = None) -> str | None:
    """The ``license`` of a hub data set's card, or ``None`` when it states none or cannot be read."""
    from huggingface_hub import DatasetCard, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        card = DatasetCard.load(hf_hub_download(repo, "README.md", repo_type="dataset", revision=revision))
    except Exception as err:  # a licence that cannot be looked up is reported unknown
        if isinstance(err, (OSError, ValueError, HfHubHTTPError)) or is_network_error(err):
            return None
        raise
    value = card.data.license
    return ", ".join(value) if isinstance(value, list) else value


def _judge_lines(manifest: dict) -> list[str]:
    lines = []
    q = manifest.get("quality")
    if q:
        per = ", ".join(f"{k}: {v:.3f}" for k, v in q["per_level_mean"].items())
        lines.append(
            f"embedding judge `{md_escape(q['judge'])}`: mean query-passage cosine per level {per}; "
            f"Kendall tau with the intended order {q['kendall_tau_mean']:.3f}; passages in the intended order in "
            f"{q['share_expected_order']:.1%} of the contexts"
            + (f"; {q['dropped']} inconsistent contexts dropped" if q.get("filter_inconsistent") else "")
        )
    j = manifest.get("llm_judge")
    if j:
        lines.append(
            f"LLM judge `{md_escape(j.get('model'))}`: Cohen's kappa {j['cohen_kappa']} and exact agreement "
            f"{j['exact_agreement']} with the intended levels, intended order in {j['share_expected_order']} "
            f"of the contexts; graded {j['judged']} of {j['passages']} passages"
            + (f", dropped {j['dropped']}" if j.get("dropped") else "")
            + (f", relabelled {j['relabelled']}" if j.get("relabelled") else "")
        )
    return lines


def _generation_rows(manifest: dict) -> list[tuple[str, str]]:
    s, c, t = manifest.get("sampling") or {}, manifest.get("counts") or {}, manifest.get("tokens") or {}
    prompt = manifest.get("prompt") or {}
    rows = [
        ("generator", f"{manifest.get('model')} ({manifest.get('backend')} backend)"),
        ("model file", manifest.get("model_file")),
        ("mode", manifest.get("mode")),
        ("structured output", manifest.get("structured_output")),
        ("prompt template", f"{prompt.get('source')} (sha256 {str(prompt.get('sha256'))[:16]})"),
        ("temperature", s.get("temperature")),
        ("top_p", s.get("top_p")),
        ("max tokens", s.get("max_tokens")),
        ("seed", s.get("seed")),
        ("passages per level", s.get("passages_per_level")),
        ("samples per query", s.get("samples_per_query")),
        ("passage words", s.get("passage_words")),
        ("attempts per context", s.get("max_attempts")),
        ("queries", c.get("queries")),
        ("contexts kept", f"{c.get('contexts')} ({c.get('failed', 0)} failed, {c.get('filtered', 0)} filtered)"),
        ("tokens", f"{t.get('prompt')} prompt, {t.get('completion')} completion"),
        ("sycl version", manifest.get("sycl_version")),
    ]
    return [(name, md_escape(str(v))) for name, v in rows if v is not None]


def _fence(text: str) -> str:
    return "~~~~" if "```" in text else "```"


def render_dataset_card(dataset_dir: str | Path, repo_id: str, license: str | None = None) -> str:
    """The card's Markdown text for ``dataset_dir`` as hub repository ``repo_id``.

    ``license``: the data set's licence for the metadata; ``None`` takes the source queries'
    licence when they came from a hub data set whose card states one.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    from sycl.io.validate import validate_folder

    dataset_dir = Path(dataset_dir)
    report = validate_folder(dataset_dir)
    manifest = read_manifest(dataset_dir)
    origin, source_repo = data_origin(manifest.get("queries_source") if manifest else None)
    source_license = hub_license(source_repo) if source_repo else None
    splits = [
        {
            "name": s.name,
            "judgements": s.judgements,
            "queries_judged": s.queries_judged,
            "per_label": ", ".join(f"label {k}: {v}" for k, v in sorted(s.labels.items(), reverse=True)),
        }
        for s in report.splits
    ]
    configs = [
        {"config_name": "corpus", "data_files": [{"split": "corpus", "path": "corpus.jsonl"}]},
        {"config_name": "queries", "data_files": [{"split": "queries", "path": "queries.jsonl"}]},
        {
            "config_name": "default",
            "data_files": [{"split": s.name, "path": f"qrels/{s.name}.tsv"} for s in report.splits],
        },
    ]
    name = repo_id.split("/")[-1]
    data = DatasetCardData(
        pretty_name=name,
        license=license or source_license,
        task_categories=["text-retrieval"],
        task_ids=["document-retrieval"],
        tags=["sycl", "beir", "graded-relevance", *(["synthetic"] if manifest else [])],
        size_categories=[size_category(report.documents)],
        source_datasets=[source_repo] if source_repo else None,
        configs=configs,
    )
    levels, prompt_template = [], None
    if manifest:
        names = manifest.get("level_names") or {}
        per_level = manifest.get("counts_per_level") or {}
        for label, definition in (manifest.get("levels") or {}).items():
            levels.append(
                {
                    "label": label,
                    "name": md_escape(names.get(label, "")),
                    "passages": per_level.get(label, 0),
                    "definition": md_escape(definition),
                }
            )
        prompt_template = (manifest.get("prompt") or {}).get("template")
    card = DatasetCard.from_template(
        data,
        template_path=str(resources.files("sycl").joinpath("resources", "cards", "dataset_card.md")),
        fence=_fence(prompt_template or ""),
        title=md_escape(name),
        repo_id=repo_id,
        documents=report.documents,
        queries=report.queries,
        splits=splits,
        generation=_generation_rows(manifest) if manifest else [],
        levels=levels,
        prompt_template=prompt_template,
        prompt_sha256=(manifest or {}).get("prompt", {}).get("sha256"),
        judges=_judge_lines(manifest) if manifest else [],
        queries_origin=origin,
        queries_license=md_escape(source_license) if source_license else "not stated by the source",
    )
    return str(card)


def write_dataset_card(dataset_dir: str | Path, repo_id: str, license: str | None = None) -> Path:
    """Write ``dataset_dir/README.md`` atomically (see :func:`render_dataset_card`); returns its path."""
    path = Path(dataset_dir) / "README.md"
    atomic_write_text(path, render_dataset_card(dataset_dir, repo_id, license))
    return path
