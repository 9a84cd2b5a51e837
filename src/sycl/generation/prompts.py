"""Prompt templates: editable text files rendered into chat messages.

A template file has optional ``#`` comment lines, then a ``[system]`` and a ``[user]``
section. Sections are filled with :class:`string.Template` (``$query``, ``$levels``, ...), so
JSON braces in a template need no escaping. The shipped templates live in
``sycl/resources/prompts/`` (``json.txt``: every level in one JSON answer; ``per_level.txt``:
one request per level); a user passes their own file with ``prompt_template``.

The shipped templates are sycl's own writing: the SyCL paper does not publish its generation prompt,
so they are not the paper's. The level definitions they insert are the TREC DL graded relevance
definitions (:mod:`sycl.generation.levels`); ``judge_umbrela.txt`` is our wording of the UMBRELA
relevance-assessment prompt (Upadhyay et al. 2024), which follows the same TREC DL scale.

Variables available to both modes: ``$query``, ``$words`` (length guidance, in words),
``$n_per_level``, ``$levels`` (one line per level, ``- level_3 (perfectly relevant): ...``).
JSON mode adds ``$json_keys`` and ``$json_example``; per-level mode adds ``$level_label``,
``$level_name`` and ``$level_definition``.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sycl.generation.levels import RelevanceLevel
from sycl.io.errors import DataError

_SHIPPED = {"json": "json.txt", "per-level": "per_level.txt", "judge": "judge_umbrela.txt"}
Messages = list[dict[str, str]]


def level_key(label: int) -> str:
    """JSON key of a level in a JSON-mode answer: ``level_3``."""
    return f"level_{label}"


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed template: ``source`` (file name), ``text`` (the whole file), its ``sha256``."""

    source: str
    text: str
    system: str
    user: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, **variables) -> Messages:
        """Chat messages with every ``$variable`` substituted; an unknown variable is an error."""
        msgs: Messages = []
        for role, body in (("system", self.system), ("user", self.user)):
            if not body:
                continue
            try:
                msgs.append({"role": role, "content": string.Template(body).substitute(variables).strip()})
            except KeyError as err:
                raise DataError(
                    self.source,
                    f"[{role}] uses unknown variable ${err.args[0]}; "
                    f"known: {', '.join('$' + k for k in sorted(variables))}",
                ) from None
            except ValueError as err:
                raise DataError(self.source, f"[{role}]: {err} (write $$ for a literal dollar sign)") from None
        return msgs


def parse_template(text: str, source: str) -> PromptTemplate:
    """Split a template file into its ``[system]`` and ``[user]`` sections."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        head = line.strip().lower()
        if head in ("[system]", "[user]"):
            if head[1:-1] in sections:
                raise DataError(source, f"section {head} appears twice", lineno)
            current = head[1:-1]
            sections[current] = []
        elif current is None:
            if line.strip() and not line.lstrip().startswith("#"):
                raise DataError(source, "text before the first section; start with [system] or [user]", lineno)
        else:
            sections[current].append(line)
    if "user" not in sections:
        raise DataError(source, "a prompt template needs a [user] section")
    user = "\n".join(sections["user"]).strip()
    if not user:
        raise DataError(source, "the [user] section is empty")
    return PromptTemplate(source, text, "\n".join(sections.get("system", [])).strip(), user)


def load_template(mode: str, path: str | Path | None = None) -> PromptTemplate:
    """The template for ``mode`` (``json``, ``per-level`` or ``judge``): ``path`` if given, else the shipped one."""
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "prompt template not found")
        return parse_template(path.read_text(encoding="utf-8"), str(path))
    name = _SHIPPED[mode]
    text = resources.files("sycl").joinpath("resources").joinpath("prompts").joinpath(name).read_text(encoding="utf-8")
    return parse_template(text, f"sycl/resources/prompts/{name}")


def levels_block(levels: Sequence[RelevanceLevel]) -> str:
    return "\n".join(f"- {level_key(lv.label)} ({lv.name}): {lv.definition}." for lv in levels)


def json_schema(levels: Sequence[RelevanceLevel], n_per_level: int) -> dict:
    """JSON schema of a JSON-mode answer: ``{"level_3": [str x n], ...}``, all keys required."""
    item = {"type": "array", "items": {"type": "string"}, "minItems": n_per_level, "maxItems": n_per_level}
    keys = [level_key(lv.label) for lv in levels]
    return {"type": "object", "properties": {k: item for k in keys}, "required": keys, "additionalProperties": False}


def json_example(levels: Sequence[RelevanceLevel], n_per_level: int) -> str:
    return json.dumps({level_key(lv.label): ["..."] * n_per_level for lv in levels})


def render_json_prompt(
    template: PromptTemplate, query: str, levels: Sequence[RelevanceLevel], n_per_level: int, words: int
) -> Messages:
    """Messages asking for every level of ``query`` in one JSON object."""
    return template.render(
        query=query,
        levels=levels_block(levels),
        n_per_level=n_per_level,
        words=words,
        json_keys=", ".join(f'"{level_key(lv.label)}"' for lv in levels),
        json_example=json_example(levels, n_per_level),
    )


def render_level_prompt(
    template: PromptTemplate,
    query: str,
    level: RelevanceLevel,
    levels: Sequence[RelevanceLevel],
    n_per_level: int,
    words: int,
) -> Messages:
    """Messages asking for the passage(s) of one ``level`` of ``query``."""
    return template.render(
        query=query,
        levels=levels_block(levels),
        n_per_level=n_per_level,
        words=words,
        level_label=level.label,
        level_name=level.name,
        level_definition=level.definition,
    )
