"""How a result row is computed from the per-example values of its cell, so it can be recomputed.

A runner attaches per-example values to the rows it writes
(:class:`~comparisons.metrics.ExampleValues`); the run folder keeps them in one file per
cell. A :class:`RowStatistic` on the row's :class:`~comparisons.metrics.RowSpec` says how
the row's value follows from them, so a report can recompute it on a resample of the
examples (bootstrap intervals, paired tests) without knowing the metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

StatisticKind = Literal["mean", "f1", "ratio-of-f1", "difference-of-f1"]
STATISTIC_KINDS: tuple[str, ...] = get_args(StatisticKind)

#: The per-example predicted-label blocks of the contrastive perturbation (Sec. IV-E).
PREDICTION_CLEAN = "prediction-clean"
PREDICTION_HIGH = "prediction-high-perturbed"
PREDICTION_LOW = "prediction-low-perturbed"


@dataclass(frozen=True)
class RowStatistic:
    """The rule that gives a row's value from per-example values of the same setting.

    Attributes:
        kind: ``"mean"``: the mean of the finite values of ``parts[0]``; ``"f1"``: the F1
            of the predicted labels ``parts[0]`` against the true labels (binary with
            positive class 1 for two classes, else macro); ``"ratio-of-f1"``:
            F1(``parts[0]``) / F1(``parts[1]``) (the paper's ratio, Sec. IV-E);
            ``"difference-of-f1"``: F1(``parts[0]``) - F1(``parts[1]``).
        parts: The per-example blocks read (their ``name`` in the per-example file).
    """

    kind: StatisticKind
    parts: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.kind not in STATISTIC_KINDS:
            raise ValueError(f"expected a kind among {STATISTIC_KINDS}, got {self.kind!r}")
        wanted = 2 if self.kind in ("ratio-of-f1", "difference-of-f1") else 1
        if len(self.parts) != wanted:
            raise ValueError(
                f"expected {wanted} part(s) for a {self.kind!r} statistic, got {self.parts}"
            )

    @property
    def set_level(self) -> bool:
        """Whether the value is a score of the whole set (F1), not a mean of examples."""
        return self.kind != "mean"


def mean_of(name: str) -> RowStatistic:
    """The finite mean of the row's own per-example values ``name``."""
    return RowStatistic("mean", (name,))
