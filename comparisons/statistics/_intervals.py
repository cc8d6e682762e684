"""The summary's confidence intervals, the per-seed intervals, and the recomputation check.

:func:`summary_intervals` adds to every summary row a 95 % percentile bootstrap interval
(:mod:`._bootstrap`): over seeds and the examples within each seed where the run folder
has the rows' per-example values (over the examples alone for a single seed), over the
seeds' values alone for rows without them (spreads, counts, times, model facts; at least
:data:`~comparisons.statistics.MIN_SEEDS` seeds). :func:`seed_intervals` gives
each seed's value its interval over its examples (``seed_intervals.csv``), and
:func:`recomputation_check` confirms that every stored value is what its per-example values
give.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from comparisons.run_folder import ResultRow
from comparisons.statistics._bootstrap import (
    NO_INTERVAL,
    Interval,
    example_interval,
    seed_interval,
    seeded_rng,
    two_level_interval,
)
from comparisons.statistics._samples import RowSample, RunSamples, recomputation_gap
from comparisons.statistics._summary import SummaryRow

#: The columns of ``seed_intervals.csv``, in order.
SEED_INTERVAL_COLUMNS: tuple[str, ...] = (
    "dataset",
    "model",
    "seed",
    "method",
    "metric",
    "setting",
    "value",
    "ci_low",
    "ci_high",
    "n",
)

#: A stored value and its recomputation from the per-example values agree to this
#: (relative to max(1, |value|)): float64 sums in another order.
RECOMPUTE_TOLERANCE = 1e-9


def _samples_of(s: SummaryRow, samples: RunSamples) -> list[RowSample] | None:
    found = [
        samples.sample(s.dataset, s.model, seed, s.method, s.metric, s.setting) for seed in s.seeds
    ]
    if not found or any(sample is None for sample in found):
        return None
    return [sample for sample in found if sample is not None]


def summary_interval(s: SummaryRow, samples: RunSamples) -> Interval:
    """The interval of one summary row (see the module docstring)."""
    if not s.seeds:
        return NO_INTERVAL
    seed_samples = _samples_of(s, samples)
    if seed_samples is None:
        return seed_interval(s.values, seeded_rng("seeds", *s.key))
    rng = seeded_rng("two-level" if len(seed_samples) > 1 else "examples", *_shared_key(s))
    return two_level_interval([(x.n, x.evaluate) for x in seed_samples], rng)


def _shared_key(s: SummaryRow) -> tuple[object, ...]:
    """The generator's key: the same for every method of a (dataset, model, metric,
    setting), so the methods are resampled with the same example indices."""
    seeds = s.seeds if len(s.seeds) > 1 else (s.seeds[0],)
    return (s.dataset, s.model, s.metric, s.setting, *seeds)


def summary_intervals(summary: Iterable[SummaryRow], samples: RunSamples) -> list[SummaryRow]:
    """The summary rows with their ``ci_low``, ``ci_high`` and ``ci_resampling``."""
    result = []
    for s in summary:
        interval = summary_interval(s, samples)
        result.append(
            dataclasses.replace(
                s, ci_low=interval.low, ci_high=interval.high, ci_resampling=interval.resampling
            )
        )
    return result


@dataclass(frozen=True)
class SeedInterval:
    """One seed's value and its interval over that seed's examples."""

    row: ResultRow
    interval: Interval
    n: int


def seed_intervals(rows: Iterable[ResultRow], samples: RunSamples) -> list[SeedInterval]:
    """The interval over the examples of every row that has per-example values."""
    result = []
    for row in rows:
        sample = samples.sample(
            row.dataset, row.model, row.seed, row.method, row.metric, row.setting
        )
        if sample is None:
            continue
        rng = seeded_rng("examples", row.dataset, row.model, row.metric, row.setting, row.seed)
        result.append(SeedInterval(row, example_interval(sample.n, sample.evaluate, rng), sample.n))
    return result


def seed_intervals_csv(intervals: Iterable[SeedInterval]) -> str:
    """``seed_intervals.csv`` (NaN written empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SEED_INTERVAL_COLUMNS)
    for item in intervals:
        r = item.row
        writer.writerow(
            [
                r.dataset,
                r.model,
                r.seed,
                r.method,
                r.metric,
                r.setting,
                _csv_float(r.value),
                _csv_float(item.interval.low),
                _csv_float(item.interval.high),
                item.n,
            ]
        )
    return buffer.getvalue()


def _csv_float(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


@dataclass(frozen=True)
class RecomputationCheck:
    """Stored values against their recomputation from the per-example values.

    Attributes:
        checked: Rows recomputed.
        largest_gap: The largest relative difference found (0 when none was checked).
        mismatches: The rows that differ by more than :data:`RECOMPUTE_TOLERANCE`.
    """

    checked: int
    largest_gap: float
    mismatches: tuple[ResultRow, ...]


def recomputation_check(rows: Sequence[ResultRow], samples: RunSamples) -> RecomputationCheck:
    """Recompute every row with per-example values from the run folder alone."""
    checked, largest, mismatches = 0, 0.0, []
    for row in rows:
        sample = samples.sample(
            row.dataset, row.model, row.seed, row.method, row.metric, row.setting
        )
        if sample is None:
            continue
        gap = recomputation_gap(row.value, sample.value())
        checked += 1
        largest = max(largest, gap)
        if gap > RECOMPUTE_TOLERANCE:
            mismatches.append(row)
    return RecomputationCheck(checked, largest, tuple(mismatches))
