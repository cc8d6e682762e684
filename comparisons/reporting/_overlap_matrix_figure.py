"""The model-pair matrices per dataset: trained models x trained models, iFIM subspace overlap
and S(x) map correlation, from the rows of the model-pair stage."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from comparisons.metrics import MAP_CORRELATION_ROW, SUBSPACE_OVERLAP_ROW
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.reporting._model_pairs_report import PairRow
from comparisons.run_folder import GroupKey
from comparisons.statistics import unique

#: (metric, colour limits, colormap, title) of the two panels.
_PANELS: tuple[tuple[str, tuple[float, float], str, str], ...] = (
    (
        SUBSPACE_OVERLAP_ROW.name,
        (0.0, 1.0),
        "viridis",
        "iFIM subspace overlap\nmean cos² θ of U_K",
    ),
    (MAP_CORRELATION_ROW.name, (-1.0, 1.0), "RdBu_r", "S(x) map correlation\n(Pearson)"),
)


def matrix_groups(pairs: Sequence[PairRow], model_order: Sequence[str] = ()) -> list[GroupKey]:
    """The trained models of the pairs: by model (``model_order`` first), then seed."""
    groups = {g for p in pairs for g in (p.pair.a, p.pair.b)}
    models = unique([*model_order, *sorted(g.model for g in groups)])
    return sorted(groups, key=lambda g: (models.index(g.model), g.seed))


def pair_matrix(
    pairs: Sequence[PairRow], groups: Sequence[GroupKey], method: str, metric: str
) -> np.ndarray:
    """(G, G) symmetric matrix of one method's metric over the pairs of ``groups``; 1 on the
    diagonal (a model against itself, by definition: identical subspaces and maps), NaN
    where a pair has no value."""
    position = {g: i for i, g in enumerate(groups)}
    matrix = np.full((len(groups), len(groups)), math.nan)
    np.fill_diagonal(matrix, 1.0)
    for p in pairs:
        if (p.row.method, p.row.metric) != (method, metric):
            continue
        i, j = position[p.pair.a], position[p.pair.b]
        matrix[i, j] = matrix[j, i] = p.row.value
    return matrix


def overlap_matrix_figure(
    pairs: Sequence[PairRow], dataset: str, method: str, model_order: Sequence[str] = ()
) -> Figure:
    """Two heat maps of the dataset's trained models: ``method``'s subspace overlap and its
    map correlation, each value written in its cell (the diagonal, 1 by definition, in
    italics)."""
    rows = [p for p in pairs if p.pair.dataset == dataset]
    groups = matrix_groups(rows, model_order)
    labels = [f"{g.model}\nseed {g.seed}" for g in groups]
    size = max(3.0, 0.75 * len(groups) + 1.6)
    figure = Figure(figsize=(2 * size + 0.8, size + 0.4), layout="constrained")
    axes = figure.subplots(1, len(_PANELS), squeeze=False)[0]
    for ax, (metric, (low, high), cmap, title) in zip(axes, _PANELS, strict=True):
        matrix = pair_matrix(rows, groups, method, metric)
        image = ax.imshow(matrix, vmin=low, vmax=high, cmap=cmap)
        for i in range(len(groups)):
            for j in range(len(groups)):
                value = matrix[i, j]
                text = "n/a" if math.isnan(value) else f"{value:.2g}"
                colour = "white" if _dark(value, low, high, cmap) else "k"
                style = "italic" if i == j else "normal"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour, style=style)
        ax.set_xticks(range(len(groups)), labels, fontsize=7, rotation=90)
        ax.set_yticks(range(len(groups)), labels, fontsize=7)
        ax.set_title(f"{method}: {title}", fontsize=8)
        figure.colorbar(image, ax=ax, shrink=0.8)
    figure.suptitle(f"{dataset}: pairs of trained models on the same test images", fontsize=9)
    return figure


def _dark(value: float, low: float, high: float, cmap: str) -> bool:
    """Whether a cell's colour is dark enough for white text."""
    if math.isnan(value):
        return False
    share = (value - low) / (high - low)
    return share < 0.55 if cmap == "viridis" else abs(share - 0.5) > 0.35


def write_overlap_matrices(
    pairs: Sequence[PairRow], directory: Path, model_order: Sequence[str] = ()
) -> list[FigureResult]:
    """One figure per dataset with subspace-overlap rows, ``model_pairs__<dataset>.png``."""
    results = []
    for dataset in unique(p.pair.dataset for p in pairs):
        rows = [p for p in pairs if p.pair.dataset == dataset]
        methods = unique(p.row.method for p in rows if p.row.metric == SUBSPACE_OVERLAP_ROW.name)
        if not methods:
            continue
        method = methods[0]
        path = directory / f"model_pairs__{re.sub(r'[^A-Za-z0-9._+-]', '_', dataset)}.png"
        save_figure(overlap_matrix_figure(rows, dataset, method, model_order), path)
        caption = (
            f"{dataset}: every pair of trained models (architecture, seed) compared on the same "
            f"evaluated test images. Left: the mean over images of the cos² overlap of the two "
            f"models' iFIM eigenspaces U_K ({method}; principal angles, the mean cos² over the "
            "smaller K; two random K-dimensional subspaces of R^d give about K/d). Right: the "
            "mean Pearson correlation of their S(x) maps. The diagonal is 1 by definition (a "
            "model against itself)."
        )
        results.append(FigureResult(path, caption))
    return results
