"""Every library metric's harness entry, checked against the library's registry at import."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from captum_ifim.metrics import METRICS
from comparisons.metrics._adversarial import ADVERSARIAL_CORRELATION
from comparisons.metrics._captum_metrics import INFIDELITY, SENSITIVITY_MAX
from comparisons.metrics._cell_data import CellData, MetricValue, missing_data
from comparisons.metrics._complexity import COMPLEXITY, EFFECTIVE_COMPLEXITY, SPARSENESS
from comparisons.metrics._contrastive import CONTRASTIVE_PERTURBATION
from comparisons.metrics._entry import HarnessMetric
from comparisons.metrics._faithfulness import (
    FAITHFULNESS_CORRELATION,
    IROF,
    MONOTONICITY_CORRELATION,
    PIXEL_FLIPPING,
    REGION_PERTURBATION,
    ROAD_COMBINED,
    ROAD_LERF,
    ROAD_MORF,
)
from comparisons.metrics._kl_fidelity import KL_FIDELITY
from comparisons.metrics._local_robustness import AVG_SENSITIVITY, LOCAL_LIPSCHITZ_ESTIMATE
from comparisons.metrics._localization import ENERGY_IN_MASK, POINTING_GAME
from comparisons.metrics._perturbation_curves import DELETION_AUC, INSERTION_AUC
from comparisons.metrics._random_logit import RANDOM_LOGIT
from comparisons.metrics._randomization import MODEL_PARAMETER_RANDOMIZATION
from comparisons.metrics._rank_localization import MASK_ROC_AUC, RELEVANCE_RANK_ACCURACY
from comparisons.metrics._spectrum_metrics import EIGENVECTOR_ENERGY, IFIM_SPECTRUM

logger = logging.getLogger(__name__)

_ENTRIES = (
    CONTRASTIVE_PERTURBATION,
    ADVERSARIAL_CORRELATION,
    DELETION_AUC,
    INSERTION_AUC,
    ENERGY_IN_MASK,
    POINTING_GAME,
    KL_FIDELITY,
    MODEL_PARAMETER_RANDOMIZATION,
    INFIDELITY,
    SENSITIVITY_MAX,
    SPARSENESS,
    COMPLEXITY,
    EFFECTIVE_COMPLEXITY,
    RANDOM_LOGIT,
    RELEVANCE_RANK_ACCURACY,
    MASK_ROC_AUC,
    AVG_SENSITIVITY,
    LOCAL_LIPSCHITZ_ESTIMATE,
    ROAD_MORF,
    ROAD_LERF,
    ROAD_COMBINED,
    FAITHFULNESS_CORRELATION,
    PIXEL_FLIPPING,
    REGION_PERTURBATION,
    IROF,
    MONOTONICITY_CORRELATION,
    EIGENVECTOR_ENERGY,
    IFIM_SPECTRUM,
)

_HARNESS_METRICS: dict[str, HarnessMetric] = {
    name: entry for name in METRICS for entry in _ENTRIES if entry.name == name
}
#: Every metric's harness entry, by library name, in the library registry's order (a view:
#: entries added by :func:`~comparisons.metrics.register_harness_metric` join it).
HARNESS_METRICS: Mapping[str, HarnessMetric] = MappingProxyType(_HARNESS_METRICS)

_missing = sorted(set(METRICS) - set(HARNESS_METRICS))
_unknown = sorted({e.name for e in _ENTRIES} - set(METRICS))
if _missing or _unknown:
    raise ImportError(
        f"expected one harness entry (comparisons/metrics) per library metric, got none for "
        f"{_missing} and entries for unregistered metrics {_unknown}"
    )


def get_harness_metric(name: str) -> HarnessMetric:
    """The harness entry of library metric ``name``.

    Raises:
        ValueError: Unknown name (the message lists the valid ones).
    """
    if name not in HARNESS_METRICS:
        raise ValueError(f"expected a metric name among {list(HARNESS_METRICS)}, got {name!r}")
    return HARNESS_METRICS[name]


def check_metric_options(name: str, options: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an option of metric ``name`` that is unknown or bad."""
    get_harness_metric(name).resolved_options(options)


def runs_on_method(name: str, method: str, options: Mapping[str, Any]) -> bool:
    """Whether metric ``name`` with ``options`` runs on the cells of ``method`` (its
    ``methods`` option: ``None`` for every method); the run and ``run --check`` ask this."""
    methods = get_harness_metric(name).resolved_options(options)["methods"]
    return methods is None or method in methods


def run_metric(name: str, cell: CellData, options: Mapping[str, Any]) -> list[MetricValue]:
    """Rows of metric ``name`` for ``cell``; ``[]`` when the metric does not apply to it.

    It applies when the cell's method is among the metric's ``methods`` option and the cell
    holds what the library says the metric needs (``MetricInfo.needs_*``: masks for the
    localization metrics); the runner is called only then. Why not is logged (debug).
    """
    entry = get_harness_metric(name)
    resolved = entry.resolved_options(options)
    if not runs_on_method(name, cell.method, resolved):
        return []
    missing = missing_data(entry.info, cell)
    if missing:
        logger.debug("%s does not apply to a %s cell: it has no %s", name, cell.method, missing)
        return []
    return entry.runner(cell, resolved)
