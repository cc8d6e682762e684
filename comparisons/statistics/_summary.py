"""Aggregation over seeds: mean, sample std, counts and the 95 % confidence interval per
(dataset, model, method, metric, setting), and the ``summary.csv`` that holds them."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from comparisons.run_folder import ResultRow

#: The columns of ``summary.csv``, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "method",
    "metric",
    "setting",
    "mean",
    "std",
    "n_seeds",
    "n_seeds_total",
    "n_min",
    "n_max",
    "n_total",
    "ci_low",
    "ci_high",
    "ci_resampling",
)


@dataclass(frozen=True)
class SummaryRow:
    """One group's values over seeds.

    Attributes:
        dataset, model, method, metric, setting: The group (``method`` is ``""`` for
            model-level rows).
        mean: Unweighted mean over the seeds with a value (each seed is one replicate);
            NaN when none has one, ``inf`` when a seed's value is infinite.
        std: Sample standard deviation (ddof=1) over those seeds; NaN with fewer than two.
        n_seeds: Seeds with a value (not NaN).
        n_seeds_total: Seeds with a row, NaN or not.
        seeds: The seeds with a value, ascending.
        n_examples: Examples behind each of those seeds' values (the rows' ``n``), in the
            order of ``seeds``; they can differ, e.g. when some examples had no defined
            correlation, and are carried rather than averaged away.
        values: The seeds' values, in the order of ``seeds``.
        ci_low, ci_high: The 95 % bootstrap interval of ``mean`` (NaN: none), added by
            :func:`~comparisons.reporting.summary_intervals`.
        ci_resampling: What the interval resampled: ``"examples"`` (one seed),
            ``"seeds+examples"``, ``"seeds"`` or ``""`` (no interval).
    """

    dataset: str
    model: str
    method: str
    metric: str
    setting: str
    mean: float
    std: float
    n_seeds: int
    n_seeds_total: int
    seeds: tuple[int, ...]
    n_examples: tuple[int, ...]
    values: tuple[float, ...] = ()
    ci_low: float = math.nan
    ci_high: float = math.nan
    ci_resampling: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """(dataset, model, method, metric, setting)."""
        return (self.dataset, self.model, self.method, self.metric, self.setting)

    @property
    def n_min(self) -> int:
        """Fewest examples behind one seed's value (0 when no seed has a value)."""
        return min(self.n_examples, default=0)

    @property
    def n_max(self) -> int:
        """Most examples behind one seed's value (0 when no seed has a value)."""
        return max(self.n_examples, default=0)

    @property
    def n_total(self) -> int:
        """Examples behind all the seeds' values together."""
        return sum(self.n_examples)

    @property
    def has_interval(self) -> bool:
        """Whether the mean has a (defined) confidence interval."""
        return not (math.isnan(self.ci_low) or math.isnan(self.ci_high))

    @property
    def n_varies(self) -> bool:
        """Whether the seeds' values summarise different numbers of examples."""
        return self.n_min != self.n_max


def summarize(rows: Iterable[ResultRow]) -> list[SummaryRow]:
    """Mean, sample std and counts over seeds, per (dataset, model, method, metric, setting).

    Only seeds are aggregated: each row's value is already a mean over ``n`` examples, and
    the per-seed ``n`` are carried in :attr:`SummaryRow.n_examples`. NaN values are
    missing (counted in ``n_seeds_total``, not in ``n_seeds``).

    Args:
        rows: Result rows, at most one per seed of a group.

    Returns:
        One :class:`SummaryRow` per group, in the order of the groups' first rows.

    Raises:
        ValueError: Two rows for the same seed of a group.

    Example:
        >>> from comparisons.reporting import ResultRow, summarize
        >>> rows = [ResultRow("d", "m", s, "saliency", "deletion-auc", "", v, 10)
        ...         for s, v in [(0, 1.0), (1, 2.0), (2, float("nan"))]]
        >>> s = summarize(rows)[0]
        >>> (s.mean, round(s.std, 4), s.n_seeds, s.n_seeds_total)
        (1.5, 0.7071, 2, 3)
    """
    groups: dict[tuple[str, str, str, str, str], list[ResultRow]] = {}
    for row in rows:
        groups.setdefault(row.key, []).append(row)
    summary = []
    for key in groups:
        members = sorted(groups[key], key=lambda r: r.seed)
        seeds = [r.seed for r in members]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"expected one row per seed of a group, got seeds {seeds} for {key}")
        present = [r for r in members if not math.isnan(r.value)]
        values = np.array([r.value for r in present], dtype=np.float64)
        mean = float(np.mean(values)) if values.size else math.nan
        std = _sample_std(values)
        summary.append(
            SummaryRow(
                *key,
                mean=mean,
                std=std,
                n_seeds=len(present),
                n_seeds_total=len(members),
                seeds=tuple(r.seed for r in present),
                n_examples=tuple(r.n for r in present),
                values=tuple(r.value for r in present),
            )
        )
    return summary


def _sample_std(values: np.ndarray) -> float:
    if values.size < 2:
        return math.nan
    if not np.all(np.isfinite(values)):
        return math.nan
    return float(np.std(values, ddof=1))


def summary_csv(summary: Iterable[SummaryRow]) -> str:
    """The summary as CSV text with :data:`SUMMARY_COLUMNS` (NaN written empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for s in summary:
        writer.writerow(
            [
                s.dataset,
                s.model,
                s.method,
                s.metric,
                s.setting,
                _csv_float(s.mean),
                _csv_float(s.std),
                s.n_seeds,
                s.n_seeds_total,
                s.n_min,
                s.n_max,
                s.n_total,
                _csv_float(s.ci_low),
                _csv_float(s.ci_high),
                s.ci_resampling,
            ]
        )
    return buffer.getvalue()


def _csv_float(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))
