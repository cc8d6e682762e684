"""The "Reading the results" findings: does ifim-sensitive have the best mean F1 ratio at
each alpha and the lowest mean adversarial correlation at each eps, as measured?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from comparisons.paper import CLAIMS, REFERENCE, claim_of
from comparisons.statistics._directions import best_indices, metric_direction
from comparisons.statistics._number_format import format_mean_std
from comparisons.statistics._order import dataset_models, metric_settings, order_methods
from comparisons.statistics._summary import SummaryRow


@dataclass(frozen=True)
class Finding:
    """One comparison of a method against the others on one (dataset, model) at one
    setting.

    Attributes:
        dataset, model, metric, setting: What was compared.
        method: The method examined (``"ifim-sensitive"``).
        wins: ``True`` if its mean is the best (ties included), ``False`` if not, ``None``
            when it has no value or there is nothing to compare it with.
        rank: Its place among the methods with a value (1 = best), 0 when it has none.
        competitors: How many methods had a value, itself included.
        sentence: The finding in words, from the numbers.
    """

    dataset: str
    model: str
    metric: str
    setting: str
    method: str
    wins: bool | None
    rank: int
    competitors: int
    sentence: str


def _sort_key(s: SummaryRow, metric: str) -> float:
    return -s.mean if metric_direction(metric).direction == "higher" else s.mean


def _describe(s: SummaryRow) -> str:
    seeds = f"{s.n_seeds} seed" + ("s" if s.n_seeds != 1 else "")
    return f"{format_mean_std(s.mean, s.std)} ({seeds})"


def _within_spread(a: SummaryRow, b: SummaryRow) -> bool:
    spread = max(a.std, b.std)
    return math.isfinite(spread) and abs(a.mean - b.mean) <= spread


def compare_method(
    summary: Sequence[SummaryRow],
    dataset: str,
    model: str,
    metric: str,
    setting: str,
    method: str = REFERENCE,
) -> Finding:
    """Whether ``method`` has the best mean ``metric`` at ``setting`` on one (dataset,
    model)."""
    claim = claim_of(metric)
    extreme, label = ("best", metric) if claim is None else (claim.extreme, claim.label)
    where = f"{dataset} / {model}, {setting or 'no setting'}"
    rows = [
        s
        for s in summary
        if (s.dataset, s.model, s.metric, s.setting) == (dataset, model, metric, setting)
        and s.method
        and not math.isnan(s.mean)
    ]
    rows = [r for m in order_methods(r.method for r in rows) for r in rows if r.method == m]
    mine = next((r for r in rows if r.method == method), None)
    if mine is None:
        sentence = f"{where}: {method} has no mean {label} (not run or undefined for every seed)."
        return Finding(dataset, model, metric, setting, method, None, 0, len(rows), sentence)
    if len(rows) == 1:
        sentence = f"{where}: {method} is the only method with a {label}; nothing to compare."
        return Finding(dataset, model, metric, setting, method, None, 1, 1, sentence)
    winners = [rows[i] for i in best_indices([r.mean for r in rows], metric_direction(metric))]
    ordered = sorted(rows, key=lambda r: _sort_key(r, metric))
    rank = 1 + sum(_sort_key(r, metric) < _sort_key(mine, metric) for r in rows)
    if not winners:
        sentence = f"{where}: every method has the same mean {label} ({_describe(mine)}); no order."
        return Finding(dataset, model, metric, setting, method, None, rank, len(rows), sentence)
    if mine in winners:
        others = [r for r in ordered if r.method != method]
        runner = others[0]
        tie = [r.method for r in winners if r.method != method]
        verb = (
            f"shares the {extreme} mean {label} with {', '.join(tie)}"
            if tie
            else (f"has the {extreme} mean {label}")
        )
        sentence = (
            f"{where}: {method} {verb}: {_describe(mine)} against {_describe(runner)} for "
            f"{runner.method}, the next best."
        )
        if not tie and _within_spread(mine, runner):
            sentence += " The gap is within one seed std, so the order is not settled."
        return Finding(dataset, model, metric, setting, method, True, rank, len(rows), sentence)
    best = winners[0]
    sentence = (
        f"{where}: {method} does not have the {extreme} mean {label}: {best.method} has "
        f"{_describe(best)}, {method} {_describe(mine)} (rank {rank} of {len(rows)})."
    )
    if _within_spread(mine, best):
        sentence += " The gap is within one seed std."
    return Finding(dataset, model, metric, setting, method, False, rank, len(rows), sentence)


def reading_findings(summary: Sequence[SummaryRow], method: str = REFERENCE) -> list[Finding]:
    """Every (dataset, model, claimed metric, setting) comparison of ``method``, in table
    order."""
    return [
        compare_method(summary, dataset, model, claim.metric, setting, method)
        for dataset, model in dataset_models(summary)
        for claim in CLAIMS
        for setting in metric_settings(summary, claim.metric, dataset, model)
    ]
