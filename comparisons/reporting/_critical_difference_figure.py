"""Critical-difference diagrams (Demšar, JMLR 7, 2006) of the methods' mean ranks, one panel
per (metric, setting), drawn by :func:`scikit_posthocs.critical_difference_diagram` from
Nemenyi's pairwise p-values: methods joined by a bar are not separated at alpha = 0.05."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import scikit_posthocs
from matplotlib.figure import Figure

from comparisons.reporting._figure_output import FigureResult, method_colors, save_figure
from comparisons.statistics import RankAnalysis, format_p, format_significant

_LABEL_RANK = re.compile(r"\s*\([^()]*\)\s*")


def critical_difference_figure(analyses: Sequence[RankAnalysis]) -> Figure | None:
    """One CD diagram per analysis, stacked; ``None`` without analyses."""
    if not analyses:
        return None
    figure = Figure(figsize=(8.0, 1.9 * len(analyses) + 0.3), layout="constrained")
    axes = figure.subplots(len(analyses), 1, squeeze=False)[:, 0]
    for ax, analysis in zip(axes, analyses, strict=True):
        ranks = analysis.mean_ranks
        colors = method_colors(list(analysis.methods))
        scikit_posthocs.critical_difference_diagram(
            ranks,
            analysis.nemenyi,
            ax=ax,
            label_props={"fontsize": 7},
            marker_props={"color": "black"},
            elbow_props={"color": "grey"},
        )
        for text in ax.texts:  # labels "<method> (<rank>)" or "(<rank>) <method>"
            name = _LABEL_RANK.sub("", text.get_text()).strip()
            if name in colors:
                text.set_color(colors[name])
        statistic = (
            "n/a" if math.isnan(analysis.statistic) else format_significant(analysis.statistic)
        )
        ax.set_title(
            f"{analysis.metric} {analysis.setting}: Friedman chi2 = {statistic}, "
            f"p = {format_p(analysis.p_value)}, {len(analysis.blocks)} blocks",
            fontsize=8,
        )
    return figure


def write_critical_difference(
    analyses: Sequence[RankAnalysis], path: Path, metrics: Sequence[str] | None = None
) -> FigureResult:
    """The CD diagrams of the analyses of ``metrics`` (all when ``None``), or why not."""
    chosen = [a for a in analyses if metrics is None or a.metric in metrics]
    if metrics is not None:
        chosen.sort(key=lambda a: list(metrics).index(a.metric))
    figure = critical_difference_figure(chosen)
    if figure is None:
        return FigureResult(
            None,
            "",
            (f"no rank analysis of {', '.join(metrics or ['any metric'])}: no CD diagram",),
        )
    save_figure(figure, path)
    caption = (
        "Critical-difference diagrams: the methods' mean ranks (1 = best) over the (dataset, "
        "model, seed) blocks, per metric and setting; a horizontal bar joins methods that "
        "Nemenyi's post-hoc test does not separate at alpha = 0.05. Titles give the "
        "Friedman test."
    )
    return FigureResult(path, caption)
