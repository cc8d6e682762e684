"""The per-example values of a cell: one gzipped CSV per cell, one row per example and value.

``per_example/<cell>.csv.gz`` holds, for every result row that has them, the values it was
computed from: a per-example metric's values (the row is their finite mean) and, for the
set-level F1 rows of the contrastive perturbation (Sec. IV-E), the predicted labels on
clean, high-perturbed and low-perturbed inputs per alpha. With the true labels beside them
every statistic of the report can be recomputed from the run folder alone.

Columns (:data:`PER_EXAMPLE_COLUMNS`): ``metric`` (a result-row metric or a
``prediction-*`` block), ``setting``, ``position`` (row in the cell's evaluated images),
``test_index`` (index in the dataset's test split), ``label`` (true label), ``classes``
(the model's number of classes) and ``value`` (float64 written exactly; NaN empty, ``inf``
as ``inf``). The file is written before the cell's ``cells/<cell>.json``, so a complete
cell always has it; cells of runs from before it existed have none.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The columns of a per-example file, in order.
PER_EXAMPLE_COLUMNS: tuple[str, ...] = (
    "metric",
    "setting",
    "position",
    "test_index",
    "label",
    "classes",
    "value",
)
_INTEGER_COLUMNS = ("position", "test_index", "label", "classes")


@dataclass(frozen=True)
class ExampleBlock:
    """The per-example values of one result row (or one block of predicted labels).

    Attributes:
        metric: The row's metric, or a ``prediction-*`` block name.
        setting: The row's setting (``"alpha=0.01"``, ...).
        positions: (n,) int, rows of the cell's evaluated images.
        values: (n,) float64.
    """

    metric: str
    setting: str
    positions: np.ndarray
    values: np.ndarray


def per_example_table(
    blocks: Iterable[ExampleBlock], test_indices: np.ndarray, labels: np.ndarray, classes: int
) -> pd.DataFrame:
    """The per-example table of one cell.

    Args:
        blocks: The cell's blocks.
        test_indices: (N,) test-split index of each evaluated image.
        labels: (N,) their true labels.
        classes: The model's number of classes.

    Raises:
        ValueError: A block whose positions and values differ in length or fall outside
            the N evaluated images, or the same (metric, setting) twice.
    """
    test_indices = np.asarray(test_indices, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if test_indices.shape != labels.shape or test_indices.ndim != 1:
        raise ValueError(
            f"expected test_indices and labels of one shape (N,), got {test_indices.shape} "
            f"and {labels.shape}"
        )
    frames = []
    seen: set[tuple[str, str]] = set()
    for block in blocks:
        positions = np.asarray(block.positions, dtype=np.int64).ravel()
        values = np.asarray(block.values, dtype=np.float64).ravel()
        if positions.shape != values.shape:
            raise ValueError(
                f"expected one position per value in {block.metric} {block.setting}, got "
                f"{positions.size} positions and {values.size} values"
            )
        if positions.size and (positions.min() < 0 or positions.max() >= labels.size):
            raise ValueError(
                f"expected positions in [0, {labels.size}) in {block.metric}, got "
                f"[{positions.min()}, {positions.max()}]"
            )
        if (block.metric, block.setting) in seen:
            raise ValueError(f"expected each (metric, setting) once, got {block.metric} twice")
        seen.add((block.metric, block.setting))
        frames.append(
            pd.DataFrame(
                {
                    "metric": block.metric,
                    "setting": block.setting,
                    "position": positions,
                    "test_index": test_indices[positions],
                    "label": labels[positions],
                    "classes": int(classes),
                    "value": values,
                }
            )
        )
    if not frames:
        return empty_table()
    return pd.concat(frames, ignore_index=True)[list(PER_EXAMPLE_COLUMNS)]


def empty_table() -> pd.DataFrame:
    """A per-example table without rows (a cell whose metrics have no per-example values)."""
    columns = {c: pd.Series(dtype=np.int64) for c in _INTEGER_COLUMNS}
    columns.update(
        metric=pd.Series(dtype=object),
        setting=pd.Series(dtype=object),
        value=pd.Series(dtype=np.float64),
    )
    return pd.DataFrame(columns)[list(PER_EXAMPLE_COLUMNS)]


def per_example_bytes(table: pd.DataFrame) -> bytes:
    """The file's bytes: CSV (floats exactly, by ``repr``) gzipped with a fixed header time,
    so the same values give the same bytes."""
    text = table[list(PER_EXAMPLE_COLUMNS)].to_csv(index=False, lineterminator="\n")
    return gzip.compress(text.encode("utf-8"), mtime=0)


def read_per_example(path: Path) -> pd.DataFrame:
    """A per-example file as a table with :data:`PER_EXAMPLE_COLUMNS`.

    Raises:
        ValueError: Unreadable, or without the expected columns (the message names it).
    """
    try:
        raw = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
        table = pd.read_csv(io.StringIO(raw), dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, EOFError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise ValueError(f"expected a gzipped per-example CSV {path}: {error}") from error
    except pd.errors.EmptyDataError:
        return empty_table()
    if tuple(table.columns) != PER_EXAMPLE_COLUMNS:
        raise ValueError(
            f"expected the columns {list(PER_EXAMPLE_COLUMNS)} in {path}, got {list(table.columns)}"
        )
    try:
        for column in _INTEGER_COLUMNS:
            table[column] = table[column].astype(np.int64)
        # numpy parses each decimal string to the nearest float64: exact round trip.
        text = table["value"].to_numpy(dtype=str)
        table["value"] = np.where(text == "", "nan", text).astype(np.float64)
    except ValueError as error:
        raise ValueError(f"expected numbers in {path}: {error}") from error
    table["metric"] = table["metric"].astype(object)
    table["setting"] = table["setting"].astype(object)
    return table
