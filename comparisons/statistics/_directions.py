"""Which way each result-row metric is better, and how to pick the best values."""

from __future__ import annotations

import math
from collections.abc import Sequence

from comparisons.metrics import ResolvedDirection, row_direction

#: How to pick the best value of a result row (declared by the harness's metric entries).
MetricDirection = ResolvedDirection


def metric_direction(metric: str, setting: str = "") -> MetricDirection:
    """The direction of a result-row metric at ``setting``, from the harness metric entry
    that writes it; rows no entry declares (model facts, rows of older runs) and rows at a
    descriptive setting (``region=cue``) get ``"none"``."""
    return row_direction(metric, setting)


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
