"""What an experiment's section of the report is: its markdown, its tables and its notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from comparisons.reporting._exports import ReportTable


@dataclass(frozen=True)
class ReportSection:
    """A section of ``report.md`` added by the run's data (an experiment's).

    Attributes:
        lines: Its markdown lines, heading first.
        tables: Its tables, also written under ``tables/``.
        notes: What it could not draw or judge, for "Not drawn or missing".
    """

    lines: tuple[str, ...]
    tables: tuple[ReportTable, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
