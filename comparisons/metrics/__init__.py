"""The harness's side of each library metric: its runner, defaults and result rows.

The library's :data:`captum_ifim.metrics.METRICS` is the single source of each metric's
name, category and direction. :data:`HARNESS_METRICS` keeps one :class:`HarnessMetric` per
library metric beside it (checked at import: a library metric without an entry is an
``ImportError`` naming it), and :func:`row_direction` gives the report the direction of
every result row from that data. Runners attach per-example values to their rows
(:class:`ExampleValues`), and each row declares how it follows from them
(:class:`RowStatistic`, :func:`row_statistic`), so a report can recompute it on resamples.
Every result row is declared once, as a :class:`RowSpec` with its role (a metric entry's
rows, and the cell's, model's and model pairs' in :data:`ROW_SPECS`); everything else
refers to the spec, never to its name's text.
"""

from comparisons.metrics._adversarial import (
    ADVERSARIAL_CORRELATION_ROW,
    ADVERSARIAL_CORRELATION_STD_ROW,
    ADVERSARIAL_CORRELATION_UNDEFINED_ROW,
)
from comparisons.metrics._cell_data import CellData, ExampleValues, MetricValue
from comparisons.metrics._contrastive import (
    F1_CLEAN_ROW,
    F1_DIFFERENCE_ROW,
    F1_HIGH_PERTURBED_ROW,
    F1_LOW_PERTURBED_ROW,
    F1_RATIO_ROW,
)
from comparisons.metrics._entry import (
    COMMON_DEFAULTS,
    ROW_ROLES,
    Direction,
    HarnessMetric,
    ResolvedDirection,
    RowRole,
    RowSpec,
)
from comparisons.metrics._localization import CUE_SETTING, ENERGY_IN_MASK_ROW, POINTING_GAME_ROW
from comparisons.metrics._registration import register_harness_metric
from comparisons.metrics._registry import (
    HARNESS_METRICS,
    check_metric_options,
    get_harness_metric,
    run_metric,
    runs_on_method,
)
from comparisons.metrics._row_catalogue import (
    BEST_EPOCH_ROW,
    CELL_ROWS,
    CUE_ACCURACY_CONGRUENT_ROW,
    CUE_ACCURACY_INCONGRUENT_ROW,
    CUE_RELIANCE_ROW,
    MAP_CORRELATION_ROW,
    METRIC_SECONDS_ROW,
    MODEL_ROWS,
    PAIR_ROWS,
    ROW_DIRECTIONS,
    ROW_SPECS,
    ROW_STATISTICS,
    SECONDS_PER_IMAGE_ROW,
    SUBSPACE_OVERLAP_ROW,
    TEST_ACCURACY_ROW,
    TEST_PRECISION_ROW,
    TEST_RECALL_ROW,
    TRAIN_SECONDS_ROW,
    row_direction,
    row_role,
    row_statistic,
    rows_with_role,
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
from comparisons.metrics._spectrum_metrics import (
    EFFECTIVE_RANK_ROW,
    EIGENVECTOR_ENERGY_ROW,
    LAMBDA_1_ROW,
    NUM_COMPONENTS_ROW,
    TRACE_ROW,
)

__all__ = [
    "ADVERSARIAL_CORRELATION_ROW",
    "ADVERSARIAL_CORRELATION_STD_ROW",
    "ADVERSARIAL_CORRELATION_UNDEFINED_ROW",
    "BEST_EPOCH_ROW",
    "CELL_ROWS",
    "COMMON_DEFAULTS",
    "CUE_ACCURACY_CONGRUENT_ROW",
    "CUE_ACCURACY_INCONGRUENT_ROW",
    "CUE_RELIANCE_ROW",
    "CUE_SETTING",
    "EFFECTIVE_RANK_ROW",
    "EIGENVECTOR_ENERGY_ROW",
    "ENERGY_IN_MASK_ROW",
    "F1_CLEAN_ROW",
    "F1_DIFFERENCE_ROW",
    "F1_HIGH_PERTURBED_ROW",
    "F1_LOW_PERTURBED_ROW",
    "F1_RATIO_ROW",
    "HARNESS_METRICS",
    "LAMBDA_1_ROW",
    "MAP_CORRELATION_ROW",
    "METRIC_SECONDS_ROW",
    "MODEL_ROWS",
    "NUM_COMPONENTS_ROW",
    "PAIR_ROWS",
    "POINTING_GAME_ROW",
    "PREDICTION_CLEAN",
    "PREDICTION_HIGH",
    "PREDICTION_LOW",
    "ROW_DIRECTIONS",
    "ROW_ROLES",
    "ROW_SPECS",
    "ROW_STATISTICS",
    "SECONDS_PER_IMAGE_ROW",
    "STATISTIC_KINDS",
    "SUBSPACE_OVERLAP_ROW",
    "TEST_ACCURACY_ROW",
    "TEST_PRECISION_ROW",
    "TEST_RECALL_ROW",
    "TRACE_ROW",
    "TRAIN_SECONDS_ROW",
    "CellData",
    "Direction",
    "ExampleValues",
    "HarnessMetric",
    "MetricValue",
    "ResolvedDirection",
    "RowRole",
    "RowSpec",
    "RowStatistic",
    "StatisticKind",
    "check_metric_options",
    "get_harness_metric",
    "mean_of",
    "register_harness_metric",
    "row_direction",
    "row_role",
    "row_statistic",
    "rows_with_role",
    "run_metric",
    "runs_on_method",
]
