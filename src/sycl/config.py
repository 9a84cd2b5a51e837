"""Settings: pydantic models that forbid unknown keys, YAML files, and the flags derived from them.

Every option of sycl is a field of a ``...Config`` model; that field is its one definition.
:func:`add_flags` derives a command-line flag from a field (name, type, choices, default and
help all come from the model), and :func:`flag_values` hands the parsed values back as a
mapping of dotted keys to typed values, applied to the YAML data before validation: a flag sets
its field directly, never through a string that is parsed again. ``--set key.path=value`` is the
one generic form that parses a value (as YAML), because it has no field type to go by; every
command that takes it declares it with :func:`add_set_option` and reads the command line with
:func:`command_overrides`, so one precedence holds everywhere: file < ``--set`` < flag.

Errors name the file and the offending key path (``train.loss.temperature``).
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sycl.io.errors import DataError
from sycl.strict import StrictModel

M = TypeVar("M", bound=StrictModel)


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping; syntax errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if not path.is_file():
        raise DataError(path, "is a folder, not a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise DataError(
            path, f"invalid YAML: {getattr(err, 'problem', err)}", None if line is None else line + 1
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DataError(path, "the top level of an experiment file must be a mapping")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """``'train.lr=2e-5'`` -> (``['train', 'lr']``, ``2e-5``); values are parsed as YAML scalars.

    A malformed item is a :class:`DataError` naming it (``--set k=[1,2: the value is not valid YAML ...``).
    """
    if "=" not in item:
        raise DataError(f"--set {item}", "an override must look like key.path=value")
    key, raw = item.split("=", 1)
    keys = [k for k in key.strip().split(".") if k]
    if not keys:
        raise DataError(f"--set {item}", "the key before '=' is empty")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DataError(
            f"--set {item}", f"the value is not valid YAML ({problem}); quote it to pass a string"
        ) from None
    return keys, value


def apply_overrides(data: dict, overrides: Mapping[str, Any] | list[str]) -> dict:
    """Return a copy of ``data`` with dotted overrides set: ``{"train.lr": 1e-5}`` or ``["train.lr=1e-5"]``."""
    out = _deepcopy(data)
    items = (
        [parse_override(o) for o in overrides]
        if isinstance(overrides, list)
        else [(k.split("."), v) for k, v in overrides.items()]
    )
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


# ---------------------------------------------------------------- command-line flags from fields

FLAG_PREFIX = "field:"  # argparse dest of a derived flag: "field:<dotted key>"


def field_at(model: type[BaseModel], key: str) -> tuple[FieldInfo, Any]:
    """``(FieldInfo, annotation)`` of the dotted ``key`` (``train.lr``) inside ``model``."""
    info = None
    for part in key.split("."):
        if info is not None:
            model = _model_of(info.annotation)
        if model is None or part not in model.model_fields:
            raise KeyError(f"{key!r} is not a field path of {model}")
        info = model.model_fields[part]
    return info, info.annotation


def _model_of(annotation) -> type[BaseModel] | None:
    for t in (annotation, *_union_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _union_args(annotation) -> tuple:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


def _plain(annotation):
    """The annotation without ``None`` (``int | None`` -> ``int``)."""
    args = [a for a in _union_args(annotation) if a is not type(None)]
    return (args[0] if len(args) == 1 else annotation) if args else annotation


def field_default(info: FieldInfo) -> Any:
    """A field's default (calling its factory), or ``PydanticUndefined`` when it is required."""
    if info.default_factory is not None:
        return info.default_factory()
    return info.default


def flag_kwargs(info: FieldInfo, annotation) -> dict:
    """argparse keyword arguments for a field: type, choices or action, help with the default."""
    ann = _plain(annotation)
    origin = typing.get_origin(ann)
    kw: dict[str, Any] = {}
    if origin is Literal:
        choices = list(typing.get_args(ann))
        kw.update(choices=choices, type=type(choices[0]))
    elif ann is bool:
        kw["action"] = argparse.BooleanOptionalAction
    elif origin is list:
        inner = (typing.get_args(ann) or (str,))[0]
        kw.update(action="append", type=inner if inner in (int, float, str, Path) else str)
    elif ann in (int, float, str, Path):
        kw["type"] = ann
    else:  # a union such as float | Literal["floor", "ceil"]: validated by the model
        kw["type"] = str
    default = field_default(info)
    help_text = info.description or ""
    if default is not PydanticUndefined and default is not None and not isinstance(default, (list, dict, BaseModel)):
        help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
    kw["help"] = help_text.replace("%", "%%") or None
    return kw


def add_flags(parser, model: type[BaseModel], keys: Iterable[str] | Mapping[str, str]) -> None:
    """Add one flag per field of ``model``.

    ``keys`` lists dotted field keys (the flag is the last part: ``train.lr`` -> ``--lr``), or maps
    flag names to keys where they differ (``{"timeout": "request_timeout"}``). The flag's dest is
    ``field:<key>`` and its default is absent, so only flags given on the command line reach
    :func:`flag_values`.
    """
    pairs = keys.items() if isinstance(keys, Mapping) else ((k.split(".")[-1], k) for k in keys)
    parser.set_defaults(config_model=model)  # which model the flags come from (tests walk the parsers with it)
    for flag, key in pairs:
        info, annotation = field_at(model, key)
        kw = flag_kwargs(info, annotation)
        if "choices" not in kw and kw.get("action") is not argparse.BooleanOptionalAction:
            kw["metavar"] = flag.upper()
        if field_default(info) is PydanticUndefined and "." not in key:
            kw["required"] = True
        parser.add_argument("--" + flag.replace("_", "-"), dest=FLAG_PREFIX + key, default=argparse.SUPPRESS, **kw)


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """``{dotted key: value}`` of the derived flags given on the command line (typed, not re-parsed)."""
    return {k[len(FLAG_PREFIX) :]: v for k, v in vars(args).items() if k.startswith(FLAG_PREFIX)}


def set_items(items: list[str]) -> dict[str, Any]:
    """``--set key.path=value`` items as ``{dotted key: value}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        keys, value = parse_override(item)
        out[".".join(keys)] = value
    return out


def add_set_option(parser, example: str) -> None:
    """Declare the repeatable ``--set KEY=VALUE`` option (dest ``overrides``); ``example`` is a dotted key=value."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override any setting by its dotted key, e.g. --set {example} (repeatable; "
        "a flag for the same setting wins over --set)",
    )


def command_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's settings as ``{dotted key: value}``, in the order they are applied.

    One precedence for every command: the file's values, then ``--set`` items (in the order
    given), then the flags derived from fields. So a flag beats a ``--set`` of the same field
    (``--lr 1e-5 --set train.lr=2e-5`` trains at 1e-5), and also a ``--set`` of a section that
    holds it (``--set train={lr: 2e-5}``), because every flag is applied after every ``--set``.
    """
    flags = flag_values(args)
    merged = {k: v for k, v in set_items(getattr(args, "overrides", [])).items() if k not in flags}
    merged.update(flags)
    return merged
