"""Where each method stands in each metric family: the method x family table of mean ranks
(one figure, one LaTeX table) and one critical-difference diagram per family.

A ranked row's family is its metric's library category (``MetricInfo.category``:
faithfulness, robustness, localization, randomization, complexity, fidelity, or ``custom``
for a metric of your own), found through the harness entry that declares the row; rows no
entry declares (older runs) are ``"other"``; the cost rows (seconds per image) are no family
(``"cost"``), left out of the table and the family diagrams (the rank table has them). A
method's rank in a family is the mean of its mean ranks over the family's rank analyses
(each (metric, setting), 1 = best in the metric's own direction, so "lower is better"
metrics are already turned), over the analyses that rank it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from captum_ifim.metrics import MetricCategory
from comparisons.metrics import HARNESS_METRICS, row_role
from comparisons.reporting._critical_difference_figure import write_critical_difference
from comparisons.reporting._exports import ReportTable
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.statistics import RankAnalysis, format_significant, order_methods

#: The families in the order of the table's columns: the library's metric categories,
#: then your own metrics' (others follow, sorted).
FAMILY_ORDER = (*get_args(MetricCategory), "custom")
OTHER_FAMILY = "other"
COST_FAMILY = "cost"


def row_family(metric: str) -> str:
    """The family of result-row ``metric``: its metric's library category."""
    if row_role(metric) == "cost":
        return COST_FAMILY
    for entry in HARNESS_METRICS.values():
        if any(row.name == metric for row in entry.rows):
            return str(entry.info.category)
    return OTHER_FAMILY


def _families(analyses: Sequence[RankAnalysis]) -> list[str]:
    found = {row_family(a.metric) for a in analyses} - {COST_FAMILY}
    return [f for f in FAMILY_ORDER if f in found] + sorted(found - set(FAMILY_ORDER))


def family_ranks(analyses: Sequence[RankAnalysis]) -> pd.DataFrame:
    """(methods x families) mean rank, NaN where a family does not rank a method; the
    number of analyses each family has is ``frame.attrs["analyses"]``."""
    families = _families(analyses)
    methods = order_methods(m for a in analyses for m in a.methods)
    frame = pd.DataFrame(np.nan, index=methods, columns=families, dtype=float)
    counts = {}
    for family in families:
        chosen = [a.mean_ranks for a in analyses if row_family(a.metric) == family]
        counts[family] = len(chosen)
        frame[family] = pd.concat(chosen, axis=1).mean(axis=1).reindex(methods)
    frame.attrs["analyses"] = counts
    return frame


def family_ranks_table(analyses: Sequence[RankAnalysis]) -> ReportTable | None:
    """The method x family table (best rank of each family in bold); ``None`` without
    analyses."""
    if not analyses:
        return None
    frame = family_ranks(analyses)
    counts = frame.attrs["analyses"]
    rows = []
    for method in frame.index:
        cells = []
        for family in frame.columns:
            value = float(frame.loc[method, family])
            if math.isnan(value):
                cells.append("—")
                continue
            text = format_significant(value, 2)
            best = float(frame[family].min())
            cells.append(f"**{text}**" if value == best else text)
        rows.append((str(method), *cells))
    return ReportTable(
        name="family_ranks",
        title="Mean rank per method and metric family (1 = best; the mean over the family's "
        "ranked metrics of each one's mean rank over the blocks)",
        header=("method", *(f"{f} ({counts[f]})" for f in frame.columns)),
        rows=tuple(rows),
    )


def write_family_ranks_figure(analyses: Sequence[RankAnalysis], path: Path) -> FigureResult:
    """A heat map of :func:`family_ranks` (darker = better, each cell's rank written)."""
    if not analyses:
        return FigureResult(None, "", ("no rank analysis: no family rank figure",))
    frame = family_ranks(analyses)
    values = frame.to_numpy(dtype=float)
    figure = Figure(
        figsize=(1.3 * len(frame.columns) + 2.2, 0.35 * len(frame.index) + 1.2),
        layout="constrained",
    )
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(frame.columns)), list(frame.columns), rotation=30, ha="right")
    ax.set_yticks(range(len(frame.index)), list(frame.index))
    finite = values[~np.isnan(values)]
    middle = float(finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if not math.isnan(values[i, j]):
                color = "white" if values[i, j] <= middle else "black"  # dark cells: white
                ax.text(
                    j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color
                )
    figure.colorbar(image, ax=ax, label="mean rank (1 = best)")
    save_figure(figure, path)
    caption = (
        "Mean rank of each method in each metric family (1 = best, darker): per family, the "
        "mean over its ranked metrics of each metric's mean rank over the (dataset, model, "
        "seed) blocks, each in its own direction. `tables/family_ranks.tex` holds the same "
        "numbers."
    )
    return FigureResult(path, caption)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def write_family_critical_differences(
    analyses: Sequence[RankAnalysis], directory: Path
) -> tuple[FigureResult, ...]:
    """One critical-difference figure per family, ``critical_difference__<family>.png``,
    with a panel per ranked (metric, setting) of the family."""
    results = []
    for family in _families(analyses):
        chosen = [a for a in analyses if row_family(a.metric) == family]
        result = write_critical_difference(
            chosen, directory / f"critical_difference__{_safe(family)}.png"
        )
        if result.path is not None:
            result = FigureResult(
                result.path, f"The {family} family. " + result.caption, result.notes
            )
        results.append(result)
    return tuple(results)
