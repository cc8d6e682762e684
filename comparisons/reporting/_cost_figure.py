"""Where a run's time went: seconds per method and metric, summed over seeds, as a heat map
per (dataset, model), with the attribution time of the maps beside the metrics.

From the ``metric-seconds`` rows (one per metric and cell, setting ``metric=<name>``) and
``seconds-per-image`` x images (the timed maps of the evaluated images). Training is not
in it (``train-seconds`` rows, in the models' table)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from comparisons.metrics import HARNESS_METRICS, METRIC_SECONDS_ROW, SECONDS_PER_IMAGE_ROW
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.run_folder import ResultRow
from comparisons.statistics import dataset_models, format_significant, order_methods, unique

_METRIC_ROW = METRIC_SECONDS_ROW.name
_ATTRIBUTION = "attribution (maps)"


def cost_matrix(
    rows: Sequence[ResultRow], dataset: str, model: str
) -> tuple[list[str], list[str], np.ndarray]:
    """(methods, columns, seconds): seconds summed over seeds, NaN where nothing ran; the
    first column is the maps' attribution time."""
    mine = [r for r in rows if (r.dataset, r.model) == (dataset, model) and r.method]
    timed = [r for r in mine if r.metric == _METRIC_ROW]
    methods = order_methods(r.method for r in timed)
    found = unique(r.setting.removeprefix("metric=") for r in timed)
    metrics = [m for m in HARNESS_METRICS if m in found] + [
        m for m in found if m not in HARNESS_METRICS
    ]
    columns = [_ATTRIBUTION, *metrics]
    seconds = np.full((len(methods), len(columns)), np.nan)
    for r in mine:
        if r.method not in methods or not math.isfinite(r.value):
            continue
        if r.metric == SECONDS_PER_IMAGE_ROW.name:
            value, column = r.value * r.n, 0
        elif r.metric == _METRIC_ROW:
            value, column = r.value, 1 + metrics.index(r.setting.removeprefix("metric="))
        else:
            continue
        i = methods.index(r.method)
        seconds[i, column] = np.nansum([seconds[i, column], value])
    return methods, columns, seconds


def cost_figure(rows: Sequence[ResultRow]) -> Figure | None:
    """One heat map per (dataset, model) with ``metric-seconds`` rows; ``None`` without."""
    panels = [
        (d, m)
        for d, m in unique_pairs(rows)
        if any(r.metric == _METRIC_ROW and (r.dataset, r.model) == (d, m) for r in rows)
    ]
    if not panels:
        return None
    matrices = [cost_matrix(rows, d, m) for d, m in panels]
    positive = [v for _, _, s in matrices for v in s.flatten() if np.isfinite(v) and v > 0]
    norm = LogNorm(vmin=max(min(positive, default=1e-3), 1e-3), vmax=max(positive, default=1.0))
    width = max(6.0, 0.75 * max(len(c) for _, c, _ in matrices) + 2.5)
    height = sum(0.32 * len(m) + 1.6 for m, _, _ in matrices)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(
        len(panels), 1, squeeze=False, height_ratios=[len(m) + 4 for m, _, _ in matrices]
    )[:, 0]
    image = None
    for ax, (dataset, model), (methods, columns, seconds) in zip(
        axes, panels, matrices, strict=True
    ):
        shown = np.where(np.isfinite(seconds) & (seconds > 0), seconds, np.nan)
        image = ax.imshow(shown, norm=norm, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(seconds):
            if np.isfinite(value):
                shade = shown[i, j]
                dark = np.isfinite(shade) and norm(shade) < 0.6
                ax.text(
                    j,
                    i,
                    format_significant(value, 2),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if dark else "black",
                )
        ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=7)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        total = float(np.nansum(seconds))
        ax.set_title(
            f"{dataset} / {model}: {format_significant(total)} s in maps and metrics "
            "(summed over seeds)",
            fontsize=8,
        )
    if image is not None:
        figure.colorbar(image, ax=list(axes), label="seconds (log scale)", shrink=0.8)
    return figure


def unique_pairs(rows: Sequence[ResultRow]) -> list[tuple[str, str]]:
    """(dataset, model) pairs of the rows, in the tables' order."""
    from comparisons.statistics import summarize

    return dataset_models(summarize(r for r in rows if r.metric == _METRIC_ROW))


def write_cost(rows: Sequence[ResultRow], path: Path) -> FigureResult:
    """The cost heat map, or why it was not drawn."""
    figure = cost_figure(rows)
    if figure is None:
        return FigureResult(None, "", (f"no {_METRIC_ROW} rows: cost figure not drawn",))
    save_figure(figure, path)
    caption = (
        "Where the run's time went: seconds per method (rows) and metric (columns), summed "
        "over seeds, with the time of the maps themselves in the first column (log colour "
        "scale). The times depend on the machine and its load."
    )
    return FigureResult(path, caption)
