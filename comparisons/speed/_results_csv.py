"""The results CSV: one :class:`comparisons.speed.Row` per line, columns :data:`COLUMNS`."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from comparisons.speed._timed_cell import COLUMNS, FORMER_METHOD_NAMES, Row

_TYPES = {f.name: f.type for f in fields(Row)}


def write_rows(rows: Sequence[Row], path: Path) -> Path:
    """Write ``rows`` to ``path`` (parents created); ``None`` is an empty field."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
    return path


def _parse(name: str, text: str) -> Any:
    kind = str(_TYPES[name])
    if text == "" and "None" in kind:
        return None
    if kind.startswith("int"):
        return int(text)
    if kind.startswith("float"):
        return float(text)
    return text


def _row(line: dict[str, str]) -> Row:
    row = Row(**{k: _parse(k, v) for k, v in line.items()})
    row.method = FORMER_METHOD_NAMES.get(row.method, row.method)
    return row


def read_rows(path: Path) -> list[Row]:
    """Rows written by :func:`write_rows` (a round trip). Files written before the
    benchmark named methods as the registry does are read with the registry's names
    (``ifim`` and ``ifim-mass`` are ``ifim-sensitive``, the latter with its ``class_mass``).

    Raises:
        ValueError: The file's header is not :data:`COLUMNS`.
    """
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"expected the columns {COLUMNS}, got {reader.fieldnames}")
        return [_row(line) for line in reader]
