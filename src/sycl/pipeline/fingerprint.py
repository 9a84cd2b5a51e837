"""Fingerprints of stage inputs: settings, upstream stages and the files they read.

A stage is current when the fingerprint of its settings, of the stages it depends on and of
the external files its settings name (size and modification time, not content: cheap for a
2M-passage corpus) equals the one recorded when it last finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def _stat(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def path_state(path: Path) -> list:
    """Size and mtime of a file, or of the files of a folder (its top level and ``qrels/``)."""
    if path.is_file():
        return [_stat(path)]
    out = []
    for sub in (path, path / "qrels"):
        if sub.is_dir():
            out.extend(_stat(p) for p in sorted(sub.iterdir()) if p.is_file() and not p.name.startswith("."))
    return out


def external_inputs(settings: Any, run_dir: Path) -> list:
    """States of the existing paths named in ``settings`` that lie outside ``run_dir``."""
    run_dir = run_dir.resolve()
    states = []
    for s in sorted(set(_strings(settings))):
        if not s or len(s) > 4096 or "\n" in s:
            continue
        p = Path(s)
        try:
            if not p.exists():
                continue
            rp = p.resolve()
        except OSError:
            continue
        if rp == run_dir or run_dir in rp.parents:
            continue
        states.append(path_state(rp))
    return states


def fingerprint(settings: Any, upstream: Iterable[str], run_dir: Path) -> str:
    """sha256 over the stage's settings, its upstream fingerprints and its external input files."""
    blob = json.dumps(
        {"settings": settings, "upstream": list(upstream), "inputs": external_inputs(settings, run_dir)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()
