"""Experiment files: YAML validated by pydantic models that forbid unknown keys.

Errors name the file and the offending key path (``train.loss.temperature``). Command-line
overrides are applied as dotted ``key=value`` pairs before validation, so they obey the
same rules as the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from sycl.io.errors import DataError


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


M = TypeVar("M", bound=StrictModel)


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; syntax errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise DataError(path, f"invalid YAML: {getattr(err, 'problem', err)}", None if line is None else line + 1) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError(path, "the top level of an experiment file must be a mapping")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """``'train.lr=2e-5'`` -> (``['train', 'lr']``, ``2e-5``); values are parsed as YAML scalars."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like key.path=value")
    key, raw = item.split("=", 1)
    return [k for k in key.strip().split(".") if k], yaml.safe_load(raw) if raw != "" else ""


def apply_overrides(data: dict, overrides: Mapping[str, Any] | list[str]) -> dict:
    """Return a copy of ``data`` with dotted overrides set (``None`` values in a mapping are skipped)."""
    out = _deepcopy(data)
    items = [parse_override(o) for o in overrides] if isinstance(overrides, list) else [
        (k.split("."), v) for k, v in overrides.items() if v is not None
    ]
    for keys, value in items:
        node = out
        for k in keys[:-1]:
            nxt = node.get(k)
            if not isinstance(nxt, dict):
                nxt = {}
                node[k] = nxt
            node = nxt
        node[keys[-1]] = value
    return out


def _deepcopy(d):
    if isinstance(d, dict):
        return {k: _deepcopy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deepcopy(v) for v in d]
    return d


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def validate(cls: type[M], data: Mapping, source: str = "<config>") -> M:
    """Validate ``data`` into ``cls``; errors become :class:`DataError` naming each bad key."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as err:
        raise DataError(None, format_validation_error(err, source)) from None


def load(cls: type[M], path: str | Path | None, overrides: Mapping[str, Any] | list[str] | None = None) -> M:
    """Load ``path`` (optional) into ``cls`` with ``overrides`` applied first."""
    data = read_yaml(path) if path else {}
    if overrides:
        data = apply_overrides(data, overrides)
    return validate(cls, data, str(path) if path else "<command line>")
