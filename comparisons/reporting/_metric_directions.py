"""Which way each result-row metric is better, tied to the metric registry where it can be."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from captum_ifim.metrics import get_metric_info

Direction = Literal["higher", "lower", "ideal", "none"]


@dataclass(frozen=True)
class MetricDirection:
    """How to pick the best value of a result-row metric.

    Attributes:
        metric: The result-row metric name, e.g. ``"f1-ratio"``.
        direction: ``"higher"``, ``"lower"``, ``"ideal"`` (closest to :attr:`ideal`) or
            ``"none"`` (no best: counts, components, model-level facts).
        ideal: The target value when ``direction == "ideal"``.
        source: The registry metric it was read from, or ``""`` for a decision taken here.
    """

    metric: str
    direction: Direction
    ideal: float | None = None
    source: str = ""


#: Result-row metric -> registry metric whose ``higher_is_better`` it follows.
_FROM_REGISTRY: dict[str, str] = {
    "f1-ratio": "contrastive-perturbation",
    "deletion-auc": "deletion-auc",
    "insertion-auc": "insertion-auc",
    "energy-in-mask": "energy-in-mask",
    "pointing-game": "pointing-game",
    "infidelity": "infidelity",
    "sensitivity-max": "sensitivity-max",
    "randomization-similarity": "model-parameter-randomization",
    "kl-fidelity": "kl-fidelity",
}

#: Decisions where the registry has none: the registry leaves the adversarial correlation
#: without a direction (low = sensitive, high = stable); the paper reads lower as better
#: (Fig. 4). Time is a cost.
_DECIDED: dict[str, Direction] = {
    "adversarial-correlation": "lower",
    "seconds-per-image": "lower",
}


def metric_direction(metric: str) -> MetricDirection:
    """The :class:`MetricDirection` of a result-row metric; unknown names get ``"none"``."""
    if metric in _DECIDED:
        return MetricDirection(metric, _DECIDED[metric])
    registry_name = _FROM_REGISTRY.get(metric)
    if registry_name is None:
        return MetricDirection(metric, "none")
    info = get_metric_info(registry_name)
    if info.higher_is_better is True:
        return MetricDirection(metric, "higher", source=registry_name)
    if info.higher_is_better is False:
        return MetricDirection(metric, "lower", source=registry_name)
    if info.ideal is not None:
        return MetricDirection(metric, "ideal", ideal=info.ideal, source=registry_name)
    return MetricDirection(metric, "none", source=registry_name)


def best_indices(values: Sequence[float], direction: MetricDirection) -> list[int]:
    """Indices of the best values (all of them on a tie); NaN values never win.

    Returns an empty list for ``"none"``, when fewer than two values are defined (a single
    method has nothing to beat) or when every defined value ties (nothing stands out).
    """
    defined = [(i, v) for i, v in enumerate(values) if not math.isnan(v)]
    if direction.direction == "none" or len(defined) < 2:
        return []
    if direction.direction == "higher":
        scores = [(i, v) for i, v in defined]
    elif direction.direction == "lower":
        scores = [(i, -v) for i, v in defined]
    else:
        if direction.ideal is None:
            raise ValueError(f"expected an ideal value for {direction.metric!r}, got None")
        scores = [(i, -abs(v - direction.ideal)) for i, v in defined]
    best = max(score for _, score in scores)
    winners = [i for i, score in scores if score == best]
    return [] if len(winners) == len(defined) else winners


def direction_label(direction: MetricDirection) -> str:
    """A short reading aid for a table header: ``"↑"``, ``"↓"``, ``"→1"`` or ``""``."""
    if direction.direction == "higher":
        return "↑"
    if direction.direction == "lower":
        return "↓"
    if direction.direction == "ideal":
        return f"→{direction.ideal:g}"
    return ""
