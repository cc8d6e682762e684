"""Ranks of the methods across tasks: per (metric, setting), a Friedman test and Nemenyi's
post-hoc test (Demšar, JMLR 7, 2006).

A *block* is one (dataset, model, seed): one trained model on one task. Within a block the
methods are ranked by the seed's value of the metric, 1 = best in the metric's direction
(ties get the average rank; an infinite F1 ratio ranks as the largest). The methods with a
value in at least half the blocks are kept and the blocks where one of them has none are
dropped (both said in the table), so the design is complete. The Friedman statistic is
computed from those ranks with the tie correction (the same value as
:func:`scipy.stats.friedmanchisquare`), its p-value from the chi-squared distribution with
k - 1 degrees of freedom; the pairwise p-values are Nemenyi's
(:func:`scikit_posthocs.posthoc_nemenyi_friedman`). The seeds of one (dataset, model) are
blocks of their own, so the test speaks of these trained models on these tasks.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scikit_posthocs
from scipy import stats

from comparisons.run_folder import ResultRow
from comparisons.statistics._directions import metric_direction
from comparisons.statistics._order import order_methods, order_settings, unique

#: Fewest methods and blocks a rank analysis needs (Friedman: at least 3 methods).
MIN_METHODS = 3
MIN_BLOCKS = 2

Block = tuple[str, str, int]


@dataclass(frozen=True)
class RankAnalysis:
    """The ranks of the methods on one (metric, setting) across blocks.

    Attributes:
        metric, setting: What was ranked.
        methods: The methods ranked (registry order).
        blocks: The (dataset, model, seed) blocks used.
        ranks: (blocks, methods) ranks, 1 = best.
        statistic, p_value: The Friedman test (NaN when every block is one tie).
        nemenyi: (methods x methods) Nemenyi p-values.
        dropped_methods: Methods left out (a value in fewer than half the blocks).
        dropped_blocks: Blocks left out (a kept method had no value there).
    """

    metric: str
    setting: str
    methods: tuple[str, ...]
    blocks: tuple[Block, ...]
    ranks: np.ndarray
    statistic: float
    p_value: float
    nemenyi: pd.DataFrame
    dropped_methods: tuple[str, ...]
    dropped_blocks: int

    @property
    def mean_ranks(self) -> pd.Series:
        """Mean rank per method (lower is better)."""
        return pd.Series(self.ranks.mean(axis=0), index=list(self.methods))


def oriented(values: np.ndarray, metric: str) -> np.ndarray:
    """Values turned so that smaller is better (the order ranks are given in)."""
    direction = metric_direction(metric)
    if direction.direction == "higher":
        return -values
    if direction.direction == "lower":
        return values
    if direction.direction == "ideal" and direction.ideal is not None:
        return np.abs(values - direction.ideal)
    raise ValueError(f"expected a metric with a direction, got {metric!r} (no better value)")


def friedman_statistic(ranks: np.ndarray) -> float:
    """The Friedman chi-squared statistic of within-block ranks (blocks x methods), with the
    tie correction: ``12 / (n k (k + 1)) sum_j R_j^2 - 3 n (k + 1)``, divided by
    ``1 - sum (t^3 - t) / (n k (k^2 - 1))`` over the ties t of every block."""
    n, k = ranks.shape
    totals = ranks.sum(axis=0)
    statistic = 12.0 / (n * k * (k + 1)) * float(np.sum(totals**2)) - 3.0 * n * (k + 1)
    ties = 0.0
    for block in ranks:
        _, counts = np.unique(block, return_counts=True)
        ties += float(np.sum(counts.astype(np.float64) ** 3 - counts))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    return math.nan if correction <= 0 else statistic / correction


def rank_analysis(rows: Sequence[ResultRow], metric: str, setting: str) -> RankAnalysis | None:
    """The ranks of one (metric, setting); ``None`` with fewer than :data:`MIN_METHODS`
    methods or :data:`MIN_BLOCKS` complete blocks."""
    values: dict[Block, dict[str, float]] = {}
    for r in rows:
        if r.metric == metric and r.setting == setting and r.method and not math.isnan(r.value):
            values.setdefault((r.dataset, r.model, r.seed), {})[r.method] = r.value
    if not values:
        return None
    all_methods = order_methods(m for block in values.values() for m in block)
    coverage = {m: sum(m in block for block in values.values()) for m in all_methods}
    kept = [m for m in all_methods if 2 * coverage[m] >= len(values)]
    blocks = [b for b in values if all(m in values[b] for m in kept)]
    if len(kept) < MIN_METHODS or len(blocks) < MIN_BLOCKS:
        return None
    matrix = oriented(np.array([[values[b][m] for m in kept] for b in blocks]), metric)
    ranks = stats.rankdata(matrix, axis=1)
    statistic = friedman_statistic(ranks)
    p_value = math.nan if math.isnan(statistic) else float(stats.chi2.sf(statistic, len(kept) - 1))
    # Nemenyi's test needs finite numbers: the ranks carry the same order as the values.
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(pd.DataFrame(ranks, columns=kept))
    nemenyi = nemenyi.loc[kept, kept]
    return RankAnalysis(
        metric=metric,
        setting=setting,
        methods=tuple(kept),
        blocks=tuple(blocks),
        ranks=ranks,
        statistic=statistic,
        p_value=p_value,
        nemenyi=nemenyi,
        dropped_methods=tuple(m for m in all_methods if m not in kept),
        dropped_blocks=len(values) - len(blocks),
    )


def ranked_metrics(rows: Sequence[ResultRow]) -> list[tuple[str, str]]:
    """The (metric, setting) pairs with a direction among the method rows (a descriptive
    setting such as ``region=cue`` has none), metrics in first appearance order, settings
    ordered."""
    metrics = unique(
        r.metric
        for r in rows
        if r.method and metric_direction(r.metric).direction in ("higher", "lower", "ideal")
    )
    return [
        (metric, setting)
        for metric in metrics
        for setting in order_settings(r.setting for r in rows if r.metric == metric)
        if metric_direction(metric, setting).direction in ("higher", "lower", "ideal")
    ]


def rank_analyses(rows: Sequence[ResultRow]) -> list[RankAnalysis]:
    """Every (metric, setting) that can be ranked (:func:`rank_analysis`)."""
    analyses = [rank_analysis(rows, metric, setting) for metric, setting in ranked_metrics(rows)]
    return [a for a in analyses if a is not None]


#: The columns of ``ranks.csv``, in order.
RANK_COLUMNS: tuple[str, ...] = (
    "metric",
    "setting",
    "method",
    "mean_rank",
    "friedman_statistic",
    "friedman_p",
    "blocks",
    "methods",
)


def ranks_csv(analyses: Sequence[RankAnalysis]) -> str:
    """``ranks.csv``: one line per (metric, setting, method) with its mean rank and the
    (metric, setting)'s Friedman test (NaN written empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RANK_COLUMNS)
    for a in analyses:
        for method, rank in a.mean_ranks.items():
            writer.writerow(
                [
                    a.metric,
                    a.setting,
                    method,
                    repr(float(rank)),
                    "" if math.isnan(a.statistic) else repr(a.statistic),
                    "" if math.isnan(a.p_value) else repr(a.p_value),
                    len(a.blocks),
                    len(a.methods),
                ]
            )
    return buffer.getvalue()
