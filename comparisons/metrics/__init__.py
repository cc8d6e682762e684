"""The harness's side of each library metric: its runner, defaults and result rows.

The library's :data:`captum_ifim.metrics.METRICS` is the single source of each metric's
name, category and direction. :data:`HARNESS_METRICS` keeps one :class:`HarnessMetric` per
library metric beside it (checked at import: a library metric without an entry is an
``ImportError`` naming it), and :func:`row_direction` gives the report the direction of
every result row from that data. Runners attach per-example values to their rows
(:class:`ExampleValues`), and each row declares how it follows from them
(:class:`RowStatistic`, :func:`row_statistic`), so a report can recompute it on resamples.
"""

from comparisons.metrics._cell_data import CellData, ExampleValues, MetricValue
from comparisons.metrics._entry import (
    COMMON_DEFAULTS,
    Direction,
    HarnessMetric,
    ResolvedDirection,
    RowSpec,
)
from comparisons.metrics._registry import (
    CELL_ROWS,
    HARNESS_METRICS,
    PAIR_ROWS,
    ROW_DIRECTIONS,
    ROW_STATISTICS,
    check_metric_options,
    get_harness_metric,
    row_direction,
    row_statistic,
    run_metric,
)
from comparisons.metrics._row_statistic import (
    PREDICTION_CLEAN,
    PREDICTION_HIGH,
    PREDICTION_LOW,
    STATISTIC_KINDS,
    RowStatistic,
    StatisticKind,
    mean_of,
)

__all__ = [
    "CELL_ROWS",
    "COMMON_DEFAULTS",
    "HARNESS_METRICS",
    "PAIR_ROWS",
    "PREDICTION_CLEAN",
    "PREDICTION_HIGH",
    "PREDICTION_LOW",
    "ROW_DIRECTIONS",
    "ROW_STATISTICS",
    "STATISTIC_KINDS",
    "CellData",
    "Direction",
    "ExampleValues",
    "HarnessMetric",
    "MetricValue",
    "ResolvedDirection",
    "RowSpec",
    "RowStatistic",
    "StatisticKind",
    "check_metric_options",
    "get_harness_metric",
    "mean_of",
    "row_direction",
    "row_statistic",
    "run_metric",
]
