"""Single files of Hugging Face hub data sets: ``hf://datasets/<owner>/<name>[@revision]/<path>``.

:func:`hub_file` fetches exactly one file with ``huggingface_hub.hf_hub_download`` (repo type
``dataset``, the given revision), so naming ``queries.jsonl`` of MS MARCO reads 20 MB instead of
the 8.8M-passage corpus beside it. The file lands in the Hugging Face cache
(``$HF_HUB_CACHE/datasets--<owner>--<name>/snapshots/<commit>/<path>``); huggingface_hub
downloads into ``blobs/<hash>.incomplete`` and renames, so an interrupted download leaves no
half file under the name. Offline (``HF_HUB_OFFLINE=1``) the cache is read through the same
call.

Failures are :class:`DataError` saying which part is missing: the repository, the revision,
or the file at that revision. Offline, huggingface_hub reports all three alike, so the cache
folder is inspected to tell them apart.

Paths are parsed the way huggingface_hub's ``HfFileSystem`` reads them (``@`` after the
repository id starts the revision; ``refs/pr/N`` and ``refs/convert/NAME`` keep their slashes;
other revisions may be %-quoted), the repository id is checked with huggingface_hub's own
``validate_repo_id``, and a revision or path with a ``..``, ``.`` or empty part (``//``, a
leading ``/``) is refused: an ``hf://`` path names something inside one repository of the
cache, never a folder beside it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from sycl.io.errors import DataError
from sycl.io.markdown import md_escape

_PREFIX = "hf://datasets/"
_EXPECTED = "expected hf://datasets/<owner>/<name>[@revision][/path]"
# the hub's revisions that contain slashes (huggingface_hub's SPECIAL_REFS_REVISION_REGEX)
_SPECIAL_REF = re.compile(r"^refs/(?:convert/\w+|pr/\d+)(?=/|$)")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
FILE_SUFFIXES = (".jsonl", ".json", ".tsv", ".txt", ".trec", ".qrels", ".gz", ".parquet", ".csv")


@dataclass(frozen=True)
class HubPath:
    """A parsed ``hf://datasets/<repo>[@revision][/path]``; ``path`` is ``""`` for the repository root."""

    spec: str
    repo: str
    revision: str | None
    path: str

    @property
    def names_file(self) -> bool:
        """True when the path ends in a file name (``.../corpus.jsonl``), not a folder."""
        return Path(self.path).suffix in FILE_SUFFIXES

    def child(self, name: str) -> HubPath:
        path = f"{self.path}/{name}" if self.path else name
        return HubPath(f"{_PREFIX}{self.repo}{_revision_text(self.revision)}/{path}", self.repo, self.revision, path)


def is_hub(value: str | Path) -> bool:
    return str(value).startswith("hf://")


def parse_hub_path(spec: str) -> HubPath:
    """Split ``hf://datasets/<owner>/<name>[@revision][/path]``; a bad part is a :class:`DataError` naming it."""
    text = str(spec)
    if not text.startswith(_PREFIX):
        raise DataError(spec, _EXPECTED)
    body = text[len(_PREFIX) :].rstrip("/")
    at = body.find("@")
    if at == -1 or body[:at].count("/") > 1:  # no revision ('@' further on is part of a file name)
        parts = body.split("/", 2)
        if len(parts) < 2:
            raise DataError(spec, _EXPECTED)
        repo, revision, path = f"{parts[0]}/{parts[1]}", None, (parts[2] if len(parts) > 2 else "")
    else:
        repo, rest = body[:at], body[at + 1 :]
        special = _SPECIAL_REF.match(rest)
        raw, _, path = (special.group(), "/", rest[special.end() + 1 :]) if special else rest.partition("/")
        revision = unquote(raw)
        check_parts(spec, revision, "revision")
    _check_repo_id(spec, repo)
    if path:
        check_parts(spec, path, "path")
    return HubPath(text, repo, revision, path)


def check_parts(spec: str | Path, relative: str, what: str) -> None:
    """Refuse a ``/``-separated ``relative`` path (``what``: ``"path"``, ``"revision"``) that could leave its folder."""
    for part in relative.split("/"):
        if part in ("", ".", ".."):
            shown = "an empty part (a leading '/' or '//')" if not part else f"a {part!r} part"
            raise DataError(spec, f"the {what} {relative!r} has {shown}; it must stay inside the repository")
        if "\\" in part or "\0" in part:
            raise DataError(spec, f"the {what} {relative!r} has a backslash or NUL character")


def _check_repo_id(spec: str | Path, repo: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        if repo.count("/") != 1:
            raise HFValidationError("it must be <owner>/<name>")
        validate_repo_id(repo)
    except HFValidationError as err:
        raise DataError(spec, f"bad repository id {repo!r}: {err}") from None


def _revision_text(revision: str | None) -> str:
    """``@revision`` as written in a path (quoted unless it is one of the hub's ``refs/...`` names)."""
    if not revision:
        return ""
    return f"@{revision}" if _SPECIAL_REF.match(revision) else f"@{quote(revision, safe='')}"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("", "0", "false", "no")


def hub_file(spec: str | HubPath) -> Path:
    """Local path of one hub file (downloaded into the Hugging Face cache when not there yet)."""
    hp = spec if isinstance(spec, HubPath) else parse_hub_path(spec)
    if not hp.path:
        raise DataError(hp.spec, "names a repository, not a file")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(hp.repo, hp.path, repo_type="dataset", revision=hp.revision))
    except LocalEntryNotFoundError as err:
        raise DataError(hp.spec, not_cached(hp, err)) from None
    except RevisionNotFoundError:
        raise DataError(hp.spec, f"missing revision: {hp.repo} has no revision {hp.revision!r} on the hub") from None
    except EntryNotFoundError:
        raise DataError(
            hp.spec, f"missing file: {hp.repo} has no file {hp.path!r} at revision {hp.revision or 'main'}"
        ) from None
    except RepositoryNotFoundError:
        raise DataError(hp.spec, f"no data set {hp.repo} on the Hugging Face hub (or it is private)") from None


def cache_repo_dir(repo: str) -> Path:
    """``$HF_HUB_CACHE/datasets--<owner>--<name>`` (where huggingface_hub keeps the data set)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("datasets--" + repo.replace("/", "--"))


def cached_commit(repo: str, revision: str | None) -> str | None:
    """The commit a revision (branch, tag or commit) points at in the local cache, or ``None``."""
    root = cache_repo_dir(repo)
    rev = revision or "main"
    ref = root / "refs" / rev
    if ref.is_file():
        return ref.read_text().strip()
    if _COMMIT.match(rev) and (root / "snapshots" / rev).is_dir():
        return rev
    return None


def not_cached(hp: HubPath, err: Exception | None = None) -> str:
    """Why a hub path could not be read from the cache without the network: repository, revision or file."""
    if offline():
        why = "HF_HUB_OFFLINE is set"
    else:
        cause = (err.__cause__ or err.__context__) if err is not None else None
        why = f"{type(cause).__name__}: {cause}" if cause else "the hub cannot be reached"
    root = cache_repo_dir(hp.repo)
    rev = hp.revision or "main"
    if not root.is_dir():
        return f"no network is reachable ({why}) and the data set {hp.repo} is not in the Hugging Face cache ({root})"
    commit = cached_commit(hp.repo, hp.revision)
    if commit is None:
        return (
            f"missing revision: the Hugging Face cache holds {hp.repo} but not its revision {rev!r} "
            f"({root / 'snapshots'}), and the hub cannot be asked ({why})"
        )
    return (
        f"missing file: the cached revision {rev!r} of {hp.repo} has no file {hp.path!r} "
        f"({root / 'snapshots' / commit}), and the hub cannot be asked ({why})"
    )


# Exception class names of the HTTP clients (httpx, requests, urllib3, huggingface_hub) for a server not reached
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


def is_network_error(err: BaseException | None) -> bool:
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


def data_origin(source: str | None) -> tuple[str, str | None]:
    """``(origin in Markdown, hub data set id or None)`` of a data set, file or BEIR name (e.g. source queries).

    A local path is shown by its file name only (the card is public; the folder is not).
    """
    if not source:
        return "not recorded", None
    if is_hub(source):
        hp = parse_hub_path(source)
        link = f"[{md_escape(hp.repo)}](https://huggingface.co/datasets/{hp.repo})"
        where = f" (`{md_escape(hp.path)}`" + (f" at revision `{md_escape(hp.revision)}`)" if hp.revision else ")")
        return f"the Hugging Face data set {link}{where if hp.path else ''}", hp.repo
    path = Path(source)
    if path.exists() or path.is_absolute() or path.suffix or len(path.parts) > 1:
        kind = "folder" if path.is_dir() or not path.suffix else "file"
        return f"a local {kind}, `{md_escape(path.name)}`", None
    return f"the BEIR data set `{md_escape(source)}`", None
