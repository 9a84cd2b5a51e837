"""Removing credentials from text a server sent back, before anything keeps, cuts or logs it.

A server can echo what it was sent: an error page quotes the request, a debugging proxy
returns the headers, a model repeats its prompt. :class:`Redactor` replaces, with ``***``:

* every run of :data:`MIN_PIECE` (8) or more characters that also occurs in a secret (the API
  key), wherever the text cuts it: an error body truncated mid-key keeps a prefix, a wrapped
  line a middle piece; a secret shorter than 8 characters is replaced where it occurs whole;
* the value of an echoed credential header (``Authorization``, ``Proxy-Authorization``,
  ``X-Api-Key``, ``Api-Key``), quoted or not, whatever credential it carries;
* a ``Bearer`` token (a run of 8 or more token characters holding a digit).

Run it on the whole text, before any truncation: then a cut keeps the marker, never a piece
of the key. The OpenAI-compatible backend runs every answer, error body and error message
through one :class:`Redactor` as it receives them, so nothing stored or logged downstream
(``raw`` answers, passages, errors, manifest and journal) ever holds the unredacted text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_PIECE = 8  # shortest piece of a secret that is redacted on its own
MARK = "***"
_BLOCK = MIN_PIECE // 2  # every piece of >= 8 characters holds one whole block aligned on a multiple of 4
_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|openai-api-key)"  # the header's name
    r"([\\\"']*\s*[:=]\s*[\\\"']*)"  # its separator, quoted as JSON, a Python dict or a raw header
    r"([^\\\"'\r\n,;}\]]+)"  # its value, up to the next quote, line end or delimiter
)
_BEARER = re.compile(r"\b(Bearer\s+)(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{8,}=*")


class Redactor:
    """``redactor(text) -> text`` with ``secrets`` and credential headers replaced by ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()):
        self.secrets = [s for s in dict.fromkeys(secrets) if s]
        self._blocks: dict[str, list[tuple[str, int]]] = {}
        for secret in self.secrets:
            for k in range(0, len(secret) - _BLOCK + 1, _BLOCK):
                self._blocks.setdefault(secret[k : k + _BLOCK], []).append((secret, k))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + MARK, text)
        text = _BEARER.sub(lambda m: m.group(1) + MARK, text)
        for secret in self.secrets:
            if len(secret) < MIN_PIECE:
                text = text.replace(secret, MARK)
        spans = self._pieces(text)
        if not spans:
            return text
        out, end = [], 0
        for start, stop in spans:
            out.append(text[end:start])
            out.append(MARK)
            end = stop
        out.append(text[end:])
        return "".join(out)

    def _pieces(self, text: str) -> list[tuple[int, int]]:
        """Merged ``(start, stop)`` spans of ``text`` that are pieces of >= 8 characters of a secret.

        A piece that long covers one of the secret's 4-character blocks at an offset divisible by 4,
        so each block is looked up with ``str.find`` and every hit is grown both ways along the secret.
        """
        spans = []
        for block, places in self._blocks.items():
            at = text.find(block)
            while at >= 0:
                for secret, k in places:
                    left = 0
                    while left < k and left < at and text[at - left - 1] == secret[k - left - 1]:
                        left += 1
                    right = 0
                    room = min(len(secret) - k - _BLOCK, len(text) - at - _BLOCK)
                    while right < room and text[at + _BLOCK + right] == secret[k + _BLOCK + right]:
                        right += 1
                    if left + _BLOCK + right >= MIN_PIECE:
                        spans.append((at - left, at + _BLOCK + right))
                at = text.find(block, at + 1)
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, stop in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        return merged
