"""Average sensitivity and the local Lipschitz estimate (beside max-sensitivity) on a cell:
the explainer is called on ``n_samples`` noisy copies of each image, so few images are used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from captum_ifim.metrics import avg_sensitivity, local_lipschitz_estimate
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_count, check_max_examples, check_positive
from comparisons.metrics._row_statistic import mean_of


def _avg_sensitivity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    radius = options["radius_relative"] * cell.data_range
    values = avg_sensitivity(
        cell.explainer,
        first(cell.inputs, count),
        first(cell.targets, count),
        radius=radius,
        n_samples=options["n_samples"],
        generator=torch.Generator().manual_seed(cell.noise_seed),
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("avg-sensitivity", values, f"radius={radius:.4g}")]


def _lipschitz(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    std = options["std_relative"] * cell.data_range
    values = local_lipschitz_estimate(
        cell.explainer,
        first(cell.inputs, count),
        first(cell.targets, count),
        std=std,
        n_samples=options["n_samples"],
        generator=torch.Generator().manual_seed(cell.noise_seed),
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("local-lipschitz-estimate", values, f"std={std:.4g}")]


def _check_avg(options: Mapping[str, Any]) -> None:
    check_count(options, "n_samples")
    check_positive(options, "radius_relative")
    check_max_examples(options)


def _check_lipschitz(options: Mapping[str, Any]) -> None:
    check_count(options, "n_samples")
    check_positive(options, "std_relative")
    check_max_examples(options)


AVG_SENSITIVITY = HarnessMetric(
    name="avg-sensitivity",
    check=_check_avg,
    runner=_avg_sensitivity,
    defaults={"n_samples": 2, "radius_relative": 0.02, "max_examples": 2},
    rows=(RowSpec("avg-sensitivity", statistic=mean_of("avg-sensitivity")),),
)

LOCAL_LIPSCHITZ_ESTIMATE = HarnessMetric(
    name="local-lipschitz-estimate",
    check=_check_lipschitz,
    runner=_lipschitz,
    defaults={"n_samples": 2, "std_relative": 0.02, "max_examples": 2},
    rows=(RowSpec("local-lipschitz-estimate", statistic=mean_of("local-lipschitz-estimate")),),
)
