"""Report tables as data, written as markdown, LaTeX (booktabs, through pandas) or CSV.

Every table of the report is a :class:`ReportTable` (a header and rows of formatted cells,
``**bold**`` marking the best); :func:`write_tables` writes each one to
``tables/<name>.md``, ``.tex`` and ``.csv``, so a paper pastes the LaTeX and a script reads
the CSV. The numbers behind the cells, unformatted, are in ``summary.csv`` and
``paired.csv``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from comparisons._atomic import write_text

TableFormat = Literal["markdown", "latex", "csv"]
TABLE_FORMATS: tuple[str, ...] = get_args(TableFormat)
_SUFFIX = {"markdown": ".md", "latex": ".tex", "csv": ".csv"}

_BOLD = re.compile(r"\*\*(.+?)\*\*")
#: LaTeX's special characters, escaped (booktabs tables compile with ``\usepackage{booktabs}``).
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
#: The non-ASCII characters the tables use, as LaTeX that needs no extra package.
_LATEX_SYMBOLS = {
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "→": r"$\to$",
    "†": r"\dag{}",
    "—": "---",
    "–": "--",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "×": r"$\times$",
    "∞": r"$\infty$",
    "α": r"$\alpha$",
    "ε": r"$\varepsilon$",
    "χ": r"$\chi$",
    "²": r"$^2$",
    "✗": r"$\times$",
}


@dataclass(frozen=True)
class ReportTable:
    """One table of the report.

    Attributes:
        name: The file stem under ``tables/`` (letters, digits, ``._+-``).
        title: The heading it has in the report (the LaTeX caption).
        header: The column names.
        rows: The formatted cells, one tuple per row (``**x**`` is bold).
    """

    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._+-]+", self.name):
            raise ValueError(
                f"expected a table name of letters, digits and ._+-, got {self.name!r}"
            )
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(
                    f"expected {len(self.header)} cells per row in table {self.name!r}, got "
                    f"{len(row)}"
                )

    def markdown(self) -> str:
        """A GitHub-flavoured markdown table (``|`` in cells escaped)."""
        return markdown_table(self.header, self.rows)

    def latex(self) -> str:
        """A booktabs ``table`` environment (``\\toprule``, ``\\midrule``, ``\\bottomrule``)
        from :meth:`pandas.DataFrame.to_latex`; special characters escaped, ``**x**`` as
        ``\\textbf{x}``, the first column left-aligned and the others right-aligned."""
        frame = pd.DataFrame(
            [[latex_cell(c) for c in row] for row in self.rows],
            columns=[latex_cell(h) for h in self.header],
        )
        return frame.to_latex(
            index=False,
            escape=False,
            caption=latex_cell(self.title),
            label=f"tab:{self.name}",
            column_format="l" + "r" * (len(self.header) - 1),
        )

    def csv(self) -> str:
        """The cells as CSV, bold markers dropped."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        for row in self.rows:
            writer.writerow([_BOLD.sub(r"\1", c) for c in row])
        return buffer.getvalue()

    def render(self, table_format: TableFormat) -> str:
        """The table in one of :data:`TABLE_FORMATS`."""
        if table_format == "markdown":
            return self.markdown() + "\n"
        if table_format == "latex":
            return self.latex()
        if table_format == "csv":
            return self.csv()
        raise ValueError(f"expected a table format among {TABLE_FORMATS}, got {table_format!r}")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table (``|`` in cells escaped)."""
    lines = [_line(header), _line(["---"] * len(header))]
    lines.extend(_line(row) for row in rows)
    return "\n".join(lines)


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def latex_cell(text: str) -> str:
    """One cell as LaTeX: special characters escaped, the tables' symbols as math, ``**x**``
    as ``\\textbf{x}``."""
    parts = []
    for i, piece in enumerate(_BOLD.split(text)):
        escaped = "".join(_LATEX_SPECIAL.get(ch, _LATEX_SYMBOLS.get(ch, ch)) for ch in piece)
        parts.append(f"\\textbf{{{escaped}}}" if i % 2 else escaped)
    return "".join(parts)


def check_formats(formats: Iterable[str]) -> tuple[TableFormat, ...]:
    """The formats, checked and without repeats.

    Raises:
        ValueError: A format not in :data:`TABLE_FORMATS`.
    """
    chosen = tuple(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in TABLE_FORMATS]
    if unknown:
        raise ValueError(f"expected table formats among {list(TABLE_FORMATS)}, got {unknown}")
    return chosen  # type: ignore[return-value]


def write_tables(
    tables: Sequence[ReportTable], directory: Path, formats: Iterable[str] = TABLE_FORMATS
) -> list[Path]:
    """Write every table in every format to ``directory/<name>.<md|tex|csv>``.

    Raises:
        ValueError: An unknown format, or two tables with the same name.
    """
    chosen = check_formats(formats)
    names = [t.name for t in tables]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"expected one table per name, got {repeated} more than once")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        for table_format in chosen:
            path = directory / f"{table.name}{_SUFFIX[table_format]}"
            write_text(path, table.render(table_format))
            written.append(path)
    return written
