"""Attribution time per image per method (``seconds-per-image``), log scale."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from comparisons.metrics import SECONDS_PER_IMAGE_ROW
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.statistics import SummaryRow, dataset_models, order_methods

_METRIC = SECONDS_PER_IMAGE_ROW.name


def timing_figure(summary: Sequence[SummaryRow]) -> tuple[Figure | None, list[str]]:
    """x = methods, one bar per (dataset, model), log y; error bars = std over seeds (none for
    one seed, and the title says so), the lower one clipped so that it stays above 0.
    Nonpositive or undefined means are left out."""
    rows = [s for s in summary if s.metric == _METRIC and s.method]
    notes = []
    usable = []
    for s in rows:
        if np.isfinite(s.mean) and s.mean > 0:
            usable.append(s)
        else:
            notes.append(
                f"{s.dataset}/{s.model} {s.method}: {_METRIC} {s.mean} not drawn on a log scale"
            )
    if not usable:
        return None, [*notes, f"no positive {_METRIC} rows: timing figure not drawn"]
    methods = order_methods(s.method for s in usable)
    panels = dataset_models(usable)
    index = {(s.dataset, s.model, s.method): s for s in usable}
    figure = Figure(figsize=(max(5.0, 0.9 * len(methods) + 2), 3.8), layout="constrained")
    ax = figure.subplots()
    width = 0.8 / len(panels)
    for j, (dataset, model) in enumerate(panels):
        x = np.arange(len(methods)) + (j - (len(panels) - 1) / 2) * width
        present = [
            (i, index[dataset, model, m])
            for i, m in enumerate(methods)
            if (dataset, model, m) in index
        ]
        keep = [i for i, _ in present]
        means = np.array([e.mean for _, e in present])
        stds = np.array([e.std for _, e in present])  # NaN for one seed: no error bar
        lower = np.minimum(stds, means * 0.9)
        ax.bar(
            x[keep],
            means,
            width,
            yerr=np.vstack([lower, stds]),
            capsize=2,
            label=f"{dataset} / {model}",
            error_kw={"linewidth": 0.8},
        )
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(methods)), methods, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("seconds per image", fontsize=8)
    ax.set_title(f"attribution time per image ({_shown(usable)})", fontsize=9)
    ax.legend(fontsize=7)
    return figure, notes


def _shown(rows: Sequence[SummaryRow]) -> str:
    """What the bars and error bars are, from the seeds behind them: ``"1 seed"`` (no error
    bars), ``"mean ± std over 3 seeds"``, or for bars over different numbers of seeds
    ``"mean over 1-3 seeds, ± std where 2 or more"``."""
    counts = sorted({s.n_seeds for s in rows})
    if counts == [1]:
        return "1 seed"
    if len(counts) == 1:
        return f"mean ± std over {counts[0]} seeds"
    if counts[0] >= 2:
        return f"mean ± std over {counts[0]}-{counts[-1]} seeds"
    return f"mean over {counts[0]}-{counts[-1]} seeds, ± std where 2 or more"


def write_timing(summary: Sequence[SummaryRow], path: Path) -> FigureResult:
    """The timing figure, or why it was not drawn."""
    figure, notes = timing_figure(summary)
    if figure is None:
        return FigureResult(None, "", tuple(notes))
    save_figure(figure, path)
    rows = [s for s in summary if s.metric == _METRIC and s.method and s.mean > 0]
    caption = (
        f"Attribution time per image and method (seconds-per-image): {_shown(rows)} (error "
        "bars: the sample std, the lower one clipped to stay above 0 on the log scale; none "
        "for one seed). The times depend on the machine and its load; compare methods "
        "within one run only."
    )
    return FigureResult(path, caption, tuple(notes))
