"""The per-example values behind one row of one seed, and the row's statistic on resamples.

A :class:`RowSample` holds what a row was computed from (read from the run folder's
per-example file) and evaluates the row's :class:`~comparisons.metrics.RowStatistic` on
index arrays, so the bootstrap (:mod:`._bootstrap`) and the paired tests
(:mod:`._paired`) recompute any row on any resample of the examples. :class:`RunSamples`
finds the sample of a (dataset, model, seed, method, metric, setting) in a run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from comparisons.metrics import RowStatistic, row_statistic
from comparisons.run_folder import CellKey, GroupKey, RunContents


def code_counts(codes: np.ndarray, size: int) -> np.ndarray:
    """How often each code in [0, size) occurs along the last axis: (..., n) -> (..., size),
    with one ``bincount`` over all rows at once."""
    codes = np.asarray(codes, dtype=np.int64)
    leading, n = codes.shape[:-1], codes.shape[-1]
    flat = codes.reshape(-1, n)
    offsets = flat + size * np.arange(flat.shape[0], dtype=np.int64)[:, None]
    counts = np.bincount(offsets.ravel(), minlength=flat.shape[0] * size)
    return counts.reshape(*leading, size)


def f1_from_confusion(confusion: np.ndarray, classes: int) -> np.ndarray:
    """F1 from confusion counts (..., C, C) indexed [true, predicted], as the library's
    ``f1`` (scikit-learn) computes it.

    Binary with positive class 1 for two classes; otherwise the macro mean over the classes
    present in the labels or the predictions. A class's F1 is 2 TP / (2 TP + FP + FN), 0
    where that is 0 / 0 (scikit-learn's ``zero_division=0``).
    """
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    denominator = confusion.sum(axis=-2) + confusion.sum(axis=-1)  # 2 TP + FP + FN
    with np.errstate(all="ignore"):
        score = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    if classes == 2:
        return score[..., 1].astype(np.float64)
    present = denominator > 0
    count = present.sum(axis=-1)
    with np.errstate(all="ignore"):
        return np.where(count > 0, (score * present).sum(axis=-1) / np.maximum(count, 1), 0.0)


def f1_scores(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """F1 along the last axis (see :func:`f1_from_confusion`).

    Args:
        labels, predictions: (..., n) integer labels in [0, classes) (broadcast together).
        classes: The number of classes.

    Returns:
        (...) float64.
    """
    labels, predictions = np.broadcast_arrays(labels, predictions)
    codes = labels.astype(np.int64) * classes + predictions.astype(np.int64)
    counts = code_counts(codes, classes * classes)
    return f1_from_confusion(counts.reshape(*counts.shape[:-1], classes, classes), classes)


def finite_means(values: np.ndarray) -> np.ndarray:
    """Mean along the last axis over the finite values (NaN where there are none)."""
    finite = np.isfinite(values)
    with np.errstate(all="ignore"):
        total = np.where(finite, values, 0.0).sum(axis=-1)
        count = finite.sum(axis=-1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class RowSample:
    """The per-example values one row of one seed was computed from.

    Attributes:
        statistic: The row's rule (:func:`comparisons.metrics.row_statistic`).
        positions: (n,) the examples' rows in the cell's evaluated images, ascending.
        labels: (n,) their true labels.
        classes: The model's number of classes.
        parts: One (n,) array per part of the statistic (values or predicted labels).
    """

    statistic: RowStatistic
    positions: np.ndarray
    labels: np.ndarray
    classes: int
    parts: tuple[np.ndarray, ...]

    @property
    def n(self) -> int:
        return int(self.positions.size)

    @cached_property
    def codes(self) -> np.ndarray:
        """(n,) for a set-level statistic: each example's true label and predicted labels as
        one number, ``label * C^p + part_0 * C^(p-1) + ...`` (``p`` parts, ``C`` classes)."""
        code = self.labels.astype(np.int64)
        for part in self.parts:
            code = code * self.classes + part.astype(np.int64)
        return code

    def statistic_of_codes(self, codes: np.ndarray) -> np.ndarray:
        """A set-level statistic from example codes (..., n) (:attr:`codes`, resampled or
        swapped with another method's): counted once, F1 of each part from the counts."""
        c, parts = self.classes, len(self.parts)
        counts = code_counts(codes, c ** (parts + 1))
        counts = counts.reshape(*counts.shape[:-1], *([c] * (parts + 1)))
        scores = []
        for j in range(parts):
            others = tuple(-parts + k for k in range(parts) if k != j)
            confusion = counts.sum(axis=others) if others else counts
            scores.append(f1_from_confusion(confusion, c))
        kind = self.statistic.kind
        if kind == "f1":
            return scores[0]
        with np.errstate(all="ignore"):
            return scores[0] / scores[1] if kind == "ratio-of-f1" else scores[0] - scores[1]

    def evaluate(self, indices: np.ndarray | None = None) -> np.ndarray:
        """The statistic on the examples ``indices`` (..., n) (all of them for ``None``)."""
        if indices is None:
            indices = np.arange(self.n)
        if self.statistic.kind == "mean":
            return finite_means(self.parts[0][indices])
        return self.statistic_of_codes(self.codes[indices])

    def value(self) -> float:
        """The row's value from the per-example values (equal to the stored row)."""
        return float(self.evaluate())

    def restricted(self, positions: np.ndarray) -> RowSample:
        """The sample on a subset of its positions (ascending, all present)."""
        keep = np.searchsorted(self.positions, positions)
        return RowSample(
            self.statistic,
            self.positions[keep],
            self.labels[keep],
            self.classes,
            tuple(part[keep] for part in self.parts),
        )


def paired_positions(a: RowSample, b: RowSample) -> np.ndarray:
    """The examples both samples have, where every per-example value is defined in both
    for a mean (a constant map's NaN drops the pair)."""
    common = np.intersect1d(a.positions, b.positions)
    if a.statistic.kind != "mean":
        return common
    defined = np.ones(common.size, dtype=bool)
    for sample in (a, b):
        values = sample.parts[0][np.searchsorted(sample.positions, common)]
        defined &= np.isfinite(values)
    return common[defined]


@dataclass
class RunSamples:
    """The per-example samples of a run's rows, read from its per-example files on demand.

    Attributes:
        run: The run's contents (its ``per_example`` files).
        problems: Files that could not be read (said in the report).
    """

    run: RunContents
    problems: list[str] = field(default_factory=list)
    _cells: dict[CellKey, dict[tuple[str, str], pd.DataFrame] | None] = field(
        default_factory=dict, repr=False
    )

    @property
    def available(self) -> bool:
        """Whether the run has per-example files at all."""
        return bool(self.run.per_example)

    def _blocks(self, cell: CellKey) -> dict[tuple[str, str], pd.DataFrame] | None:
        if cell not in self._cells:
            try:
                table = self.run.load_per_example(cell)
            except ValueError as error:
                self.problems.append(str(error))
                table = None
            if table is None:
                self._cells[cell] = None
            else:
                self._cells[cell] = {
                    (str(metric), str(setting)): block.sort_values("position")
                    for (metric, setting), block in table.groupby(["metric", "setting"], sort=False)
                }
        return self._cells[cell]

    def sample(
        self, dataset: str, model: str, seed: int, method: str, metric: str, setting: str
    ) -> RowSample | None:
        """The sample of one row, ``None`` when the row has no per-example values (no rule,
        no file, or the file lacks the blocks)."""
        statistic = row_statistic(metric)
        if statistic is None or not method:
            return None
        blocks = self._blocks(CellKey(GroupKey(dataset, model, seed), method))
        if blocks is None:
            return None
        found = [blocks.get((part, setting)) for part in statistic.parts]
        if any(block is None for block in found):
            return None
        first = found[0]
        assert first is not None
        positions = first["position"].to_numpy(dtype=np.int64)
        parts = []
        for block in found:
            assert block is not None
            if not np.array_equal(block["position"].to_numpy(dtype=np.int64), positions):
                self.problems.append(
                    f"{dataset}/{model}/seed{seed}/{method}: the parts of {metric} {setting} "
                    "cover different examples"
                )
                return None
            parts.append(block["value"].to_numpy(dtype=np.float64))
        return RowSample(
            statistic=statistic,
            positions=positions,
            labels=first["label"].to_numpy(dtype=np.int64),
            classes=int(first["classes"].iloc[0]) if len(first) else 0,
            parts=tuple(parts),
        )


def recomputation_gap(stored: float, recomputed: float) -> float:
    """``|stored - recomputed|`` relative to ``max(1, |stored|)``; 0 when both are the same
    infinity or both NaN."""
    if math.isnan(stored) and math.isnan(recomputed):
        return 0.0
    if math.isinf(stored) or math.isinf(recomputed):
        return 0.0 if stored == recomputed else math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return abs(stored - recomputed) / max(1.0, abs(stored))
