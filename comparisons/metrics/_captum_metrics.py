"""Captum's infidelity and max-sensitivity (Yeh et al., 2019), used as they are, on a cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from captum_ifim.metrics import infidelity, sensitivity_max
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_count, check_max_examples, check_positive
from comparisons.metrics._row_statistic import mean_of


def _infidelity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    std = options["noise_relative"] * cell.dataset.pixel_std
    inputs = first(cell.inputs, count)
    generator = torch.Generator().manual_seed(cell.noise_seed)

    def perturb(x: Tensor) -> tuple[Tensor, Tensor]:
        noise = torch.randn(x.shape, generator=generator).to(x) * std
        return noise, x - noise

    values = infidelity(
        cell.model,
        perturb,
        inputs,
        first(cell.maps, count),
        target=first(cell.targets, count),
        n_perturb_samples=options["n_perturb_samples"],
        max_examples_per_batch=cell.batch_size * options["n_perturb_samples"],
        normalize=True,
    )
    return [mean_value("infidelity", values, f"noise_std={std:.4g}")]


def _sensitivity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    radius = options["radius_relative"] * cell.data_range
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell.noise_seed)
        values = sensitivity_max(
            cell.explainer.attribute,
            first(cell.inputs, count),
            perturb_radius=radius,
            n_perturb_samples=options["n_perturb_samples"],
            max_examples_per_batch=cell.batch_size,
            target=first(cell.targets, count),
        )
    return [mean_value("sensitivity-max", values, f"radius={radius:.4g}")]


def _check_infidelity(options: Mapping[str, Any]) -> None:
    check_count(options, "n_perturb_samples")
    check_positive(options, "noise_relative")
    check_max_examples(options)


INFIDELITY = HarnessMetric(
    name="infidelity",
    check=_check_infidelity,
    runner=_infidelity,
    defaults={"n_perturb_samples": 8, "noise_relative": 0.1, "max_examples": 16},
    rows=(RowSpec("infidelity", statistic=mean_of("infidelity")),),
)


def _check_sensitivity(options: Mapping[str, Any]) -> None:
    check_count(options, "n_perturb_samples")
    check_positive(options, "radius_relative")
    check_max_examples(options)


SENSITIVITY_MAX = HarnessMetric(
    name="sensitivity-max",
    check=_check_sensitivity,
    runner=_sensitivity,
    defaults={"n_perturb_samples": 4, "radius_relative": 0.02, "max_examples": 8},
    rows=(RowSpec("sensitivity-max", statistic=mean_of("sensitivity-max")),),
)
