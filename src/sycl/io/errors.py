"""The one error type for bad input data: it names the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad input data. ``str(err)`` reads ``FILE:LINE: problem`` (line omitted when unknown)."""

    def __init__(self, path: str | Path | None, problem: str, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.problem = problem
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")
