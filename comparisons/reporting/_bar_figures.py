"""The paper's Figs. 3 and 4, and dF1 beside Fig. 3: per (dataset, model) panel, methods
grouped by setting, bars = mean over seeds, error bars = the 95 % bootstrap interval (the
sample std over seeds where a row has no interval)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from comparisons.metrics import ADVERSARIAL_CORRELATION_ROW, F1_DIFFERENCE_ROW, F1_RATIO_ROW
from comparisons.reporting._figure_output import FigureResult, method_colors, save_figure
from comparisons.statistics import SummaryRow, dataset_models, metric_settings, order_methods

#: How far above the largest finite bar or interval an infinite mean is drawn.
_HEADROOM = 1.15


def _error_bars(entries: Sequence[SummaryRow | None], means: np.ndarray) -> np.ndarray:
    """(2, n) lower and upper error lengths: the interval where there is one, else the std;
    0 where neither is defined. An infinite upper bound is drawn to the top of the axis."""
    lower, upper = np.zeros(len(entries)), np.zeros(len(entries))
    for i, (entry, mean) in enumerate(zip(entries, means, strict=True)):
        if entry is None or not math.isfinite(mean):
            continue
        if entry.has_interval:
            lower[i] = max(mean - entry.ci_low, 0.0)
            upper[i] = max(entry.ci_high - mean, 0.0)
        elif math.isfinite(entry.std):
            lower[i] = upper[i] = entry.std
    return np.vstack([lower, upper])


def _panel_top(entries: Sequence[SummaryRow]) -> float:
    """The top of the finite bars and intervals of a panel (at least 1e-9 above 0)."""
    finite = [
        v
        for e in entries
        for v in (e.mean, e.ci_high if e.has_interval else e.mean + np.nan_to_num(e.std))
        if math.isfinite(v)
    ]
    return max([*finite, 1e-9])


def grouped_bar_figure(
    summary: Sequence[SummaryRow],
    metric: str,
    ylabel: str,
    reference_line: float | None = None,
) -> tuple[Figure | None, list[str]]:
    """One panel per (dataset, model) with ``metric`` rows: x groups = settings, one bar per
    method. An infinite mean is a hatched bar up to the top of the panel marked ``∞``; an
    interval with an infinite upper bound reaches the top.

    Returns:
        The figure (``None`` when no row has the metric) and notes on what was drawn how.
    """
    rows = [s for s in summary if s.metric == metric and s.method]
    panels = dataset_models(rows)
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
    without_interval = False
    for ax, (dataset, model) in zip(axes, panels, strict=False):
        settings = metric_settings(rows, metric, dataset, model)
        mine = [s for s in rows if (s.dataset, s.model) == (dataset, model)]
        index = {(s.method, s.setting): s for s in mine}
        present = [m for m in methods if any((m, st) in index for st in settings)]
        bar_width = 0.8 / max(len(present), 1)
        top = _panel_top(mine) * _HEADROOM
        bottom = min([0.0, *(s.mean for s in mine if math.isfinite(s.mean))])
        for j, method in enumerate(present):
            x = np.arange(len(settings)) + (j - (len(present) - 1) / 2) * bar_width
            entries = [index.get((method, st)) for st in settings]
            means = np.array([np.nan if e is None else e.mean for e in entries])
            without_interval |= any(
                e is not None and math.isfinite(e.mean) and not e.has_interval for e in entries
            )
            finite = np.isfinite(means)
            errors = _error_bars(entries, means)
            errors[1] = np.minimum(errors[1], np.maximum(top - means, 0.0))
            ax.bar(
                x[finite],
                means[finite],
                bar_width,
                color=colors[method],
                yerr=errors[:, finite],
                capsize=2,
                error_kw={"linewidth": 0.8},
            )
            infinite = np.isposinf(means)
            if infinite.any():
                _infinite_bars(ax, x[infinite], bar_width, top, colors[method])
                for setting in np.array(settings)[infinite]:
                    notes.append(
                        f"{dataset}/{model}: {method} has an infinite mean {metric} at "
                        f"{setting} (hatched bar marked ∞)"
                    )
        if reference_line is not None:
            ax.axhline(reference_line, color="black", linestyle="--", linewidth=0.9)
        ax.set_ylim(min(bottom * _HEADROOM, 0.0), top * 1.06)
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
    if without_interval:
        notes.append(
            f"{metric}: some groups have no bootstrap interval (no per-example values and "
            "fewer than 3 seeds): their error bars are the seed std, or none for one seed"
        )
    return figure, notes


def _infinite_bars(ax: Axes, x: np.ndarray, width: float, top: float, color: str) -> None:
    """Hatched bars up to ``top`` with an ``∞`` above: infinite means, never left blank."""
    ax.bar(x, np.full(x.shape, top), width, color=color, alpha=0.35, hatch="///", linewidth=0)
    for xi in x:
        ax.text(xi, top, "∞", ha="center", va="bottom", fontsize=8)


def write_f1_ratio_bars(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """Fig. 3: the F1 ratio per alpha, dashed line at 1 (no difference between the sets)."""
    figure, notes = grouped_bar_figure(
        summary, F1_RATIO_ROW.name, "F1 ratio (low / high perturbed)", 1.0
    )
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    caption = (
        "Contrastive pixel perturbation (Fig. 3, eqs. 23-26): F1 after perturbing the low set "
        "divided by F1 after perturbing the high set, per fraction alpha of pixels; higher "
        "means the top-ranked pixels matter more. Bars: mean over seeds; error bars: 95 % "
        "bootstrap interval (seeds, then examples); dashed line: ratio 1. A hatched bar "
        "marked ∞ is an infinite mean: the F1 after perturbing the high set was 0 in some "
        "seed. The finite dF1 figure below ranks those methods."
    )
    return FigureResult(path, caption, tuple(notes))


def write_f1_difference_bars(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """dF1 = F1(low perturbed) - F1(high perturbed) per alpha: finite where the ratio is not."""
    figure, notes = grouped_bar_figure(
        summary, F1_DIFFERENCE_ROW.name, "dF1 = F1(low pert.) - F1(high pert.)", 0.0
    )
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    caption = (
        "dF1 (Sec. IV-E): F1 after perturbing the low set minus F1 after perturbing the high "
        "set, per alpha; higher means the top-ranked pixels matter more, 0 (dashed) means no "
        "difference. Finite where the F1 ratio is infinite. Bars: mean over seeds; error "
        "bars: 95 % bootstrap interval (seeds, then examples)."
    )
    return FigureResult(path, caption, tuple(notes))


def write_adversarial_bars(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """Fig. 4: the clean/adversarial Pearson correlation of the maps per FGSM eps."""
    figure, notes = grouped_bar_figure(
        summary, ADVERSARIAL_CORRELATION_ROW.name, "Pearson(clean, adv.)", 0.0
    )
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    caption = (
        "Adversarial correlation (Fig. 4, eq. 27): Pearson correlation between the maps of "
        "clean and FGSM inputs, mean over the examples with a defined correlation; lower "
        "means the map reacts more to the adversarial change. Bars: mean over seeds; error "
        "bars: 95 % bootstrap interval (seeds, then examples)."
    )
    return FigureResult(path, caption, tuple(notes))
