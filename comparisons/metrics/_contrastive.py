"""The contrastive pixel-perturbation F1 ratio (Sec. IV-E, eqs. 23-26) on a cell."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

from captum_ifim.metrics import contrastive_perturbation_predictions, f1_ratio
from comparisons.metrics._cell_data import CellData, ExampleValues, MetricValue
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_choice, check_numbers, library_choices
from comparisons.metrics._row_statistic import (
    PREDICTION_CLEAN,
    PREDICTION_HIGH,
    PREDICTION_LOW,
    RowStatistic,
)

logger = logging.getLogger(__name__)

#: The paper's metric (Fig. 3): F1 after perturbing the low set over F1 after perturbing
#: the high set (eqs. 23-26).
F1_RATIO_ROW = RowSpec(
    "f1-ratio",
    statistic=RowStatistic("ratio-of-f1", (PREDICTION_LOW, PREDICTION_HIGH)),
    role="paper",
)
#: dF1 = F1(low perturbed) - F1(high perturbed): finite where the ratio is infinite (high-set
#: F1 of 0), so methods can still be ranked there; same direction.
F1_DIFFERENCE_ROW = RowSpec(
    "f1-difference",
    statistic=RowStatistic("difference-of-f1", (PREDICTION_LOW, PREDICTION_HIGH)),
    role="stand-in",
)
F1_CLEAN_ROW = RowSpec(
    "f1-clean",
    "none",
    "the model's F1 on clean inputs: the same for every method",
    RowStatistic("f1", (PREDICTION_CLEAN,)),
    role="detail",
)
F1_HIGH_PERTURBED_ROW = RowSpec(
    "f1-high-perturbed",
    "none",
    "a part of the ratio",
    RowStatistic("f1", (PREDICTION_HIGH,)),
    role="detail",
)
F1_LOW_PERTURBED_ROW = RowSpec(
    "f1-low-perturbed",
    "none",
    "a part of the ratio",
    RowStatistic("f1", (PREDICTION_LOW,)),
    role="detail",
)


def _run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    predictions = contrastive_perturbation_predictions(
        cell.model,
        cell.inputs,
        cell.labels,
        cell.maps,
        cell.low_maps,
        fractions=tuple(options["fractions"]),
        low_rule=options["low_rule"],
        noise=cell.example_noise(cell.dataset.pixel_mean, cell.dataset.pixel_std),
        seed=cell.noise_seed,
        tie_break=options["tie_break"],
        max_examples_per_batch=cell.batch_size,
    )
    # The library's warning (F1 = 0 after perturbing the high set: an infinite ratio) does
    # not know the cell: the log line names it, the library's text kept whole after it.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = f1_ratio(predictions)
    for warning in caught:
        logger.warning("cell %s: %s", cell.name or "(unnamed)", warning.message)
    rows = []
    n = result.num_examples
    for i, alpha in enumerate(result.fractions):
        setting = f"alpha={alpha:g}"
        high, low = float(result.f1_high[i]), float(result.f1_low[i])
        rows += [
            MetricValue(F1_RATIO_ROW.name, float(result.ratio[i]), setting, n),
            MetricValue(F1_DIFFERENCE_ROW.name, low - high, setting, n),
            MetricValue(
                F1_CLEAN_ROW.name,
                result.f1_clean,
                setting,
                n,
                ExampleValues(PREDICTION_CLEAN, predictions.clean),
            ),
            MetricValue(
                F1_HIGH_PERTURBED_ROW.name,
                high,
                setting,
                n,
                ExampleValues(PREDICTION_HIGH, predictions.high[i]),
            ),
            MetricValue(
                F1_LOW_PERTURBED_ROW.name,
                low,
                setting,
                n,
                ExampleValues(PREDICTION_LOW, predictions.low[i]),
            ),
        ]
    return rows


def _check(options: Mapping[str, Any]) -> None:
    check_numbers(options, "fractions", 0.0, 1.0)
    function = contrastive_perturbation_predictions
    check_choice(options, "low_rule", library_choices(function, "low_rule"))
    check_choice(options, "tie_break", library_choices(function, "tie_break"))


CONTRASTIVE_PERTURBATION = HarnessMetric(
    name="contrastive-perturbation",
    check=_check,
    runner=_run,
    # The paper's alphas (1, 2, 3 %) and its low-set rule (eq. 24 as printed, BottomK of
    # |I(x)|); the noise of eqs. 25-26 is Gaussian with the dataset's pixel mean and std.
    defaults={
        "fractions": [0.01, 0.02, 0.03],
        "low_rule": "bottomk_insensitive",
        "tie_break": "random",
    },
    rows=(
        F1_RATIO_ROW,
        F1_DIFFERENCE_ROW,
        F1_CLEAN_ROW,
        F1_HIGH_PERTURBED_ROW,
        F1_LOW_PERTURBED_ROW,
    ),
)
