"""The model-pair comparison in the report: its rows apart, one table per dataset, a section.

The rows of the model-pair stage (:mod:`comparisons.run._model_pairs`: ``model = "<a>|<b>"``,
``setting = "seeds=<i>|<j>"``) compare two trained models, not methods on one model, so the
report keeps them out of the per-(dataset, model) tables, tests and ranks
(:func:`split_pair_rows`) and gives them their own section: per dataset a table of the
mean over pairs of each method's map correlation and of the iFIM subspace overlap, by kind
of pair (two seeds of one architecture, or two architectures), and the matrix figures of
:mod:`comparisons.reporting._overlap_matrix_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from comparisons.metrics import PAIR_ROWS
from comparisons.reporting._exports import ReportTable
from comparisons.reporting._figure_output import FigureResult
from comparisons.run_folder import PairKey, ResultRow
from comparisons.statistics import format_mean_std, order_methods, unique

#: The metrics of the stage, in table order.
PAIR_METRICS: tuple[str, ...] = tuple(row.name for row in PAIR_ROWS)


@dataclass(frozen=True)
class PairRow:
    """A result row of the model-pair stage with its pair."""

    pair: PairKey
    row: ResultRow


def split_pair_rows(rows: Iterable[ResultRow]) -> tuple[list[ResultRow], list[PairRow]]:
    """The rows of cells and models, and the rows of the model-pair stage."""
    others, pairs = [], []
    for row in rows:
        pair = PairKey.from_row(row.dataset, row.model, row.setting)
        if pair is None:
            others.append(row)
        else:
            pairs.append(PairRow(pair, row))
    return others, pairs


def pair_kind(pair: PairKey) -> str:
    """``"<model> seeds"`` for two seeds of one architecture, ``"<a> vs <b>"`` otherwise."""
    return _kind(pair.a.model, pair.b.model)


def _kind(a: str, b: str) -> str:
    return f"{a} seeds" if a == b else f"{a} vs {b}"


def _kinds(pairs: Sequence[PairRow], model_order: Sequence[str]) -> list[str]:
    """Same-architecture kinds first, then the others, each in ``model_order``."""
    found = {(p.pair.a.model, p.pair.b.model) for p in pairs}
    models = unique([*model_order, *sorted(m for ab in found for m in ab)])
    ordered = sorted(
        found, key=lambda ab: (ab[0] != ab[1], models.index(ab[0]), models.index(ab[1]))
    )
    return unique(_kind(a, b) for a, b in ordered)


def model_pair_table(
    pairs: Sequence[PairRow], dataset: str, model_order: Sequence[str] = ()
) -> ReportTable | None:
    """The dataset's table: one row per (method, metric), one column per kind of pair, each
    cell the mean ± sample std over the pairs of that kind of the pairs' values (each a mean
    over the evaluated images); ``None`` when the dataset has no pair rows.
    """
    rows = [p for p in pairs if p.pair.dataset == dataset]
    if not rows:
        return None
    kinds = _kinds(rows, model_order)
    counts = {k: len({p.pair for p in rows if pair_kind(p.pair) == k}) for k in kinds}
    header = (
        "method",
        "metric",
        *(f"{k} ({counts[k]} pair{'s' if counts[k] != 1 else ''})" for k in kinds),
    )
    body = []
    for method in order_methods(p.row.method for p in rows):
        for metric in PAIR_METRICS:
            cells = []
            for kind in kinds:
                values = np.array(
                    [
                        p.row.value
                        for p in rows
                        if (p.row.method, p.row.metric) == (method, metric)
                        and pair_kind(p.pair) == kind
                    ],
                    dtype=np.float64,
                )
                cells.append(_mean_std(values))
            if any(cell != "—" for cell in cells):
                body.append((method, metric, *cells))
    return ReportTable(
        name=f"model_pairs__{_safe(dataset)}",
        title=f"{dataset}: agreement of pairs of models on the same test images",
        header=header,
        rows=tuple(body),
    )


def _mean_std(values: np.ndarray) -> str:
    if values.size == 0:
        return "—"
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "n/a"
    std = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
    return format_mean_std(float(np.mean(finite)), std)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._+-" else "_" for c in name)


def model_pair_tables(
    pairs: Sequence[PairRow], model_order: Sequence[str] = ()
) -> list[ReportTable]:
    """:func:`model_pair_table` of every dataset with pair rows, in order."""
    tables = [
        model_pair_table(pairs, d, model_order) for d in unique(p.pair.dataset for p in pairs)
    ]
    return [t for t in tables if t is not None]


def model_pair_section(
    tables: Sequence[ReportTable],
    figures: Sequence[FigureResult],
    embed: Callable[[FigureResult, str], list[str]],
) -> list[str]:
    """The report's section on the model-pair stage (markdown lines)."""
    lines = ["## Across models: iFIM subspaces and map agreement", ""]
    if not tables:
        return [
            *lines,
            "_No dataset has two trained models (two seeds or two architectures): no "
            "model-pair comparison._",
            "",
        ]
    lines += [
        "Every two models trained on a dataset, compared on the same evaluated test images: "
        "`subspace-overlap` is the mean cos² of the principal angles between the two "
        "models' iFIM eigenspaces U_K at each image (1: the same directions of local "
        "sensitivity, 0: orthogonal ones; two random K-dimensional subspaces of R^d give "
        "about K/d), `map-correlation` the Pearson correlation of the two models' maps of one "
        "method (for ifim-sensitive the S(x) maps). Each pair's value is a mean over the "
        "images; each cell below is the mean ± sample std over the pairs of that kind. For "
        "the baselines the map correlation across seeds of one architecture is the "
        "reference: how much a method's maps move when only the random initialisation "
        "changes. None of these is ranked: agreement is not faithfulness. Every pair's "
        "numbers are in `results.csv` (model `<a>|<b>`, setting `seeds=<i>|<j>`).",
        "",
    ]
    for result in figures:
        lines += embed(result, "model-pair matrix")
    for table in tables:
        lines += [f"#### {table.title}", "", table.markdown(), ""]
    return lines
