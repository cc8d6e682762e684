"""Deletion and insertion AUC (RISE, Petsiuk et al. 2018) on a cell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from captum_ifim.metrics import deletion_auc, insertion_auc
from comparisons.metrics._cell_data import CellData, MetricValue, finite_mean, first
from comparisons.metrics._entry import HarnessMetric, RowSpec


def _curve_runner(
    metric: str, function: Callable[..., Any]
) -> Callable[[CellData, dict[str, Any]], list[MetricValue]]:
    def run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
        count = options["max_examples"]
        baseline = options["baseline"]
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
        value, n = finite_mean(curve.auc)
        return [MetricValue(metric, value, f"baseline={baseline}", n)]

    return run


DELETION_AUC = HarnessMetric(
    name="deletion-auc",
    runner=_curve_runner("deletion-auc", deletion_auc),
    defaults={"steps": 16, "baseline": "mean", "max_examples": None},
    rows=(RowSpec("deletion-auc"),),
)

INSERTION_AUC = HarnessMetric(
    name="insertion-auc",
    runner=_curve_runner("insertion-auc", insertion_auc),
    defaults={"steps": 16, "baseline": "blur", "max_examples": None},
    rows=(RowSpec("insertion-auc"),),
)
