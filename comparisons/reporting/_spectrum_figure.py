"""The iFIM eigenvalue spectrum per (dataset, model): the normalised spectrum
lambda_i / sum_j lambda_j (mean and spread over images) and a histogram of lambda_1."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from comparisons.paper import REFERENCE
from comparisons.reporting._figure_output import FigureResult, save_figure
from comparisons.run_folder import RunContents

#: The method whose example files hold the iFIM's eigenvalues.
_METHOD = REFERENCE


def collect_eigenvalues(run: RunContents) -> tuple[dict[tuple[str, str], np.ndarray], list[str]]:
    """Per (dataset, model), the ``eigenvalues`` (N, R) of every seed's ifim-sensitive file,
    stacked (N summed over seeds), each row sorted descending; and notes on what was missing."""
    found: dict[tuple[str, str], list[np.ndarray]] = {}
    notes = []
    for example in run.examples:
        if example.method != _METHOD:
            continue
        values = example.load().get("eigenvalues")
        where = f"{example.dataset}/{example.model} seed {example.seed}"
        if not isinstance(values, torch.Tensor) or values.dim() != 2:
            notes.append(f"{where}: no eigenvalues (N_eval, R) in the ifim-sensitive file")
            continue
        found.setdefault((example.dataset, example.model), []).append(
            -np.sort(-values.to(torch.float64).numpy(), axis=1)
        )
    stacked: dict[tuple[str, str], np.ndarray] = {}
    for cell, arrays in found.items():
        widths = {a.shape[1] for a in arrays}
        if len(widths) != 1:
            notes.append(f"{cell[0]}/{cell[1]}: seeds disagree on R ({sorted(widths)}), skipped")
            continue
        stacked[cell] = np.concatenate(arrays, axis=0)
    return stacked, notes


def spectrum_figure(eigenvalues: Mapping[tuple[str, str], np.ndarray]) -> tuple[Figure, list[str]]:
    """Left: mean of lambda_i / sum lambda over images with a nonzero spectrum, band = ±1 std
    (clipped to [0, 1]). Right: histogram of lambda_1 > 0 on log-spaced bins."""
    notes = []
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = figure.subplots(1, 2)
    positives = []
    for (dataset, model), values in eigenvalues.items():
        label = f"{dataset} / {model}"
        totals = values.sum(axis=1)
        nonzero = totals > 0
        if (~nonzero).any():
            notes.append(
                f"{label}: {int((~nonzero).sum())} of {len(values)} images have a zero spectrum "
                "(saturated softmax, F = 0), left out of both panels"
            )
        if nonzero.any():
            share = values[nonzero] / totals[nonzero, None]
            mean, std = share.mean(axis=0), share.std(axis=0)
            index = np.arange(1, share.shape[1] + 1)
            (line,) = left.plot(index, mean, marker="o", markersize=3, label=label)
            left.fill_between(
                index,
                np.clip(mean - std, 0, 1),
                np.clip(mean + std, 0, 1),
                color=line.get_color(),
                alpha=0.2,
            )
            positives.append((label, values[nonzero, 0], line.get_color()))
    rank = max((v.shape[1] for v in eigenvalues.values()), default=1)
    left.set_xlim(0.5, rank + 0.5)  # the index i is an integer: 1..R, never 1.5
    if rank <= 20:
        left.set_xticks(np.arange(1, rank + 1))
    else:
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
    if rank == 1:
        left.text(
            0.5,
            0.08,
            "R = 1 (two classes): one eigenvalue per image, its share is 1",
            transform=left.transAxes,
            ha="center",
            fontsize=7,
        )
    left.set_xlabel("i", fontsize=8)
    left.set_ylabel(r"$\lambda_i\ /\ \Sigma_j\,\lambda_j$", fontsize=8)
    left.set_ylim(0.0, 1.05)  # a share of the spectrum
    left.set_title("normalised iFIM spectrum (mean ± std over images)", fontsize=9)
    left.legend(fontsize=7)
    if positives:
        everything = np.concatenate([p[1] for p in positives])
        low, high = np.log10(everything.min()), np.log10(everything.max())
        bins = np.logspace(low - 0.05, high + 0.05, 30)
        for label, top, color in positives:
            right.hist(top, bins=bins, histtype="step", color=color, label=label)
        right.set_xscale("log")
        right.legend(fontsize=7)
    right.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of images
    right.set_xlabel(r"$\lambda_1$", fontsize=8)
    right.set_ylabel("images", fontsize=8)
    right.set_title(r"largest eigenvalue $\lambda_1$", fontsize=9)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    return figure, notes


def write_spectrum(run: RunContents, path: Path) -> FigureResult:
    """The spectrum figure from the run's ifim-sensitive example files."""
    eigenvalues, notes = collect_eigenvalues(run)
    if not eigenvalues:
        notes.append("no ifim-sensitive eigenvalues in the run: spectrum not drawn")
        return FigureResult(None, "", tuple(notes))
    figure, more = spectrum_figure(eigenvalues)
    save_figure(figure, path)
    ranks = ", ".join(
        f"{d}/{m}: R = {v.shape[1]}, {v.shape[0]} images" for (d, m), v in eigenvalues.items()
    )
    caption = (
        "Eigenvalues of the iFIM (eqs. 7-9) of every evaluated test image, all seeds pooled. "
        "The rank R is at most C - 1 for C classes (the probability-weighted class gradients "
        "sum to zero, so K sqrt(p) = 0), so each image has at most C - 1 nonzero eigenvalues; "
        f"{ranks}. Left: lambda_i / sum_j lambda_j, mean ± std over images; right: histogram "
        "of lambda_1 on a log scale."
    )
    return FigureResult(path, caption, tuple(notes + more))
