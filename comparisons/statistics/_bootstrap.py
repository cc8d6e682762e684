"""Percentile bootstrap intervals: over the examples of one seed, and over seeds then examples.

Every interval of the report is a 95 % percentile bootstrap interval with
:data:`N_RESAMPLES` resamples from a generator seeded by the text of what is resampled
(:func:`seeded_rng`), so a report is the same on every call and every method of a group is
resampled with the same example indices (common random numbers).

- Within one seed the examples are resampled with :func:`scipy.stats.bootstrap`
  (``method="percentile"``): :func:`example_interval`.
- Across seeds the resampling has two levels (a hierarchical bootstrap): draw the seeds
  with replacement, then, independently for each drawn seed, its examples with replacement;
  the statistic is the mean over the drawn seeds of each seed's statistic, as the summary
  is the unweighted mean over seeds: :func:`two_level_interval`.
- Rows without per-example values (spreads, counts, times, model facts) resample the
  seeds' values alone, with at least :data:`MIN_SEEDS` seeds: :func:`seed_interval`.

Percentile rather than BCa: the statistics include F1 ratios that are infinite on some
resamples and 0/1 means (the pointing game) where BCa's jackknife acceleration is undefined
or unstable, and the two-level resampling has no jackknife; one method for every interval
keeps them comparable. An interval is undefined (NaN) when the statistic is undefined on a
resample (an F1 ratio 0/0, a mean of no finite value).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

#: Confidence level of every interval.
CONFIDENCE = 0.95
#: Bootstrap resamples per interval (and permutations per test).
N_RESAMPLES = 2000
#: Fewest seeds a seeds-only interval is drawn from (fewer: no interval).
MIN_SEEDS = 3

Resampling = Literal["examples", "seeds+examples", "seeds", ""]

#: ``statistic(indices) -> values``: indices (..., n) into one seed's examples (a resample
#: per leading index), values (...).
IndexStatistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Interval:
    """A confidence interval and how it was resampled.

    Attributes:
        low, high: The bounds (NaN when there is no interval).
        resampling: ``"examples"`` (one seed), ``"seeds+examples"`` (two levels),
            ``"seeds"`` (seeds' values only) or ``""`` (none).
    """

    low: float
    high: float
    resampling: Resampling

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


#: No interval.
NO_INTERVAL = Interval(math.nan, math.nan, "")


def seeded_rng(*key: object) -> np.random.Generator:
    """A generator seeded by the text of ``key`` (the same key, the same draws)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    alpha = (1 - CONFIDENCE) / 2
    low, high = stats.quantile(np.asarray(values, dtype=np.float64), np.array([alpha, 1 - alpha]))
    return float(low), float(high)


def example_interval(
    n: int, statistic: IndexStatistic, rng: np.random.Generator, n_resamples: int = N_RESAMPLES
) -> Interval:
    """Percentile interval over the ``n`` examples of one seed (:func:`scipy.stats.bootstrap`).

    ``statistic`` gets resampled index arrays, so several arrays per example (labels and
    predictions, or two methods' values) are resampled together.
    """
    if n < 2:
        return NO_INTERVAL

    def on_indices(indices: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(np.moveaxis(np.asarray(indices, dtype=np.int64), axis, -1))

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            (np.arange(n),),
            on_indices,
            n_resamples=n_resamples,
            vectorized=True,
            method="percentile",
            confidence_level=CONFIDENCE,
            rng=rng,
        )
    return Interval(
        float(result.confidence_interval.low), float(result.confidence_interval.high), "examples"
    )


def two_level_draws(
    samples: Sequence[tuple[int, IndexStatistic]],
    rng: np.random.Generator,
    n_resamples: int = N_RESAMPLES,
) -> np.ndarray:
    """(n_resamples,) replicates of the mean over seeds: seeds drawn with replacement, then
    each drawn seed's examples with replacement (independently for a seed drawn twice).

    Args:
        samples: Per seed, (number of examples, its statistic).
    """
    count = len(samples)
    picks = rng.integers(0, count, size=(n_resamples, count))
    replicates = np.full((n_resamples, count), np.nan)
    with np.errstate(all="ignore"):
        for seed_index, (n, statistic) in enumerate(samples):
            where = picks == seed_index
            draws = int(where.sum())
            if draws:
                replicates[where] = statistic(rng.integers(0, n, size=(draws, n)))
    return _mean_over_seeds(replicates)


def _mean_over_seeds(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the defined values (the summary's rule: NaN seeds left
    out, an infinite seed makes the mean infinite); NaN when none is defined."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


def two_level_interval(
    samples: Sequence[tuple[int, IndexStatistic]],
    rng: np.random.Generator,
    n_resamples: int = N_RESAMPLES,
) -> Interval:
    """Percentile interval of the mean over seeds from :func:`two_level_draws`; one seed
    falls back to :func:`example_interval`."""
    samples = [(n, s) for n, s in samples if n > 0]
    if not samples:
        return NO_INTERVAL
    if len(samples) == 1:
        return example_interval(samples[0][0], samples[0][1], rng, n_resamples)
    draws = two_level_draws(samples, rng, n_resamples)
    if np.isnan(draws).any():
        return Interval(math.nan, math.nan, "seeds+examples")
    return Interval(*_quantiles(draws), "seeds+examples")


def seed_interval(
    values: Sequence[float], rng: np.random.Generator, n_resamples: int = N_RESAMPLES
) -> Interval:
    """Percentile interval of the mean of the seeds' values, resampling the seeds (for rows
    without per-example values); none with fewer than :data:`MIN_SEEDS` defined values."""
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if array.size < MIN_SEEDS:
        return NO_INTERVAL
    draws = _mean_over_seeds(array[rng.integers(0, array.size, size=(n_resamples, array.size))])
    return Interval(*_quantiles(draws), "seeds")
