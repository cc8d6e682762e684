"""Metric metadata a harness can sort and filter by (Quantus style), and the registry.

The registry maps each metric's name to its :class:`MetricInfo`, which also holds the
function, so a harness loops over ``METRICS`` instead of matching names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

MetricCategory = Literal[
    "faithfulness",
    "robustness",
    "localization",
    "randomization",
    "complexity",
    "fidelity",
    "spectrum",
]


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures and what it needs.

    Attributes:
        name: Registry name, e.g. ``"contrastive-perturbation"``.
        category: ``"faithfulness"``, ``"robustness"``, ``"localization"``,
            ``"randomization"``, ``"complexity"``, ``"fidelity"`` (checks of the iFIM
            itself) or ``"spectrum"`` (descriptions of the iFIM's eigenvalues, eqs. 8-13).
        higher_is_better: ``True``/``False``, or ``None`` when neither direction is
            better (see ``ideal``) or the reading depends on the question asked.
        ideal: The best value when it is a target rather than an extreme (e.g. 1.0).
        per_example: ``True`` if the result holds one value per example; ``False`` for
            per-setting results (e.g. an F1 score over the whole test set).
        needs_labels: Needs true labels. The ``needs_*`` flags say what the function
            takes; a harness runs a metric only where it has all of it (the comparison
            harness: ``comparisons.metrics.run_metric``).
        needs_mask: Needs a ground-truth mask.
        needs_model: Needs the model (forward function).
        needs_map: Takes a precomputed attribution map.
        needs_explainer: Takes an explainer (or a factory) to compute maps itself.
        needs_spectrum: Takes an iFIM decomposition of the inputs (eigenvalues, eq. 8, or
            eigenvectors, eq. 9) instead of a map: it applies to the methods with a
            spectrum (``MethodSpec.has_spectrum``) only.
        accepts_second_map: Uses a second map when the method has one (iFIM: I(x)).
        function: The metric function.
        description: One line.
    """

    name: str
    category: MetricCategory
    higher_is_better: bool | None
    ideal: float | None = None
    per_example: bool = True
    needs_labels: bool = False
    needs_mask: bool = False
    needs_model: bool = True
    needs_map: bool = True
    needs_explainer: bool = False
    needs_spectrum: bool = False
    accepts_second_map: bool = False
    function: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    description: str = ""
