"""``write_report``: a run folder in; ``summary.md``, ``summary.csv``, ``paired.csv``,
``ranks.csv``, ``seed_intervals.csv``, ``tables/`` (markdown, LaTeX, CSV), ``figures/`` (PNG,
PDF, SVG) and ``report.md`` out."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from comparisons._atomic import write_bytes, write_text
from comparisons.reporting._bar_figures import (
    write_adversarial_bars,
    write_f1_difference_bars,
    write_f1_ratio_bars,
)
from comparisons.reporting._cost_figure import write_cost
from comparisons.reporting._critical_difference_figure import (
    PAPER_RANKED,
    write_critical_difference,
)
from comparisons.reporting._exports import (
    TABLE_FORMATS,
    ReportTable,
    check_formats,
    write_tables,
)
from comparisons.reporting._figure_output import FigureResult
from comparisons.reporting._map_grid_figure import write_map_grid
from comparisons.reporting._markdown_tables import (
    detail_metrics_table,
    extra_metrics_tables,
    model_facts_table,
    paper_metrics_table,
    precision_recall_table,
    summary_markdown,
    summary_report_tables,
)
from comparisons.reporting._model_pairs_report import (
    model_pair_section,
    model_pair_tables,
    split_pair_rows,
)
from comparisons.reporting._overlap_matrix_figure import write_overlap_matrices
from comparisons.reporting._per_example_export import run_per_example_bytes
from comparisons.reporting._reading import reading_findings, reading_markdown
from comparisons.reporting._run_description import (
    environment_markdown,
    methods_markdown,
    metrics_without_rows,
    run_markdown,
)
from comparisons.reporting._spectrum_figure import write_spectrum
from comparisons.reporting._statistics_report import (
    RunStatistics,
    paired_section,
    ranks_section,
    run_statistics,
    statistics_section,
    statistics_tables,
    verdicts_section,
    write_statistics_files,
)
from comparisons.reporting._summary import SummaryRow, summarize, summary_csv
from comparisons.reporting._table_layout import cells, unique
from comparisons.reporting._timing_figure import write_timing
from comparisons.run_folder import RunContents, read_run_contents

logger = logging.getLogger(__name__)

#: Rows (test images) of each map grid.
GRID_ROWS = 4


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _first_seed(run: RunContents, dataset: str, model: str) -> int | None:
    seeds = sorted({e.seed for e in run.examples if (e.dataset, e.model) == (dataset, model)})
    if not seeds:
        return None
    configured = run.config.seeds if run.config is not None else ()
    ordered = [s for s in configured if s in seeds]
    return (ordered or seeds)[0]


def _embed(result: FigureResult, run_dir: Path, alt: str) -> list[str]:
    if result.path is None:
        return [f"_{alt}: not drawn ({'; '.join(result.notes) or 'nothing to draw'})._", ""]
    relative = result.path.relative_to(run_dir).as_posix()
    return [f"![{alt}]({relative})", "", f"*{result.caption}*", ""]


def _section(title: str, table: str | None) -> list[str]:
    return [] if table is None else [f"#### {title}", "", table, ""]


def _report_markdown(
    run: RunContents,
    statistics: RunStatistics,
    figures: dict[str, list[FigureResult]],
    pair_tables: Sequence[ReportTable] = (),
) -> str:
    summary: Sequence[SummaryRow] = statistics.summary
    name = run.config.name if run.config is not None else run.path.name
    datasets = unique(s.dataset for s in summary)
    lines = [
        f"# Comparison report: {name}",
        "",
        "The iFIM decomposition (Sengupta & Anastasio) against the baseline attribution "
        "methods. Tables: mean over seeds [95 % bootstrap interval: seeds, then examples "
        "within each seed] (3 significant digits; mean ± sample std over seeds where a row "
        "has no interval, the mean alone for one such seed), **bold** = best mean per column "
        "(↑ higher, ↓ lower, →1 closest to 1; an F1-ratio column with an infinite mean is "
        "bolded by dF1); [k/N] = only k of N seeds had a value; † = the seeds' values "
        "summarise different numbers of examples. All tables are also in `summary.md` and "
        "in `tables/` as markdown, LaTeX (booktabs) and CSV; every group's numbers in "
        "`summary.csv`, every paired test in `paired.csv`; every figure also as PDF and SVG.",
        "",
        "## What was run",
        "",
        run_markdown(run.config, run.rows),
        "## Environment",
        "",
        environment_markdown(run.environment),
        "## Classifiers (Table II)",
        "",
    ]
    any_model = False
    for dataset in datasets:
        for title, table in (
            ("test precision and recall per class", precision_recall_table(summary, dataset)),
            ("accuracy and training", model_facts_table(summary, dataset)),
        ):
            if table is not None:
                any_model = True
                lines += [f"#### {dataset}: {title}", "", table, ""]
    if not any_model:
        lines += ["The run has no model-level rows.", ""]
    lines += ["## The paper's metrics (Figs. 3 and 4)", ""]
    for dataset, model in cells(summary):
        lines += _section(f"{dataset} / {model}", paper_metrics_table(summary, dataset, model))
    lines += _embed(figures["f1"][0], run.path, "F1 ratio")
    lines += _embed(figures["f1-difference"][0], run.path, "dF1")
    lines += _embed(figures["adversarial"][0], run.path, "adversarial correlation")
    lines += verdicts_section(statistics)
    lines += paired_section(statistics)
    lines += ranks_section(
        statistics, figures["ranks"], lambda result, alt: _embed(result, run.path, alt)
    )
    lines += ["## Maps (Figs. 1 and 2)", ""]
    for result in figures["grids"]:
        lines += _embed(result, run.path, "map grid")
    if not figures["grids"]:
        lines += ["_No example files: no map grids._", ""]
    lines += ["## The iFIM spectrum", ""]
    lines += _embed(figures["spectrum"][0], run.path, "iFIM eigenvalue spectrum")
    lines += model_pair_section(
        pair_tables, figures.get("pairs", []), lambda result, alt: _embed(result, run.path, alt)
    )
    lines += ["## Extra metrics", ""]
    for dataset, model in cells(summary):
        lines += _section(
            f"{dataset} / {model}: parts of the paper's metrics",
            detail_metrics_table(summary, dataset, model),
        )
        for title, table in extra_metrics_tables(summary, dataset, model):
            lines += _section(f"{dataset} / {model}: {title}", table)
    lines += ["## Attribution time", ""]
    lines += _embed(figures["timing"][0], run.path, "seconds per image")
    lines += ["## Where the time went", ""]
    lines += _embed(figures["cost"][0], run.path, "seconds per method and metric")
    lines += [
        "## Reading the results",
        "",
        "Computed from the means above (the direction as the paper reads it: F1 ratio "
        "higher, adversarial correlation lower).",
        "",
        reading_markdown(reading_findings(summary)),
        *statistics_section(statistics),
        "## Methods",
        "",
        methods_markdown(run.methods, unique(r.method for r in run.rows)),
    ]
    notes = [n for results in figures.values() for r in results for n in r.notes]
    notes += [f"`{m}` is not in the run folder." for m in run.missing]
    notes += metrics_without_rows(run.config, run.rows)
    notes += [f"Skipped {s}." for s in run.skipped]
    notes += [f"Per-example values not used: {p}." for p in statistics.problems]
    lines += ["## Not drawn or missing", ""]
    lines += [f"- {n}" for n in unique(notes)] if notes else ["Nothing: every part was drawn."]
    lines.append("")
    if run.config_text:
        lines += ["## Appendix: config.toml", "", "```toml", run.config_text.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(run_dir: Path, formats: Sequence[str] = TABLE_FORMATS) -> Path:
    """Write ``summary.md``, ``summary.csv``, ``paired.csv``, ``ranks.csv``,
    ``seed_intervals.csv``, ``per_example.csv.gz`` (every cell's per-example values in one
    table), ``tables/*``, ``figures/*`` and ``report.md`` into a run folder,
    from its ``results.json``, ``methods.json``, ``config.toml``, ``environment.json``,
    ``examples/*.pt`` and ``per_example/*.csv.gz``.

    A pure function of the folder's inputs: a second call writes the same files. What cannot
    be drawn (a missing method, metric, mask file or a single seed's std) is skipped and
    listed under "Not drawn or missing", with the unreadable files it skipped. Every file is
    written atomically: a full disk leaves the previous ones intact.

    Args:
        run_dir: The run folder.
        formats: The formats every report table is also written in under ``tables/``:
            some of ``"markdown"``, ``"latex"`` (booktabs) and ``"csv"``.

    Returns:
        The path of ``report.md``.

    Raises:
        FileNotFoundError: No ``results.json``.
        ValueError: A malformed file, or an unknown format (checked before anything is
            written).

    Example:
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> from comparisons.reporting import write_report
        >>> run = Path(tempfile.mkdtemp())
        >>> rows = [{"dataset": "d", "model": "m", "seed": s, "method": "saliency",
        ...          "metric": "f1-ratio", "setting": "alpha=0.01", "value": v, "n": 8}
        ...         for s, v in [(0, 1.2), (1, 1.4)]]
        >>> _ = (run / "results.json").write_text(json.dumps(rows))
        >>> write_report(run).name, (run / "figures" / "f1_ratio.png").is_file()
        ('report.md', True)
    """
    formats = check_formats(formats)
    run_dir = Path(run_dir)
    run = read_run_contents(run_dir)
    # The model-pair stage's rows compare two models, not methods on one: their own section.
    cell_rows, pairs = split_pair_rows(run.rows)
    run = dataclasses.replace(run, rows=cell_rows)
    model_order = [m.name for m in run.config.models] if run.config is not None else []
    pair_tables = model_pair_tables(pairs, model_order)
    statistics = run_statistics(run)
    summary = statistics.summary
    write_text(run_dir / "summary.md", summary_markdown(summary))
    write_text(run_dir / "summary.csv", summary_csv(summary))
    write_statistics_files(statistics, run_dir)
    if run.per_example:
        write_bytes(run_dir / "per_example.csv.gz", run_per_example_bytes(run))
    figures_dir = run_dir / "figures"
    figures_dir.mkdir(exist_ok=True)
    grids = []
    for dataset, model in unique_cells(run):
        seed = _first_seed(run, dataset, model)
        if seed is None:
            continue
        path = figures_dir / f"maps__{_safe(dataset)}__{_safe(model)}.png"
        grids.append(write_map_grid(run, dataset, model, seed, path, GRID_ROWS))
    figures = {
        "grids": grids,
        "f1": [write_f1_ratio_bars(summary, figures_dir / "f1_ratio.png")],
        "f1-difference": [write_f1_difference_bars(summary, figures_dir / "f1_difference.png")],
        "adversarial": [
            write_adversarial_bars(summary, figures_dir / "adversarial_correlation.png")
        ],
        "spectrum": [write_spectrum(run, figures_dir / "eigenvalue_spectrum.png")],
        "timing": [write_timing(summary, figures_dir / "seconds_per_image.png")],
        "cost": [write_cost(run.rows, figures_dir / "metric_seconds.png")],
        "pairs": write_overlap_matrices(pairs, figures_dir, model_order),
        "ranks": [
            write_critical_difference(
                statistics.analyses, figures_dir / "critical_difference.png", PAPER_RANKED
            ),
            write_critical_difference(
                [a for a in statistics.analyses if a.metric not in PAPER_RANKED],
                figures_dir / "critical_difference_extra.png",
            ),
        ],
    }
    write_tables(
        [*summary_report_tables(summary), *statistics_tables(statistics), *pair_tables],
        run_dir / "tables",
        formats,
    )
    report = run_dir / "report.md"
    write_text(report, _report_markdown(run, statistics, figures, pair_tables))
    logger.info("wrote %s", report)
    return report


def unique_cells(run: RunContents) -> list[tuple[str, str]]:
    """(dataset, model) pairs with rows or example files, rows' order first."""
    pairs = cells(summarize(run.rows)) + [(e.dataset, e.model) for e in run.examples]
    return list(dict.fromkeys(pairs))
