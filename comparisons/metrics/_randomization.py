"""The model-parameter randomization test (Adebayo et al., 2018) on a cell."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from captum_ifim.metrics import default_layers, model_parameter_randomization
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_count, check_max_examples
from comparisons.metrics._row_statistic import mean_of


def _run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    layers = default_layers(cell.model)
    if options["max_layers"]:
        step = max(1, math.ceil(len(layers) / options["max_layers"]))
        layers = layers[::step]
    result = model_parameter_randomization(
        cell.model,
        cell.explainer_factory,
        first(cell.inputs, count),
        first(cell.targets, count),
        layers=layers,
        seed=cell.noise_seed,
        max_examples_per_batch=cell.batch_size,
    )
    return [
        mean_value("randomization-similarity", result.spearman_abs[i], f"layer={layer}")
        for i, layer in enumerate(result.layers)
    ]


def _check(options: Mapping[str, Any]) -> None:
    check_max_examples(options)
    check_count(options, "max_layers", minimum=0)


MODEL_PARAMETER_RANDOMIZATION = HarnessMetric(
    name="model-parameter-randomization",
    check=_check,
    runner=_run,
    defaults={"max_examples": 4, "max_layers": 0},
    rows=(RowSpec("randomization-similarity", statistic=mean_of("randomization-similarity")),),
)
