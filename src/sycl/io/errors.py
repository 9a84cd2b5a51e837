"""The errors the command line reports as one ``sycl <cmd>: error: ...`` line with exit status 2.

:class:`UserError` is their base: something the user can fix (input, settings, the machine's setup),
never a bug. :class:`DataError`, the one error type for bad input data, names the file, the line
and the problem.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Something the user can fix; ``sycl`` prints it as one line and exits with status 2."""


class DataError(UserError, ValueError):
    """Bad input data. ``str(err)`` reads ``FILE:LINE: problem`` (line omitted when unknown)."""

    def __init__(self, path: str | Path | None, problem: str, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.problem = problem
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")
