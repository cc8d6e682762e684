"""The random-logit test (Sixt et al., 2020) on a cell: the explainer's map of the target
class against its map of a random other class (two explainer calls per image)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from captum_ifim.metrics import random_logit
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_choice, check_max_examples, library_choices
from comparisons.metrics._row_statistic import mean_of


def _run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    similarity = options["similarity"]
    values = random_logit(
        cell.model,
        cell.explainer,
        first(cell.inputs, count),
        first(cell.targets, count),
        similarity=similarity,
        generator=torch.Generator().manual_seed(cell.noise_seed),
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("random-logit", values, f"similarity={similarity}")]


def _check(options: Mapping[str, Any]) -> None:
    check_choice(options, "similarity", library_choices(random_logit, "similarity"))
    check_max_examples(options)


RANDOM_LOGIT = HarnessMetric(
    name="random-logit",
    check=_check,
    runner=_run,
    defaults={"similarity": "ssim", "max_examples": 4},
    rows=(RowSpec("random-logit", statistic=mean_of("random-logit")),),
)
