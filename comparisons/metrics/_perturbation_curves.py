"""Deletion and insertion AUC (RISE, Petsiuk et al. 2018) on a cell."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from captum_ifim.metrics import deletion_auc, insertion_auc
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_count, check_max_examples, library_choices
from comparisons.metrics._row_statistic import mean_of


def _curve_runner(
    metric: str, function: Callable[..., Any]
) -> Callable[[CellData, dict[str, Any]], list[MetricValue]]:
    def run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
        count = options["max_examples"]
        baseline = options["baseline"]
        _check_steps(options, tuple(cell.inputs.shape[1:]))  # backstop: no hang
        curve = function(
            cell.model,
            first(cell.inputs, count),
            first(cell.maps, count),
            first(cell.targets, count),
            baseline=cell.dataset.pixel_mean if baseline == "mean" else baseline,
            steps=options["steps"],
            generator=torch.Generator().manual_seed(cell.noise_seed),
            max_examples_per_batch=cell.batch_size,
        )
        return [mean_value(metric, curve.auc, f"baseline={baseline}")]

    return run


def _check_steps(options: Mapping[str, Any], shape: tuple[int, ...]) -> None:
    """``steps`` at most the images' pixel locations: each step is one forward pass, and
    more steps than locations only repeat points of the curve."""
    locations = math.prod(shape[1:])
    if options["steps"] > locations:
        raise ValueError(
            f"expected steps <= the {locations} pixel locations of the images "
            f"{tuple(shape[1:])}, got {options['steps']}"
        )


def _check(options: Mapping[str, Any]) -> None:
    check_count(options, "steps")
    check_max_examples(options)
    baseline = options["baseline"]
    choices = ("mean", *library_choices(deletion_auc, "baseline"))
    if baseline not in choices and not (
        isinstance(baseline, int | float) and not isinstance(baseline, bool)
    ):
        raise ValueError(
            f"expected baseline to be a number or one of {list(choices)}, got {baseline!r}"
        )


DELETION_AUC = HarnessMetric(
    name="deletion-auc",
    check=_check,
    check_images=_check_steps,
    runner=_curve_runner("deletion-auc", deletion_auc),
    defaults={"steps": 16, "baseline": "mean", "max_examples": None},
    rows=(RowSpec("deletion-auc", statistic=mean_of("deletion-auc")),),
)

INSERTION_AUC = HarnessMetric(
    name="insertion-auc",
    check=_check,
    check_images=_check_steps,
    runner=_curve_runner("insertion-auc", insertion_auc),
    defaults={"steps": 16, "baseline": "blur", "max_examples": None},
    rows=(RowSpec("insertion-auc", statistic=mean_of("insertion-auc")),),
)
