"""Turning a model's answer into passages, and refusing what does not read like a document.

* :func:`extract_json_object` finds the first JSON object in an answer that may be wrapped
  in code fences, preceded or followed by prose, use single quotes, trailing commas or
  Python literals.
* :func:`parse_json_answer` maps a JSON-mode answer to ``{label: [passage, ...]}``.
* :func:`clean_passage` strips wrappers (quotes, "Here is a passage:" preambles, labels).
* :func:`meta_text_reason` names why a passage is meta-text ("This passage is irrelevant",
  "The passage is a concise explanation of ...", "The following text ...", level names echoed,
  "As an AI", refusals), or returns ``None``. It applies in every mode.
* :func:`near_duplicate` compares word-3-shingle Jaccard similarity.

Every rejection raises :class:`AnswerError`, whose message goes into the failure record.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence

from sycl.generation.levels import RelevanceLevel
from sycl.generation.prompts import level_key


class AnswerError(ValueError):
    """An answer that cannot be used (malformed, truncated, empty, level missing, meta-text)."""


_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _balanced_object(text: str, start: int) -> str | None:
    """The ``{...}`` starting at ``text[start]``, respecting strings; ``None`` if unterminated."""
    depth, quote, escape = 0, None, False
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if escape:
                escape = False
            elif c == "\\":
                escape = True
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _loads_lenient(candidate: str):
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
        try:
            return json.loads(attempt, strict=False)
        except json.JSONDecodeError:
            pass
    try:  # single quotes, True/None: a Python literal
        return ast.literal_eval(_TRAILING_COMMA.sub(r"\1", candidate))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def extract_json_object(text: str) -> dict:
    """The first JSON object found in ``text``; :class:`AnswerError` if there is none."""
    if not text or not text.strip():
        raise AnswerError("empty answer")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    truncated = False
    for chunk in candidates:
        pos = chunk.find("{")
        while pos != -1:
            obj_text = _balanced_object(chunk, pos)
            if obj_text is None:
                truncated = True
                break
            obj = _loads_lenient(obj_text)
            if isinstance(obj, dict):
                return obj
            pos = chunk.find("{", pos + 1)
    raise AnswerError("truncated JSON object (no closing brace)" if truncated else "no JSON object in the answer")


_KEY_DIGITS = re.compile(r"-?\d+")


def _label_of_key(key: str, levels: Sequence[RelevanceLevel]) -> int | None:
    k = str(key).strip().lower()
    for lv in levels:
        if k in (level_key(lv.label), str(lv.label), f"level {lv.label}", f"level{lv.label}", lv.name.lower()):
            return lv.label
    m = _KEY_DIGITS.findall(k)
    if len(m) == 1 and int(m[0]) in {lv.label for lv in levels}:
        return int(m[0])
    return None


def parse_json_answer(text: str, levels: Sequence[RelevanceLevel]) -> dict[int, list[str]]:
    """``{label: [raw passage, ...]}`` from a JSON-mode answer (values: a string or a list of them).

    Raises :class:`AnswerError` when no object is found or a level is missing or empty.
    """
    obj = extract_json_object(text)
    if len(obj) == 1 and isinstance(next(iter(obj.values())), dict):  # {"passages": {...}}
        obj = next(iter(obj.values()))
    out: dict[int, list[str]] = {}
    for key, value in obj.items():
        label = _label_of_key(key, levels)
        if label is None:
            continue
        vals = value if isinstance(value, list) else [value]
        texts = []
        for v in vals:
            if isinstance(v, dict):  # {"text": ...} or {"passage": ...}
                v = v.get("text") or v.get("passage") or ""
            if isinstance(v, str) and v.strip():
                texts.append(v)
        if texts:
            out.setdefault(label, []).extend(texts)
    missing = [lv.label for lv in levels if lv.label not in out]
    if missing:
        raise AnswerError(f"level(s) missing or empty: {', '.join(map(str, missing))}")
    return out


_PREAMBLE = re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is)\b[^\n]*?:\s*\n+", re.I)
_LABEL_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:passage|text|document|level[ _]?-?\d+)\s*(?:\d+)?\s*(?:\*\*)?\s*[:\-]\s*", re.I
)
_WS = re.compile(r"\s+")


def clean_passage(text: str) -> str:
    """Strip chat wrappers: code fences, "Here is ...:" preambles, ``Passage:`` labels, quotes."""
    t = text.strip()
    fence = _FENCE.fullmatch(t)
    if fence:
        t = fence.group(1).strip()
    t = _PREAMBLE.sub("", t, count=1)
    t = _LABEL_PREFIX.sub("", t, count=1).strip()
    if len(t) >= 2 and ((t[0] == t[-1] and t[0] in "\"'") or (t[0] == "\u201c" and t[-1] == "\u201d")):
        t = t[1:-1].strip()
    return _WS.sub(" ", t).strip()


_META_PATTERNS = [
    (re.compile(r"\bas an ai\b|\b(?:ai|large) language model\b|\bi am an ai\b", re.I), "speaks as an AI"),
    (re.compile(r"^(?:i'?m sorry|i apologi[sz]e|i cannot|i can'?t|unfortunately,? i)\b", re.I), "refusal"),
    (
        re.compile(r"\b(?:this|the following|above|below) (?:passage|text|excerpt|paragraph)\b", re.I),
        "refers to itself as a passage",
    ),
    (re.compile(r"\brelevan(?:ce|t) (?:level|label|score|grade)\b|\blevel_\d\b", re.I), "names a relevance level"),
    (
        re.compile(
            r"\b(?:is|are|seems?|being) (?:not |ir)?(?:relevant|related) to (?:the|this|your|any) (?:query|search|question|topic)\b",
            re.I,
        ),
        "judges its own relevance",
    ),
    (
        re.compile(r"\b(?:the|this|your|user'?s?) (?:search )?query\b|\b(?:your|the user'?s?) question\b", re.I),
        "mentions the query",
    ),
    (re.compile(r"\b(?:here is|here's) (?:a|an|the|one) (?:passage|text|paragraph)\b", re.I), "chat preamble"),
    # openings that describe the passage instead of being one: "The passage is a concise explanation
    # of ...", "This text ...", "The following ..." ("the passage of the bill", "the following year" pass)
    (
        re.compile(
            r"^(?:in |from )?(?:the|this|these|that|each|every|my|our) (?:passages?|excerpts?|snippets?|"
            r"texts? (?:above|below|provided|given)|writing)\b(?!\s+(?:of|through|from|between|into|across|"
            r"to|way|tomb|grave)\b)",
            re.I,
        ),
        "describes itself",
    ),
    (
        re.compile(
            r"^(?:in |from )?this (?:text|paragraph|response|answer|document|piece|section|content|article "
            r"(?:above|below)|summary)\b",
            re.I,
        ),
        "describes itself",
    ),
    (
        re.compile(
            r"^the following\b(?!\s+(?:day|week|month|year|season|morning|afternoon|evening|night|decade|"
            r"century|spring|summer|autumn|fall|winter|weekend|game|match|round|race|election|term)s?\b)",
            re.I,
        ),
        "describes itself",
    ),
    (
        re.compile(
            r"\bthe (?:passage|excerpt|text) (?:provides|describes|discusses|mentions|contains|talks|explains|"
            r"offers|focuses|presents|highlights|lacks|addresses|answers|fails|does(?:n't| not)|has no|makes no|"
            r"is (?:an? |the )?(?:\w+ ){0,4}(?:explanation|description|summary|overview|account|example|"
            r"answer|response|passage|text))\b",
            re.I,
        ),
        "describes itself",
    ),
    (
        re.compile(
            r"\b(?:has|contains|includes|makes|provides|gives|offers) (?:no|any) (?:reference|mention|"
            r"information|answer|details?)\b(?: (?:to|about|on|of|regarding))?",
            re.I,
        ),
        "comments on what it lacks",
    ),
]


def meta_text_reason(passage: str, levels: Sequence[RelevanceLevel], query: str = "") -> str | None:
    """Why ``passage`` is meta-text rather than a document, or ``None`` if it reads like one.

    Multi-word level names ("perfectly relevant") are rejected anywhere; the query-mention
    rule is skipped when the query itself talks about queries or questions.
    """
    low = passage.lower()
    q = query.lower()
    for pattern, reason in _META_PATTERNS:
        if reason == "mentions the query" and ("query" in q or "question" in q):
            continue
        if pattern.search(passage):
            return reason
    for lv in levels:
        name = lv.name.lower()
        if " " in name and name in low and name not in q:
            return f"echoes the level name {lv.name!r}"
    return None


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    """Word ``n``-grams of lower-cased alphanumeric tokens (the whole token list if shorter)."""
    toks = re.findall(r"\w+", text.lower())
    if len(toks) < n:
        return {tuple(toks)}
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_duplicate(a: set, b: set, threshold: float) -> bool:
    """``True`` when two shingle sets overlap at least ``threshold`` (Jaccard)."""
    return jaccard(a, b) >= threshold


def accept_passages(
    candidates: dict[int, list[str]],
    levels: Sequence[RelevanceLevel],
    n_per_level: int,
    query: str,
    min_words: int,
    dup_threshold: float,
    accepted: Sequence[tuple[int, str]] = (),
) -> dict[int, list[str]]:
    """Clean, check and de-duplicate candidate passages per label, most relevant level first.

    A passage is dropped when it is shorter than ``min_words`` words, is meta-text, or
    duplicates (exactly or with shingle Jaccard >= ``dup_threshold``) a passage kept earlier
    for this query, including ``accepted`` ones. Each level keeps its first ``n_per_level``
    survivors; a level left short raises :class:`AnswerError` with the reasons.
    """
    kept: dict[int, list[str]] = {}
    seen = [(t.lower(), shingles(t)) for _, t in accepted]
    problems: list[str] = []
    for lv in levels:
        if lv.label not in candidates:
            continue
        for raw in candidates[lv.label]:
            if len(kept.get(lv.label, [])) >= n_per_level:
                break
            text = clean_passage(raw)
            why = meta_text_reason(text, levels, query)
            if why is None and len(text.split()) < min_words:
                why = f"too short ({len(text.split())} words)"
            if why is None:
                sh = shingles(text)
                if any(text.lower() == s or near_duplicate(sh, shs, dup_threshold) for s, shs in seen):
                    why = "duplicates another passage of this query"
                else:
                    seen.append((text.lower(), sh))
            if why is None:
                kept.setdefault(lv.label, []).append(text)
            else:
                problems.append(f"level {lv.label}: {why}")
    short = [lv.label for lv in levels if lv.label in candidates and len(kept.get(lv.label, [])) < n_per_level]
    if short:
        raise AnswerError(
            f"not enough usable passages for level(s) {', '.join(map(str, short))}: " + "; ".join(problems[:6])
        )
    return kept
