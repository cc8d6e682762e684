"""All of a run's per-example values in one tidy file: ``per_example.csv.gz``.

The run writes one ``per_example/<cell>.csv.gz`` per cell (so that a cell lands atomically);
the report joins them into one table, one row per (cell, metric, setting, example), for a
user who wants every value behind the statistics in one pandas or R call. Columns:
``dataset``, ``model``, ``seed``, ``method``, then :data:`PER_EXAMPLE_COLUMNS`.
"""

from __future__ import annotations

import gzip

import pandas as pd

from comparisons.run_folder import PER_EXAMPLE_COLUMNS, RunContents

#: The columns of ``per_example.csv.gz``, in order.
RUN_PER_EXAMPLE_COLUMNS: tuple[str, ...] = ("dataset", "model", "seed", "method")
RUN_PER_EXAMPLE_COLUMNS += PER_EXAMPLE_COLUMNS


def run_per_example_table(run: RunContents) -> pd.DataFrame:
    """Every cell's per-example table with its cell's columns, cells in key order.

    A cell whose file is unreadable is left out (the report names it under "Not drawn or
    missing"); a run from before per-example files existed gives an empty table.
    """
    tables = []
    for cell in sorted(run.per_example):
        try:
            table = run.load_per_example(cell)
        except ValueError:
            continue
        if table is None or table.empty:
            continue
        group = cell.group
        keys = {"dataset": group.dataset, "model": group.model, "seed": group.seed}
        tables.append(table.assign(**keys, method=cell.method))
    if not tables:
        return pd.DataFrame(columns=list(RUN_PER_EXAMPLE_COLUMNS))
    return pd.concat(tables, ignore_index=True)[list(RUN_PER_EXAMPLE_COLUMNS)]


def run_per_example_bytes(run: RunContents) -> bytes:
    """``per_example.csv.gz``'s bytes: the same values give the same bytes (floats by
    ``repr``, gzip with a fixed header time)."""
    text = run_per_example_table(run).to_csv(index=False, lineterminator="\n")
    return gzip.compress(text.encode("utf-8"), mtime=0)
