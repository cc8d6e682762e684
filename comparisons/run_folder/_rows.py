"""The tidy result rows: their columns, their order, and NaN <-> ``null`` on disk.

A row is one measured value of one seed: (dataset, model, seed, method, metric, setting,
value, n). On disk an undefined value (NaN) is JSON ``null`` and an empty CSV field;
infinities stay infinities (``Infinity`` in JSON, ``inf`` in CSV).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: The columns of ``results.json`` / ``results.csv``, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "seed",
    "method",
    "metric",
    "setting",
    "value",
    "n",
)
_SORT_COLUMNS = ("dataset", "model", "seed", "method", "metric", "setting")


@dataclass(frozen=True)
class ResultRow:
    """One measured value of one seed.

    Attributes:
        dataset, model: The cell.
        seed: The model's random initialisation.
        method: Attribution method name, ``""`` for model-level rows (accuracy, ...).
        metric: Result-row metric name (declared by a
            :class:`~comparisons.metrics.RowSpec`).
        setting: E.g. ``"alpha=0.01"``; ``""`` when none.
        value: The value; NaN when undefined (``null`` in JSON).
        n: How many examples the value summarises.
    """

    dataset: str
    model: str
    seed: int
    method: str
    metric: str
    setting: str
    value: float
    n: int

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """The group over seeds: (dataset, model, method, metric, setting)."""
        return (self.dataset, self.model, self.method, self.metric, self.setting)

    def to_record(self) -> dict[str, Any]:
        """The row as a JSON object (NaN as ``None``)."""
        record = asdict(self)
        record["value"] = value_to_json(self.value)
        return record


def value_to_json(value: float) -> float | None:
    """NaN -> ``None`` (JSON ``null``); every other float as it is."""
    return None if math.isnan(value) else float(value)


def value_from_json(value: Any) -> float:
    """``None`` (JSON ``null``) -> NaN; numbers as floats.

    Raises:
        ValueError: Not a number or ``None``.
    """
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected value to be a number or null, got {value!r}")
    return float(value)


def row_from_record(record: Mapping[str, Any]) -> ResultRow:
    """A :class:`ResultRow` from one JSON object.

    Raises:
        ValueError: A column is missing or has the wrong type.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a row object, got {type(record).__name__}")
    missing = [c for c in RESULT_COLUMNS if c not in record]
    if missing:
        raise ValueError(f"expected a row with columns {list(RESULT_COLUMNS)}, got no {missing}")
    for column in ("dataset", "model", "method", "metric", "setting"):
        if not isinstance(record[column], str):
            raise ValueError(f"expected {column} to be a str, got {record[column]!r}")
    for column in ("seed", "n"):
        if isinstance(record[column], bool) or not isinstance(record[column], int):
            raise ValueError(f"expected {column} to be an int, got {record[column]!r}")
    return ResultRow(
        dataset=record["dataset"],
        model=record["model"],
        seed=record["seed"],
        method=record["method"],
        metric=record["metric"],
        setting=record["setting"],
        value=value_from_json(record["value"]),
        n=record["n"],
    )


def rows_from_records(records: Iterable[Mapping[str, Any]]) -> list[ResultRow]:
    """Rows from JSON objects, checking that no (cell, seed, method, metric, setting) repeats.

    Raises:
        ValueError: A malformed row, or two rows for the same seed of one group.
    """
    rows = [row_from_record(r) for r in records]
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        identity = (*row.key, row.seed)
        if identity in seen:
            raise ValueError(f"expected one row per seed of a group, got a repeated {identity}")
        seen.add(identity)
    return rows


def sorted_rows(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """Rows in the tables' order: by dataset, model, seed, method, metric, setting."""
    return sorted(rows, key=lambda r: tuple(str(getattr(r, c)) for c in _SORT_COLUMNS))


def load_results(path: Path) -> list[ResultRow]:
    """The rows of a ``results.json`` file (a JSON list of row objects).

    Raises:
        ValueError: Not a JSON list of rows (the message names the file).
    """
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"expected JSON in {path}, got an unreadable file: {error}") from error
    if not isinstance(records, list):
        raise ValueError(f"expected a JSON list of rows in {path}, got {type(records).__name__}")
    return rows_from_records(records)


def results_csv(rows: Iterable[ResultRow]) -> str:
    """``results.csv``: the columns in order, NaN as an empty field, floats exactly (repr)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        record["value"] = "" if math.isnan(row.value) else repr(row.value)
        writer.writerow(record)
    return buffer.getvalue()
