"""Every library metric's harness entry, checked against the library's registry at import."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from captum_ifim.metrics import METRICS
from comparisons.metrics._adversarial import ADVERSARIAL_CORRELATION
from comparisons.metrics._captum_metrics import INFIDELITY, SENSITIVITY_MAX
from comparisons.metrics._cell_data import CellData, MetricValue
from comparisons.metrics._contrastive import CONTRASTIVE_PERTURBATION
from comparisons.metrics._entry import HarnessMetric, ResolvedDirection, RowSpec
from comparisons.metrics._kl_fidelity import KL_FIDELITY
from comparisons.metrics._localization import ENERGY_IN_MASK, POINTING_GAME
from comparisons.metrics._perturbation_curves import DELETION_AUC, INSERTION_AUC
from comparisons.metrics._randomization import MODEL_PARAMETER_RANDOMIZATION
from comparisons.metrics._row_statistic import RowStatistic

_ENTRIES = (
    CONTRASTIVE_PERTURBATION,
    ADVERSARIAL_CORRELATION,
    DELETION_AUC,
    INSERTION_AUC,
    ENERGY_IN_MASK,
    POINTING_GAME,
    KL_FIDELITY,
    MODEL_PARAMETER_RANDOMIZATION,
    INFIDELITY,
    SENSITIVITY_MAX,
)

#: Every metric's harness entry, by library name, in the library registry's order.
HARNESS_METRICS: Mapping[str, HarnessMetric] = MappingProxyType(
    {name: entry for name in METRICS for entry in _ENTRIES if entry.name == name}
)

_missing = sorted(set(METRICS) - set(HARNESS_METRICS))
_unknown = sorted({e.name for e in _ENTRIES} - set(METRICS))
if _missing or _unknown:
    raise ImportError(
        f"expected one harness entry (comparisons/metrics) per library metric, got none for "
        f"{_missing} and entries for unregistered metrics {_unknown}"
    )

#: Rows the runner itself writes for every cell (not a metric of the library).
CELL_ROWS: tuple[RowSpec, ...] = (
    RowSpec("seconds-per-image", "lower", "time is a cost"),
    RowSpec(
        "metric-seconds",
        "none",
        "seconds one metric took on the cell (setting metric=<name>): a cost of the "
        "evaluation, not a quality of the method, so never ranked",
    ),
)


#: Rows the model-pair stage writes (:mod:`comparisons.run._model_pairs`): two models of one
#: dataset compared on the same images, model ``"<a>|<b>"``, setting ``"seeds=<i>|<j>"``.
PAIR_ROWS: tuple[RowSpec, ...] = (
    RowSpec(
        "subspace-overlap",
        "none",
        "how much two models' iFIM eigenspaces U_K agree (mean cos^2 of the principal angles): "
        "a fact about the models, not a quality of the method",
    ),
    RowSpec(
        "map-correlation",
        "none",
        "how much two models' maps of one method agree (Pearson): stability across seeds or "
        "architectures, which is not faithfulness, so never ranked",
    ),
)


def _row_directions() -> Mapping[str, ResolvedDirection]:
    directions: dict[str, ResolvedDirection] = {
        row.name: ResolvedDirection(row.name, row.direction or "none")
        for row in (*CELL_ROWS, *PAIR_ROWS)
    }
    for entry in HARNESS_METRICS.values():
        for row in entry.rows:
            if row.name in directions:
                raise ImportError(f"expected each result row declared once, got {row.name!r} twice")
            directions[row.name] = entry.direction(row)
    return MappingProxyType(directions)


#: Every declared result-row metric's direction.
ROW_DIRECTIONS: Mapping[str, ResolvedDirection] = _row_directions()

#: How each result row with per-example values follows from them (rows without are absent).
ROW_STATISTICS: Mapping[str, RowStatistic] = MappingProxyType(
    {
        row.name: row.statistic
        for entry in HARNESS_METRICS.values()
        for row in entry.rows
        if row.statistic is not None
    }
)


def row_statistic(metric: str) -> RowStatistic | None:
    """How result-row ``metric`` is computed from per-example values; ``None`` when it has
    none (spreads, counts, timings, model facts, rows of older runs)."""
    return ROW_STATISTICS.get(metric)


def row_direction(metric: str) -> ResolvedDirection:
    """The direction of a result-row metric; rows no entry declares (model facts such as
    ``test-accuracy``, or rows of older runs) get ``"none"``."""
    return ROW_DIRECTIONS.get(metric, ResolvedDirection(metric, "none"))


def get_harness_metric(name: str) -> HarnessMetric:
    """The harness entry of library metric ``name``.

    Raises:
        ValueError: Unknown name (the message lists the valid ones).
    """
    if name not in HARNESS_METRICS:
        raise ValueError(f"expected a metric name among {list(HARNESS_METRICS)}, got {name!r}")
    return HARNESS_METRICS[name]


def check_metric_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an option of metric ``name`` that is unknown or bad."""
    get_harness_metric(name).resolved_options(options)


def run_metric(name: str, cell: CellData, options: Mapping[str, Any]) -> list[MetricValue]:
    """Rows of metric ``name`` for ``cell``; ``[]`` when the metric does not apply to it."""
    entry = get_harness_metric(name)
    resolved = entry.resolved_options(options)
    if resolved["methods"] is not None and cell.method not in resolved["methods"]:
        return []
    return entry.runner(cell, resolved)
