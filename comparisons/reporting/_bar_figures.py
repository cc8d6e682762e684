"""The paper's Figs. 3 and 4: per (dataset, model) panel, methods grouped by setting, bars =
mean over seeds, error bars = sample std over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from comparisons.reporting._figure_output import FigureResult, method_colors, save_figure
from comparisons.reporting._summary import SummaryRow
from comparisons.reporting._table_layout import cells, metric_settings, order_methods


def grouped_bar_figure(
    summary: Sequence[SummaryRow],
    metric: str,
    ylabel: str,
    reference_line: float | None = None,
) -> tuple[Figure | None, list[str]]:
    """One panel per (dataset, model) with ``metric`` rows: x groups = settings, one bar per
    method. Infinite means are marked ``inf`` above the group instead of a bar.

    Returns:
        The figure (``None`` when no row has the metric) and notes on what was not drawn.
    """
    rows = [s for s in summary if s.metric == metric and s.method]
    panels = cells(rows)
    if not panels:
        return None, [f"no {metric} rows: figure not drawn"]
    notes: list[str] = []
    methods = order_methods(s.method for s in rows)
    colors = method_colors(methods)
    n_cols = min(3, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    figure_width = max(8.0, 5.2 * n_cols)  # room for the legend under a single panel
    figure = Figure(figsize=(figure_width, 3.4 * n_rows + 0.8), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False).flatten()
    single_seed = False
    for ax, (dataset, model) in zip(axes, panels, strict=False):
        settings = metric_settings(rows, metric, dataset, model)
        index = {(s.method, s.setting): s for s in rows if (s.dataset, s.model) == (dataset, model)}
        present = [m for m in methods if any((m, st) in index for st in settings)]
        bar_width = 0.8 / max(len(present), 1)
        for j, method in enumerate(present):
            x = np.arange(len(settings)) + (j - (len(present) - 1) / 2) * bar_width
            entries = [index.get((method, st)) for st in settings]
            means = np.array([np.nan if e is None else e.mean for e in entries])
            stds = np.array([np.nan if e is None else e.std for e in entries])
            single_seed |= bool(np.any(np.isfinite(means) & np.isnan(stds)))
            finite = np.isfinite(means)
            ax.bar(
                x[finite],
                means[finite],
                bar_width,
                color=colors[method],
                yerr=np.nan_to_num(stds[finite], nan=0.0),
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            for xi, mean in zip(x, means, strict=True):
                if math.isinf(mean):
                    ax.annotate(
                        "inf",
                        (xi, 1.0),
                        xycoords=("data", "axes fraction"),
                        ha="center",
                        va="top",
                        fontsize=6,
                        rotation=90,
                    )
                    notes.append(f"{dataset}/{model}: {method} has an infinite mean {metric}")
        if reference_line is not None:
            ax.axhline(reference_line, color="black", linestyle="--", linewidth=0.9)
        ax.set_xticks(np.arange(len(settings)), [st or "(none)" for st in settings])
        ax.set_title(f"{dataset} / {model}", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    figure.legend(
        handles=[Patch(color=colors[m], label=m) for m in methods],
        loc="outside lower center",
        ncols=min(len(methods), int(figure_width // 1.7)),
        fontsize=7,
    )
    if single_seed:
        notes.append(f"{metric}: some groups have a single seed, drawn without error bars")
    return figure, notes


def write_f1_ratio_bars(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """Fig. 3: the F1 ratio per alpha, dashed line at 1 (no difference between the sets)."""
    figure, notes = grouped_bar_figure(summary, "f1-ratio", "F1 ratio (low / high perturbed)", 1.0)
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    caption = (
        "Contrastive pixel perturbation (Fig. 3, eqs. 23-26): F1 after perturbing the low set "
        "divided by F1 after perturbing the high set, per fraction alpha of pixels; higher "
        "means the top-ranked pixels matter more. Bars: mean over seeds; error bars: sample "
        "std over seeds; dashed line: ratio 1."
    )
    return FigureResult(path, caption, tuple(notes))


def write_adversarial_bars(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """Fig. 4: the clean/adversarial Pearson correlation of the maps per FGSM eps."""
    figure, notes = grouped_bar_figure(
        summary, "adversarial-correlation", "Pearson(clean, adv.)", 0.0
    )
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    caption = (
        "Adversarial correlation (Fig. 4, eq. 27): Pearson correlation between the maps of "
        "clean and FGSM inputs, mean over the examples with a defined correlation; lower "
        "means the map reacts more to the adversarial change. Bars: mean over seeds; error "
        "bars: sample std over seeds."
    )
    return FigureResult(path, caption, tuple(notes))
