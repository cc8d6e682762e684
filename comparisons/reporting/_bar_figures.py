"""The paper's Figs. 3 and 4, and dF1 beside Fig. 3: per (dataset, model) panel, methods
grouped by setting, bars = mean over seeds, error bars = the 95 % bootstrap interval (the
sample std over seeds where a row has no interval). Fig. 4's correlations, close to each
other near 1, are points on an axis zoomed to them, with the reference's paired differences
below."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from comparisons.metrics import ADVERSARIAL_CORRELATION_ROW, F1_DIFFERENCE_ROW, F1_RATIO_ROW
from comparisons.paper import ALPHA, REFERENCE
from comparisons.reporting._figure_output import FigureResult, method_colors, save_figure
from comparisons.statistics import (
    ReferenceContrast,
    SummaryRow,
    dataset_models,
    metric_settings,
    order_methods,
)

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
        "means the top-ranked pixels matter more. Bars: mean over "
        f"{seeds_words(_rows(summary, F1_RATIO_ROW.name))}; error bars: 95 % "
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
        "difference. Finite where the F1 ratio is infinite. Bars: mean over "
        f"{seeds_words(_rows(summary, F1_DIFFERENCE_ROW.name))}; error bars: 95 % bootstrap "
        "interval (seeds, then examples)."
    )
    return FigureResult(path, caption, tuple(notes))


def _zoomed(values: Sequence[float], include: Sequence[float] = ()) -> tuple[float, float]:
    """Axis limits from the finite ``values`` (and ``include``) with a margin of 15 % of
    their range (at least 0.005), so that small differences can be seen."""
    finite = [v for v in (*values, *include) if math.isfinite(v)]
    if not finite:
        return (0.0, 1.0)
    low, high = min(finite), max(finite)
    margin = max(0.15 * (high - low), 0.005)
    return low - margin, high + margin


def _offsets(count: int, width: float = 0.8) -> np.ndarray:
    """The x offsets of ``count`` markers side by side within one setting."""
    step = width / max(count, 1)
    return (np.arange(count) - (count - 1) / 2) * step


def _means_panel(
    ax: Axes, rows: Sequence[SummaryRow], settings: Sequence[str], colors: dict[str, str]
) -> None:
    """Means with their intervals as points, the axis zoomed to them (no bars: an axis that
    does not start at 0 would make bar lengths mislead)."""
    index = {(s.method, s.setting): s for s in rows}
    methods = [m for m in colors if any((m, st) in index for st in settings)]
    shown: list[float] = []
    for offset, method in zip(_offsets(len(methods)), methods, strict=True):
        entries = [index.get((method, st)) for st in settings]
        means = np.array([np.nan if e is None else e.mean for e in entries])
        errors = _error_bars(entries, means)
        x = np.arange(len(settings)) + offset
        ax.errorbar(x, means, yerr=errors, fmt="o", color=colors[method], capsize=3, ms=5)
        shown += [*(means - errors[0]), *(means + errors[1])]
    ax.set_ylim(*_zoomed(shown))


def _contrasts_panel(
    ax: Axes,
    contrasts: Sequence[ReferenceContrast],
    settings: Sequence[str],
    colors: dict[str, str],
) -> None:
    """The reference minus each method on the same examples, with its interval: filled where
    the Holm-adjusted test separates them, hollow where not; 0 dashed."""
    methods = [m for m in colors if any(c.method == m for c in contrasts)]
    index = {(c.method, c.setting): c for c in contrasts}
    shown: list[float] = []
    for offset, method in zip(_offsets(len(methods)), methods, strict=True):
        for i, setting in enumerate(settings):
            c = index.get((method, setting))
            if c is None or not math.isfinite(c.difference):
                continue
            low = c.difference - c.ci_low if math.isfinite(c.ci_low) else 0.0
            high = c.ci_high - c.difference if math.isfinite(c.ci_high) else 0.0
            ax.errorbar(
                [i + offset],
                [c.difference],
                yerr=[[max(low, 0.0)], [max(high, 0.0)]],
                fmt="o",
                color=colors[method],
                markerfacecolor=colors[method] if c.favours else "white",
                capsize=3,
                ms=5,
            )
            shown += [c.difference - low, c.difference + high]
    ax.axhline(0.0, color="black", linestyle="--", linewidth=0.9)
    ax.set_ylim(*_zoomed(shown, include=(0.0,)))


def adversarial_figure(
    summary: Sequence[SummaryRow], contrasts: Sequence[ReferenceContrast] = ()
) -> tuple[Figure | None, list[str]]:
    """Fig. 4 per (dataset, model): the methods' means with their intervals on an axis zoomed
    to them, and below, where there are contrasts, the reference minus each method with its
    interval (what the verdict rests on).

    Returns:
        The figure (``None`` without adversarial-correlation rows) and notes.
    """
    metric = ADVERSARIAL_CORRELATION_ROW.name
    rows = [s for s in summary if s.metric == metric and s.method]
    panels = dataset_models(rows)
    if not panels:
        return None, [f"no {metric} rows: figure not drawn"]
    colors = method_colors(order_methods(s.method for s in rows))
    mine = [c for c in contrasts if c.metric == metric]
    heights = [3.4, 2.4] if mine else [3.4]
    n_cols = min(3, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    width = max(8.0, 5.2 * n_cols)
    figure = Figure(figsize=(width, sum(heights) * n_rows + 0.8), layout="constrained")
    grid = figure.subplots(
        len(heights) * n_rows, n_cols, squeeze=False, height_ratios=heights * n_rows
    )
    for ax in grid.flatten():
        ax.set_visible(False)
    for k, (dataset, model) in enumerate(panels):
        row, col = divmod(k, n_cols)
        axes = [grid[len(heights) * row + i][col] for i in range(len(heights))]
        settings = metric_settings(rows, metric, dataset, model)
        here = [s for s in rows if (s.dataset, s.model) == (dataset, model)]
        _means_panel(axes[0], here, settings, colors)
        axes[0].set_title(f"{dataset} / {model}", fontsize=9)
        axes[0].set_ylabel("Pearson(clean, adv.)", fontsize=8)
        if mine:
            compared = [c for c in mine if (c.dataset, c.model) == (dataset, model)]
            _contrasts_panel(axes[1], compared, settings, colors)
            reference = compared[0].reference if compared else REFERENCE
            axes[1].set_ylabel(f"{reference} minus method", fontsize=8)
        for ax in axes:
            ax.set_visible(True)
            ax.set_xticks(np.arange(len(settings)), [st or "(none)" for st in settings])
            ax.set_xlim(-0.5, len(settings) - 0.5)
            ax.tick_params(labelsize=7)
    figure.legend(
        handles=[Patch(color=colors[m], label=m) for m in colors],
        loc="outside lower center",
        ncols=min(len(colors), int(width // 1.7)),
        fontsize=7,
    )
    return figure, []


def write_adversarial_bars(
    summary: Sequence[SummaryRow], path: Path, contrasts: Sequence[ReferenceContrast] = ()
) -> FigureResult:
    """Fig. 4: the clean/adversarial Pearson correlation of the maps per FGSM eps, and the
    reference's paired differences with each method (from ``contrasts``)."""
    figure, notes = adversarial_figure(summary, contrasts)
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    rows = _rows(summary, ADVERSARIAL_CORRELATION_ROW.name)
    caption = (
        "Adversarial correlation (Fig. 4, eq. 27): Pearson correlation between the maps of "
        "clean and FGSM inputs, mean over the examples with a defined correlation; lower "
        f"means the map reacts more to the adversarial change. Points: mean over "
        f"{seeds_words(rows)}; error bars: 95 % bootstrap interval (seeds, then examples); "
        "the axis is zoomed to them and does not start at 0."
    )
    if any(c.metric == ADVERSARIAL_CORRELATION_ROW.name for c in contrasts):
        caption += (
            f" Below: {REFERENCE} minus each method on the same examples, with its 95 % "
            "interval (what the verdict rests on); below the dashed 0 the reference has the "
            "lower correlation, as the paper claims; filled points: Holm-adjusted p < "
            f"{ALPHA:g}, hollow: not separated."
        )
    return FigureResult(path, caption, tuple(notes))


def _rows(summary: Sequence[SummaryRow], metric: str) -> list[SummaryRow]:
    return [s for s in summary if s.metric == metric and s.method]


def seeds_words(rows: Sequence[SummaryRow]) -> str:
    """How many seeds the rows' means are over: ``"1 seed"``, ``"3 seeds"`` or ``"1-3
    seeds"``."""
    counts = sorted({s.n_seeds for s in rows if s.n_seeds} or {s.n_seeds_total for s in rows})
    if not counts:
        return "the seeds"
    if len(counts) == 1:
        return f"{counts[0]} seed" + ("" if counts[0] == 1 else "s")
    return f"{counts[0]}-{counts[-1]} seeds"
