"""The parts a report is made of (tables, sections) and how a number reads in a cell."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sycl.reporting import plots
from sycl.reporting.samples import SampleContext

DASH = "\u2014"  # an empty cell


@dataclass
class Table:
    """A rectangular table; ``bold[r][c]`` marks best-in-column cells. Cells are plain strings."""

    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]] = field(default_factory=list)
    caption: str = ""

    def numeric_columns(self) -> list[bool]:
        """Per column, whether every non-empty cell reads as a number (such columns align right)."""

        def num(cell: str) -> bool:
            try:
                float(cell.replace(",", "").rstrip("%*"))  # "*" marks a significant difference
                return True
            except ValueError:
                return cell in (DASH, "")

        return [c > 0 and all(num(row[c]) for row in self.rows) for c in range(len(self.header))]


@dataclass
class Section:
    """One part of the report: a heading, tables, charts, samples and free-text notes."""

    section_id: str
    title: str
    tables: list[Table] = field(default_factory=list)
    charts: list[plots.Chart] = field(default_factory=list)
    samples: dict[str, list[SampleContext]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)  # label -> preformatted text


def best_flags(values: list[list[float | None]]) -> list[list[bool]]:
    """Per column, mark the highest value (ties all marked); single-row tables mark nothing."""
    flags = [[False] * len(r) for r in values]
    if len(values) < 2:
        return flags
    for c in range(len(values[0])):
        col = [r[c] for r in values if r[c] is not None]
        if len(col) < 2:
            continue
        best = max(col)
        for r, row in enumerate(values):
            flags[r][c] = row[c] is not None and math.isclose(row[c], best, rel_tol=0, abs_tol=1e-12)
    return flags
