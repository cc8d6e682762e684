"""The local KL fidelity of the iFIM (eq. 18) on a cell's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum_ifim.metrics import kl_fidelity
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_max_examples, check_numbers
from comparisons.metrics._row_statistic import mean_of


def _run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    result = kl_fidelity(
        cell.model,
        first(cell.inputs, count),
        tuple(options["epsilons"]),
        max_examples_per_batch=cell.batch_size,
    )
    return [
        mean_value("kl-fidelity", result.ratio[:, j], f"eps={eps:g}")
        for j, eps in enumerate(result.epsilons.tolist())
    ]


def _check(options: Mapping[str, Any]) -> None:
    check_numbers(options, "epsilons", 0.0)
    check_max_examples(options)


KL_FIDELITY = HarnessMetric(
    name="kl-fidelity",
    check=_check,
    runner=_run,
    # A check of the model's iFIM, not of a map: run once per model, in the iFIM's cell.
    defaults={
        "epsilons": [1e-3, 1e-2, 1e-1, 1.0],
        "methods": ["ifim-sensitive"],
        "max_examples": None,
    },
    rows=(RowSpec("kl-fidelity", statistic=mean_of("kl-fidelity")),),
)
