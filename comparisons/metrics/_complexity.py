"""Sparseness, complexity and effective complexity (the complexity family) on a cell's maps.

They read the maps alone (no model call), so every evaluated image is used: each costs well
under a millisecond per image (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum_ifim.metrics import complexity, effective_complexity, sparseness
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_max_examples, check_positive
from comparisons.metrics._row_statistic import mean_of


def _sparseness(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    values = sparseness(first(cell.maps, options["max_examples"]))
    return [mean_value("sparseness", values)]


def _complexity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    values = complexity(first(cell.maps, options["max_examples"]))
    return [mean_value("complexity", values)]


def _effective(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    eps = options["eps"]
    values = effective_complexity(first(cell.maps, options["max_examples"]), eps=eps)
    return [mean_value("effective-complexity", values, f"eps={eps:g}")]


def _check_effective(options: Mapping[str, Any]) -> None:
    check_positive(options, "eps")
    check_max_examples(options)


SPARSENESS = HarnessMetric(
    name="sparseness",
    check=check_max_examples,
    runner=_sparseness,
    defaults={"max_examples": None},
    rows=(RowSpec("sparseness", statistic=mean_of("sparseness")),),
)

COMPLEXITY = HarnessMetric(
    name="complexity",
    check=check_max_examples,
    runner=_complexity,
    defaults={"max_examples": None},
    rows=(RowSpec("complexity", statistic=mean_of("complexity")),),
)

EFFECTIVE_COMPLEXITY = HarnessMetric(
    name="effective-complexity",
    check=_check_effective,
    runner=_effective,
    defaults={"eps": 1e-5, "max_examples": None},
    rows=(RowSpec("effective-complexity", statistic=mean_of("effective-complexity")),),
)
