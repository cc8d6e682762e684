"""Relevance rank accuracy and the mask ROC AUC on a cell's signal-present images (beside
energy-in-mask and the pointing game); maps and masks only, so every such image is used."""

from __future__ import annotations

from typing import Any

from captum_ifim.metrics import mask_roc_auc, relevance_rank_accuracy
from comparisons.metrics._cell_data import CellData, MetricValue, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._localization import signal_present
from comparisons.metrics._option_checks import check_max_examples
from comparisons.metrics._row_statistic import mean_of


def _signal(cell: CellData, options: dict[str, Any]) -> Any:
    signal = signal_present(cell)
    if signal is None:
        return None
    count = options["max_examples"]
    maps, masks, positions = signal
    return maps[:count], masks[:count], positions[:count]


def _rank_accuracy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = _signal(cell, options)
    if signal is None:
        return []
    maps, masks, positions = signal
    values = relevance_rank_accuracy(maps, masks)
    return [mean_value("relevance-rank-accuracy", values, "", positions)]


def _roc_auc(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = _signal(cell, options)
    if signal is None:
        return []
    maps, masks, positions = signal
    values = mask_roc_auc(maps, masks)
    return [mean_value("mask-roc-auc", values, "", positions)]


RELEVANCE_RANK_ACCURACY = HarnessMetric(
    name="relevance-rank-accuracy",
    check=check_max_examples,
    runner=_rank_accuracy,
    defaults={"max_examples": None},
    rows=(RowSpec("relevance-rank-accuracy", statistic=mean_of("relevance-rank-accuracy")),),
)

MASK_ROC_AUC = HarnessMetric(
    name="mask-roc-auc",
    check=check_max_examples,
    runner=_roc_auc,
    defaults={"max_examples": None},
    rows=(RowSpec("mask-roc-auc", statistic=mean_of("mask-roc-auc")),),
)
