"""Upload a trained model or a BEIR data set to the Hugging Face hub, and nothing else.

What is uploaded is an allow-list, never a deny-list: a model directory is the
sentence-transformers model (weights, configuration, tokenizer, module folders named in
``modules.json``) and its card; a data set is its BEIR files (``corpus.jsonl``,
``queries.jsonl``, ``qrels/*.tsv``) and its card. Training state (``checkpoints/``, optimiser,
random generators, ``training_log.jsonl``), generation journals, quality tables and anything
else in the folder stay local. The patterns are handed to ``huggingface_hub``'s
``upload_folder(allow_patterns=...)``, whose own filter selects the files.

The token comes from huggingface_hub's usual places (``HF_TOKEN``, the ``hf auth login``
cache); sycl never reads, stores or prints it.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

from sycl import __version__
from sycl.io.atomic import atomic_write_text
from sycl.io.errors import DataError
from sycl.io.hub import is_network_error
from sycl.log import get_logger
from sycl.reporting.config import PushConfig

log = get_logger(__name__)

# Files of a model directory at its top level (fnmatch patterns; ``*`` would also match ``/``,
# so every pattern is anchored at a fixed top-level name).
MODEL_FILES = (
    "README.md",
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-?????-of-?????.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "sycl_model.json",
)
MODEL_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
# The BEIR files of a data set folder and its card.
DATASET_FILES = ("README.md", "corpus.jsonl", "queries.jsonl", "qrels/[!.]*.tsv")


def model_allow_patterns(model_dir: str | Path) -> list[str]:
    """The ``allow_patterns`` that select a model directory's model files and card.

    The top-level files of :data:`MODEL_FILES` plus ``<path>/*`` of each module folder that
    ``modules.json`` names (``1_Pooling``, ``2_Normalize``). Raises :class:`DataError` when the
    folder is not a sentence-transformers model with safetensors weights.
    """
    model_dir = Path(model_dir)
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        raise DataError(model_dir, "not a sentence-transformers model directory (no modules.json)")
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
        folders = [str(m["path"]) for m in modules if m.get("path")]
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, AttributeError) as err:
        raise DataError(modules_file, f"malformed modules.json: {err}") from None
    for folder in folders:
        parts = Path(folder).parts
        if Path(folder).is_absolute() or ".." in parts or parts[0] == "checkpoints":
            raise DataError(modules_file, f"module path {folder!r} is not a module folder inside the model")
    if not any((model_dir / name).is_file() for name in MODEL_WEIGHTS):
        raise DataError(model_dir, "no model weights (model.safetensors) to upload")
    return [*MODEL_FILES, *(glob.escape(f.strip("/")) + "/*" for f in folders)]


def dataset_allow_patterns(dataset_dir: str | Path) -> list[str]:
    """The ``allow_patterns`` that select a BEIR folder's files and its card.

    Raises :class:`DataError` when ``corpus.jsonl``, ``queries.jsonl`` or ``qrels/*.tsv`` is missing.
    """
    dataset_dir = Path(dataset_dir)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (dataset_dir / name).is_file():
            raise DataError(dataset_dir / name, "not found: a data set to push is a BEIR folder")
    if not sorted((dataset_dir / "qrels").glob("*.tsv")):
        raise DataError(dataset_dir / "qrels", "no qrels/<split>.tsv: a data set to push is a BEIR folder")
    return list(DATASET_FILES)


def require_network(folder: Path) -> None:
    """Raise :class:`DataError` when huggingface_hub is in offline mode (``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    from sycl.io.hub import offline

    if constants.HF_HUB_OFFLINE or offline():
        raise DataError(
            folder,
            "cannot push to the hub: no network is reachable (HF_HUB_OFFLINE is set); "
            "unset it on a machine with internet access",
        )


def upload(
    folder: str | Path,
    repo_id: str,
    allow_patterns: list[str],
    repo_type: str = "model",
    revision: str | None = None,
    private: bool = False,
    commit_message: str = f"Upload with SyCL {__version__}",
) -> str:
    """Create ``repo_id`` (if absent) and commit the files of ``folder`` that ``allow_patterns`` select.

    ``revision`` is a branch, created from the default branch when it does not exist.
    Returns the repository URL. Offline mode, an unreachable hub and a refusal by the hub raise
    :class:`DataError` with one line saying which.
    """
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    folder = Path(folder)
    require_network(folder)
    api = HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type=repo_type, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            revision=revision,
            commit_message=commit_message,
            allow_patterns=allow_patterns,
        )
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        hint = (
            " (log in with `hf auth login` or set HF_TOKEN to a token with write access)"
            if status in (401, 403)
            else ""
        )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(folder, f"the hub refused the upload to {repo_id!r}: {first}{hint}") from None
    except Exception as err:
        if not is_network_error(err):
            raise
        raise DataError(
            folder, f"cannot push to {constants.ENDPOINT}: no network is reachable ({type(err).__name__})"
        ) from None
    log.info("pushed %s to %s", folder, url)
    return str(url)


def push(folder: str | Path, config: PushConfig) -> str:
    """Write the card of ``folder`` and upload it with the model or data set files; return the repository URL.

    ``config.repo_type`` ``model``: a sentence-transformers model directory of ``sycl train``
    (its card is rewritten with ``config.repo`` in the loading example); ``dataset``: a BEIR
    folder (its card is generated from the files and ``manifest.json``). The folder's layout and
    offline mode are checked before anything is read in full; the card is written before the upload.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not found: give a model directory or a BEIR folder")
    if config.repo_type == "model":
        from sycl.training.model_card import render_model_card

        patterns = model_allow_patterns(folder)
        require_network(folder)
        card = render_model_card(folder, repo_id=config.repo)
    else:
        from sycl.reporting.dataset_card import render_dataset_card

        patterns = dataset_allow_patterns(folder)
        require_network(folder)
        card = render_dataset_card(folder, config.repo, config.license)
    atomic_write_text(folder / "README.md", card)
    message = config.commit_message or f"Upload {config.repo_type} with SyCL {__version__}"
    return upload(folder, config.repo, patterns, config.repo_type, config.revision, config.private, message)


def push_to_hub(model_dir: str | Path, repo_id: str, private: bool = False, revision: str | None = None) -> str:
    """Upload a trained model directory's model files and card to the hub; return the repository URL."""
    return push(model_dir, PushConfig(repo=repo_id, private=private, revision=revision))
