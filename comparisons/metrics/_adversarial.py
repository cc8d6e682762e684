"""The adversarial correlation (Sec. IV-F, FGSM of eq. 27) on a cell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from captum_ifim.metrics import adversarial_correlation
from comparisons.metrics._cell_data import CellData, ExampleValues, MetricValue, first
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_max_examples, check_positive
from comparisons.metrics._row_statistic import mean_of

#: The paper's metric (Fig. 4): the mean clean/adversarial correlation of the maps.
ADVERSARIAL_CORRELATION_ROW = RowSpec(
    "adversarial-correlation",
    "lower",
    "the library gives no direction (low = sensitive, high = stable); the paper reads "
    "lower as better (Fig. 4)",
    mean_of("adversarial-correlation"),
    role="paper",
)
ADVERSARIAL_CORRELATION_STD_ROW = RowSpec(
    "adversarial-correlation-std", "none", "a spread", role="detail"
)
ADVERSARIAL_CORRELATION_UNDEFINED_ROW = RowSpec(
    "adversarial-correlation-undefined", "none", "a count of constant maps", role="detail"
)


def _run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    count = options["max_examples"]
    epsilon = options["epsilon_relative"] * cell.data_range
    inputs = first(cell.inputs, count)
    summary = adversarial_correlation(
        cell.model,
        cell.explainer,
        inputs,
        first(cell.labels, count),
        epsilon,
        map_target=first(cell.targets, count),
        clamp=cell.dataset.value_range,
        # One FGSM attack per model and epsilon, shared by every method of the model.
        adversarial_inputs=first(cell.adversarial_inputs(epsilon), count),
        clean_maps=first(cell.maps, count),
        max_examples_per_batch=cell.batch_size,
    )
    setting = f"eps={epsilon:.4g}"
    total = summary.num_valid + summary.num_undefined
    return [
        MetricValue(
            ADVERSARIAL_CORRELATION_ROW.name,
            summary.mean,
            setting,
            summary.num_valid,
            ExampleValues(ADVERSARIAL_CORRELATION_ROW.name, summary.per_example),
        ),
        MetricValue(ADVERSARIAL_CORRELATION_STD_ROW.name, summary.std, setting, summary.num_valid),
        MetricValue(
            ADVERSARIAL_CORRELATION_UNDEFINED_ROW.name,
            float(summary.num_undefined),
            setting,
            total,
        ),
    ]


def _check(options: Mapping[str, Any]) -> None:
    check_positive(options, "epsilon_relative")
    check_max_examples(options)


ADVERSARIAL_CORRELATION = HarnessMetric(
    name="adversarial-correlation",
    check=_check,
    runner=_run,
    defaults={"epsilon_relative": 0.01, "max_examples": None},
    rows=(
        ADVERSARIAL_CORRELATION_ROW,
        ADVERSARIAL_CORRELATION_STD_ROW,
        ADVERSARIAL_CORRELATION_UNDEFINED_ROW,
    ),
)
