"""Values as Markdown text: escaping (cards, reports) and number formatting for table cells."""

from __future__ import annotations

import math
import re

_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md_escape(text: str) -> str:
    """``text`` on one line with Markdown specials backslash-escaped and ``<``, ``>``, ``&`` as entities."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def fmt(x, digits: int = 4) -> str:
    """A number for a table cell: floats to ``digits`` places, ints with thousands separators."""
    if x is None:
        return "\u2014"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if math.isfinite(x) else str(x)
    return str(x)
