"""The harness's side of each library metric: its runner, defaults and result rows.

The library's :data:`captum_ifim.metrics.METRICS` is the single source of each metric's
name, category and direction. :data:`HARNESS_METRICS` keeps one :class:`HarnessMetric` per
library metric beside it (checked at import: a library metric without an entry is an
``ImportError`` naming it), and :func:`row_direction` gives the report the direction of
every result row from that data.
"""

from comparisons.metrics._cell_data import CellData, MetricValue
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
    ROW_DIRECTIONS,
    check_metric_options,
    get_harness_metric,
    row_direction,
    run_metric,
)

__all__ = [
    "CELL_ROWS",
    "COMMON_DEFAULTS",
    "HARNESS_METRICS",
    "ROW_DIRECTIONS",
    "CellData",
    "Direction",
    "HarnessMetric",
    "MetricValue",
    "ResolvedDirection",
    "RowSpec",
    "check_metric_options",
    "get_harness_metric",
    "row_direction",
    "run_metric",
]
