"""Every figure of the report, drawn once into ``figures/``: one typed set the report embeds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from comparisons.paper import RANKED_METRICS
from comparisons.reporting._bar_figures import (
    write_adversarial_bars,
    write_f1_difference_bars,
    write_f1_ratio_bars,
)
from comparisons.reporting._cost_figure import write_cost
from comparisons.reporting._critical_difference_figure import write_critical_difference
from comparisons.reporting._family_ranks import (
    write_family_critical_differences,
    write_family_ranks_figure,
)
from comparisons.reporting._figure_output import FigureResult
from comparisons.reporting._map_grid_figure import write_map_grid
from comparisons.reporting._model_pairs_report import PairRow
from comparisons.reporting._overlap_matrix_figure import write_overlap_matrices
from comparisons.reporting._spectrum_figure import write_spectrum
from comparisons.reporting._timing_figure import write_timing
from comparisons.run_folder import RunContents
from comparisons.statistics import RunStatistics, dataset_models, summarize

#: Rows (test images) of each map grid.
GRID_ROWS = 4


@dataclass(frozen=True)
class ReportFigures:
    """The report's figures, each written or with the reason it was not.

    Attributes:
        map_grids: One map grid per (dataset, model) with example files (Figs. 1 and 2).
        f1_ratio, f1_difference, adversarial: The paper's Figs. 3 and 4, dF1 beside Fig. 3.
        spectrum: The iFIM eigenvalue spectrum.
        timing: The attribution time per image.
        cost: Seconds per method and metric.
        model_pairs: One matrix figure per dataset with model-pair rows.
        ranks: The method x family rank figure, the critical-difference diagrams of the
            paper's metrics, then one per metric family of the others.
    """

    map_grids: tuple[FigureResult, ...]
    f1_ratio: FigureResult
    f1_difference: FigureResult
    adversarial: FigureResult
    spectrum: FigureResult
    timing: FigureResult
    cost: FigureResult
    model_pairs: tuple[FigureResult, ...]
    ranks: tuple[FigureResult, ...]

    def __iter__(self) -> Iterator[FigureResult]:
        """Every figure, in the order of the fields."""
        for field in fields(self):
            value = getattr(self, field.name)
            yield from value if isinstance(value, tuple) else (value,)

    def notes(self) -> list[str]:
        """What was skipped and why, over every figure, in field order."""
        return [note for figure in self for note in figure.notes]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _first_seed(run: RunContents, dataset: str, model: str) -> int | None:
    """The first configured seed with example files, else the smallest."""
    seeds = sorted({e.seed for e in run.examples if (e.dataset, e.model) == (dataset, model)})
    if not seeds:
        return None
    configured = run.config.seeds if run.config is not None else ()
    ordered = [s for s in configured if s in seeds]
    return (ordered or seeds)[0]


def grid_dataset_models(run: RunContents) -> list[tuple[str, str]]:
    """The (dataset, model) of the rows or of example files, the rows' order first."""
    found = dataset_models(summarize(run.rows)) + [(e.dataset, e.model) for e in run.examples]
    return list(dict.fromkeys(found))


def _map_grids(run: RunContents, directory: Path) -> tuple[FigureResult, ...]:
    grids = []
    for dataset, model in grid_dataset_models(run):
        seed = _first_seed(run, dataset, model)
        if seed is None:
            continue
        path = directory / f"maps__{_safe(dataset)}__{_safe(model)}.png"
        grids.append(write_map_grid(run, dataset, model, seed, path, GRID_ROWS))
    return tuple(grids)


def draw_report_figures(
    run: RunContents,
    statistics: RunStatistics,
    pairs: Sequence[PairRow],
    model_order: Sequence[str],
    directory: Path,
) -> ReportFigures:
    """Draw every figure of the report into ``directory`` (created if missing)."""
    directory.mkdir(exist_ok=True)
    summary = statistics.summary
    map_grids = _map_grids(run, directory)
    return ReportFigures(
        map_grids=map_grids,
        f1_ratio=write_f1_ratio_bars(summary, directory / "f1_ratio.png"),
        f1_difference=write_f1_difference_bars(summary, directory / "f1_difference.png"),
        adversarial=write_adversarial_bars(
            summary, directory / "adversarial_correlation.png", statistics.contrasts
        ),
        spectrum=write_spectrum(run, directory / "eigenvalue_spectrum.png"),
        timing=write_timing(summary, directory / "seconds_per_image.png"),
        cost=write_cost(run.rows, directory / "metric_seconds.png"),
        model_pairs=tuple(write_overlap_matrices(pairs, directory, model_order)),
        ranks=(
            write_family_ranks_figure(statistics.analyses, directory / "family_ranks.png"),
            write_critical_difference(
                statistics.analyses, directory / "critical_difference.png", RANKED_METRICS
            ),
            *write_family_critical_differences(
                [a for a in statistics.analyses if a.metric not in RANKED_METRICS], directory
            ),
        ),
    )
