"""Per-example values of one result row keyed by test image, and paired differences of two.

The experiment sections (:mod:`._shortcut_report`, :mod:`._robust_report`) compare rows of
different cells image by image: two cue strengths (two datasets whose test images are the
same), or two models on one dataset (standard and adversarially trained). Each cell's
per-example file names every value's ``test_index``, so the pairing is by test image and
seed, whatever the cells' evaluation order. Every interval is the report's: the
percentile bootstrap over seeds, then the examples within each seed
(:func:`comparisons.statistics.two_level_interval`), seeded by the text of what is compared
(:func:`comparisons.statistics.seeded_rng`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from comparisons.run_folder import CellKey, GroupKey, RunContents
from comparisons.statistics import (
    NO_INTERVAL,
    Interval,
    format_significant,
    seeded_rng,
    two_level_interval,
)

#: Per seed, one row's per-example values indexed by test image.
SeedValues = Mapping[int, pd.Series]


def finite_mean(values: np.ndarray) -> np.ndarray:
    """Mean along the last axis over the finite values (NaN where there are none)."""
    finite = np.isfinite(values)
    with np.errstate(all="ignore"):
        total = np.where(finite, values, 0.0).sum(axis=-1)
        count = finite.sum(axis=-1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds of per-seed means over examples, with its interval.

    Attributes:
        mean: The mean over seeds (NaN: no value).
        interval: Its 95 % interval (seeds, then examples).
        n: Examples behind it, over all seeds.
        seeds: Seeds behind it.
    """

    mean: float
    interval: Interval
    n: int
    seeds: int

    @property
    def defined(self) -> bool:
        return not math.isnan(self.mean)


NO_ESTIMATE = Estimate(math.nan, NO_INTERVAL, 0, 0)


def estimate(per_seed: Mapping[int, np.ndarray], *key: object) -> Estimate:
    """The mean over seeds of each seed's finite mean of ``per_seed`` (each (n,)), with the
    two-level interval from a generator seeded by ``key``."""
    arrays = {s: a[np.isfinite(a)] for s, a in sorted(per_seed.items())}
    arrays = {s: a for s, a in arrays.items() if a.size}
    if not arrays:
        return NO_ESTIMATE
    mean = float(np.mean([a.mean() for a in arrays.values()]))
    samples = [(a.size, lambda idx, a=a: finite_mean(a[idx])) for a in arrays.values()]
    interval = two_level_interval(samples, seeded_rng("experiment", *key))
    n = int(sum(a.size for a in arrays.values()))
    return Estimate(mean, interval, n, len(arrays))


def paired_difference(a: SeedValues, b: SeedValues, *key: object) -> Estimate:
    """``a - b`` paired by seed and test image (the images both have, finite in both):
    the mean over seeds of each seed's mean difference, with its two-level interval."""
    differences = {}
    for seed in sorted(set(a) & set(b)):
        joined = pd.concat([a[seed].rename("a"), b[seed].rename("b")], axis=1, join="inner")
        values = (joined["a"] - joined["b"]).to_numpy(dtype=np.float64)
        differences[seed] = values
    return estimate(differences, "paired", *key)


@dataclass
class CellValues:
    """Reads the per-example values of a run's rows by (dataset, model, seed, method,
    metric, setting), each cell's file once.

    Attributes:
        run: The run's contents.
        problems: Files that could not be read (said in the report).
    """

    run: RunContents
    problems: list[str] = field(default_factory=list)
    _tables: dict[CellKey, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    def _table(self, cell: CellKey) -> pd.DataFrame | None:
        if cell not in self._tables:
            try:
                self._tables[cell] = self.run.load_per_example(cell)
            except ValueError as error:
                self.problems.append(str(error))
                self._tables[cell] = None
        return self._tables[cell]

    def values(
        self, dataset: str, model: str, seed: int, method: str, metric: str, setting: str
    ) -> pd.Series | None:
        """One row's per-example values indexed by ``test_index`` (``None``: none stored)."""
        table = self._table(CellKey(GroupKey(dataset, model, seed), method))
        if table is None:
            return None
        block = table[(table["metric"] == metric) & (table["setting"] == setting)]
        if block.empty:
            return None
        series = pd.Series(
            block["value"].to_numpy(dtype=np.float64),
            index=block["test_index"].to_numpy(dtype=np.int64),
        )
        return series[~series.index.duplicated()]

    def by_seed(
        self, dataset: str, model: str, seeds: list[int], method: str, metric: str, setting: str
    ) -> dict[int, pd.Series]:
        """:meth:`values` of every seed that has them."""
        found = {}
        for seed in seeds:
            series = self.values(dataset, model, seed, method, metric, setting)
            if series is not None:
                found[seed] = series
        return found

    def estimate(
        self, dataset: str, model: str, seeds: list[int], method: str, metric: str, setting: str
    ) -> Estimate:
        """The row's mean over seeds with its interval, from the per-example values."""
        found = self.by_seed(dataset, model, seeds, method, metric, setting)
        per_seed = {s: v.to_numpy(dtype=np.float64) for s, v in found.items()}
        return estimate(per_seed, dataset, model, method, metric, setting)


def format_estimate(value: Estimate) -> str:
    """``mean [low, high]``, the mean alone without an interval, ``—`` without a value."""
    if not value.defined:
        return "—"
    if not value.interval.defined:
        return format_significant(value.mean)
    low, high = value.interval.low, value.interval.high
    return (
        f"{format_significant(value.mean)} [{format_significant(low)}, {format_significant(high)}]"
    )
