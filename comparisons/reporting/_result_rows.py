"""The tidy result rows of a run folder (``results.json``), read and checked."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ResultRow:
    """One measured value of one seed.

    Attributes:
        dataset, model: The cell.
        seed: The model's random initialisation.
        method: Attribution method name, ``""`` for model-level rows (accuracy, ...).
        metric: Metric name, e.g. ``"f1-ratio"``.
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


def row_from_record(record: Mapping[str, Any]) -> ResultRow:
    """A :class:`ResultRow` from one JSON object of ``results.json``.

    Raises:
        ValueError: A column is missing or has the wrong type.
    """
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a row object, got {type(record).__name__}")
    missing = [c for c in RESULT_COLUMNS if c not in record]
    if missing:
        raise ValueError(f"expected a row with columns {list(RESULT_COLUMNS)}, got no {missing}")
    strings = {c: record[c] for c in ("dataset", "model", "method", "metric", "setting")}
    for column, text in strings.items():
        if not isinstance(text, str):
            raise ValueError(f"expected {column} to be a str, got {text!r}")
    value = record["value"]
    if value is None:
        value = math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected value to be a number or null, got {value!r}")
    for column in ("seed", "n"):
        if isinstance(record[column], bool) or not isinstance(record[column], int):
            raise ValueError(f"expected {column} to be an int, got {record[column]!r}")
    return ResultRow(
        dataset=strings["dataset"],
        model=strings["model"],
        seed=record["seed"],
        method=strings["method"],
        metric=strings["metric"],
        setting=strings["setting"],
        value=float(value),
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


def load_results(path: Path) -> list[ResultRow]:
    """The rows of a ``results.json`` file (a JSON list of row objects)."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(records, list):
        raise ValueError(f"expected a JSON list of rows in {path}, got {type(records).__name__}")
    return rows_from_records(records)
