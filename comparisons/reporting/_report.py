"""``write_report``: a run folder in; ``summary.md``, ``summary.csv``, ``paired.csv``,
``ranks.csv``, ``seed_intervals.csv``, ``tables/`` (markdown, LaTeX, CSV), ``figures/`` (PNG,
PDF, SVG) and ``report.md`` out."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from comparisons._atomic import write_bytes, write_text
from comparisons.reporting._exports import (
    TABLE_FORMATS,
    ReportTable,
    check_formats,
    write_tables,
)
from comparisons.reporting._figure_output import FigureResult
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
    PairRow,
    model_pair_section,
    model_pair_tables,
    split_pair_rows,
)
from comparisons.reporting._per_example_export import run_per_example_bytes
from comparisons.reporting._report_figures import ReportFigures, draw_report_figures
from comparisons.reporting._report_section import ReportSection
from comparisons.reporting._robust_report import robust_section
from comparisons.reporting._run_description import (
    environment_markdown,
    given_weights_markdown,
    methods_markdown,
    metrics_without_rows,
    run_markdown,
)
from comparisons.reporting._shortcut_report import shortcut_section
from comparisons.reporting._statistics_report import (
    contrasts_section,
    coverage_banner,
    coverage_line,
    failed_section,
    ranks_section,
    reading_markdown,
    statistics_section,
    verdicts_section,
    write_statistics_files,
)
from comparisons.reporting._statistics_tables import statistics_tables
from comparisons.run_folder import RunContents, read_run_contents
from comparisons.statistics import (
    RunCoverage,
    RunStatistics,
    SummaryRow,
    dataset_models,
    reading_findings,
    run_statistics,
    summary_csv,
    unique,
)

logger = logging.getLogger(__name__)

#: Embeds a figure in the report: (figure, alt text) -> markdown lines.
Embed = Callable[[FigureResult, str], list[str]]

_INTRODUCTION = (
    "The iFIM decomposition (Sengupta & Anastasio) against the baseline attribution "
    "methods. Tables: mean over seeds [95 % bootstrap interval: seeds, then examples "
    "within each seed] (3 significant digits; mean ± sample std over seeds where a row "
    "has no interval, the mean alone for one such seed), **bold** = best mean per column "
    "(↑ higher, ↓ lower, →1 closest to 1; an F1-ratio column with an infinite mean is "
    "bolded by dF1); [k/N] = only k of N seeds had a value; † = the seeds' values "
    "summarise different numbers of examples. All tables are also in `summary.md` and "
    "in `tables/` as markdown, LaTeX (booktabs) and CSV; every group's numbers in "
    "`summary.csv`, every paired test in `paired.csv`; every figure also as PDF and SVG."
)


def _embed(result: FigureResult, run_dir: Path, alt: str) -> list[str]:
    if result.path is None:
        return [f"_{alt}: not drawn ({'; '.join(result.notes) or 'nothing to draw'})._", ""]
    relative = result.path.relative_to(run_dir).as_posix()
    return [f"![{alt}]({relative})", "", f"*{result.caption}*", ""]


def _section(title: str, table: str | None) -> list[str]:
    return [] if table is None else [f"#### {title}", "", table, ""]


def _introduction(run: RunContents, statistics: RunStatistics) -> list[str]:
    """The title, whether the run is partial, how to read the tables, what was run and
    where."""
    name = run.config.name if run.config is not None else run.path.name
    return [
        f"# Comparison report: {name}",
        "",
        *coverage_banner(statistics.coverage),
        _INTRODUCTION,
        "",
        "## What was run",
        "",
        coverage_line(statistics.coverage),
        run_markdown(run.config, run.rows),
        *failed_section(statistics.coverage),
        "## Environment",
        "",
        environment_markdown(run.environment),
    ]


def _classifiers_section(summary: Sequence[SummaryRow], run: RunContents) -> list[str]:
    """Table II and the models' facts, per dataset, and the hash of the weights of the
    models given with them."""
    lines = ["## Classifiers (Table II)", ""]
    any_model = False
    for dataset in unique(s.dataset for s in summary):
        for title, table in (
            ("test precision and recall per class", precision_recall_table(summary, dataset)),
            ("accuracy and training", model_facts_table(summary, dataset)),
            (
                "models given with their weights (not trained)",
                given_weights_markdown(run.model_records, dataset),
            ),
        ):
            if table is not None:
                any_model = True
                lines += [f"#### {dataset}: {title}", "", table, ""]
    if not any_model:
        lines += ["The run has no model-level rows.", ""]
    return lines


def _paper_metrics_section(
    summary: Sequence[SummaryRow], figures: ReportFigures, embed: Embed
) -> list[str]:
    """The paper's metrics per (dataset, model), and Figs. 3 and 4 with dF1."""
    lines = ["## The paper's metrics (Figs. 3 and 4)", ""]
    for dataset, model in dataset_models(summary):
        lines += _section(f"{dataset} / {model}", paper_metrics_table(summary, dataset, model))
    lines += embed(figures.f1_ratio, "F1 ratio")
    lines += embed(figures.f1_difference, "dF1")
    lines += embed(figures.adversarial, "adversarial correlation")
    return lines


def _maps_and_spectrum_sections(figures: ReportFigures, embed: Embed) -> list[str]:
    """The map grids (Figs. 1 and 2) and the iFIM spectrum."""
    lines = ["## Maps (Figs. 1 and 2)", ""]
    for result in figures.map_grids:
        lines += embed(result, "map grid")
    if not figures.map_grids:
        lines += ["_No example files: no map grids._", ""]
    lines += ["## The iFIM spectrum", ""]
    return lines + embed(figures.spectrum, "iFIM eigenvalue spectrum")


def _extra_metrics_section(summary: Sequence[SummaryRow]) -> list[str]:
    """Per (dataset, model) the parts of the paper's metrics and the other metrics."""
    lines = ["## Extra metrics", ""]
    for dataset, model in dataset_models(summary):
        lines += _section(
            f"{dataset} / {model}: parts of the paper's metrics",
            detail_metrics_table(summary, dataset, model),
        )
        for title, table in extra_metrics_tables(summary, dataset, model):
            lines += _section(f"{dataset} / {model}: {title}", table)
    return lines


def _time_sections(figures: ReportFigures, embed: Embed) -> list[str]:
    """The attribution time and where the run's time went."""
    lines = ["## Attribution time", ""]
    lines += embed(figures.timing, "seconds per image")
    lines += ["## Where the time went", ""]
    return lines + embed(figures.cost, "seconds per method and metric")


def _reading_section(summary: Sequence[SummaryRow], coverage: RunCoverage) -> list[str]:
    """Does the reference have the best mean of each claimed metric, as measured?"""
    partial = (
        []
        if coverage.complete
        else [
            f"_Provisional: from a partial run ({coverage.describe()}); the tally may change "
            "when the missing cells are run._",
            "",
        ]
    )
    return [
        "## Reading the results",
        "",
        *partial,
        "Computed from the means above (the direction as the paper reads it: F1 ratio "
        "higher, adversarial correlation lower).",
        "",
        reading_markdown(reading_findings(summary)),
    ]


def _missing_section(
    run: RunContents,
    statistics: RunStatistics,
    figures: ReportFigures,
    experiments: Sequence[ReportSection] = (),
) -> list[str]:
    """What was not drawn, not found or not used, and why."""
    notes = figures.notes() + [n for section in experiments for n in section.notes]
    notes += [f"`{m}` is not in the run folder." for m in run.missing]
    notes += metrics_without_rows(run.config, run.rows)
    notes += [f"Skipped {s}." for s in run.skipped]
    notes += [f"Per-example values not used: {p}." for p in statistics.problems]
    lines = ["## Not drawn or missing", ""]
    lines += [f"- {n}" for n in unique(notes)] if notes else ["Nothing: every part was drawn."]
    return [*lines, ""]


def _report_markdown(
    run: RunContents,
    statistics: RunStatistics,
    figures: ReportFigures,
    pair_tables: Sequence[ReportTable] = (),
    experiments: Sequence[ReportSection] = (),
) -> str:
    """The whole ``report.md``, section by section (``experiments``: the sections an
    experiment's rows add, after the model pairs)."""
    summary = statistics.summary

    def embed(result: FigureResult, alt: str) -> list[str]:
        return _embed(result, run.path, alt)

    lines = [
        *_introduction(run, statistics),
        *_classifiers_section(summary, run),
        *_paper_metrics_section(summary, figures, embed),
        *verdicts_section(statistics),
        *contrasts_section(statistics),
        *ranks_section(statistics, figures.ranks, embed),
        *_maps_and_spectrum_sections(figures, embed),
        *model_pair_section(pair_tables, figures.model_pairs, embed),
        *(line for section in experiments for line in section.lines),
        *_extra_metrics_section(summary),
        *_time_sections(figures, embed),
        *_reading_section(summary, statistics.coverage),
        *statistics_section(statistics),
        "## Methods",
        "",
        methods_markdown(run.methods, unique(r.method for r in run.rows)),
        *_missing_section(run, statistics, figures, experiments),
    ]
    if run.config_text:
        lines += ["## Appendix: config.toml", "", "```toml", run.config_text.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _write_data_files(run: RunContents, statistics: RunStatistics, run_dir: Path) -> None:
    """``summary.md``, ``summary.csv``, the statistics' CSV files and
    ``per_example.csv.gz``."""
    write_text(run_dir / "summary.md", summary_markdown(statistics.summary))
    write_text(run_dir / "summary.csv", summary_csv(statistics.summary))
    write_statistics_files(statistics, run_dir)
    if run.per_example:
        write_bytes(run_dir / "per_example.csv.gz", run_per_example_bytes(run))


def _experiment_sections(
    run: RunContents, statistics: RunStatistics, pairs: Sequence[PairRow], run_dir: Path
) -> list[ReportSection]:
    """The sections the run's data calls for: the shortcut experiment's (rows with
    ``cue-reliance``) and the robustness experiment's (a model trained adversarially beside
    the same architecture trained without)."""

    def embed(result: FigureResult, alt: str) -> list[str]:
        return _embed(result, run.path, alt)

    figures = run_dir / "figures"
    sections = (
        shortcut_section(run, statistics, figures, embed),
        robust_section(run, statistics, pairs, figures, embed),
    )
    return [s for s in sections if s is not None]


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
        >>> from comparisons.metrics import F1_RATIO_ROW
        >>> from comparisons.reporting import write_report
        >>> run = Path(tempfile.mkdtemp())
        >>> rows = [{"dataset": "d", "model": "m", "seed": s, "method": "saliency",
        ...          "metric": F1_RATIO_ROW.name, "setting": "alpha=0.01", "value": v, "n": 8}
        ...         for s, v in [(0, 1.2), (1, 1.4)]]
        >>> _ = (run / "results.json").write_text(json.dumps(rows))
        >>> write_report(run).name, (run / "figures" / "f1_ratio.png").is_file()
        ('report.md', True)
    """
    formats = check_formats(formats)
    run_dir = Path(run_dir)
    run = read_run_contents(run_dir)
    # The model-pair stage's rows compare two models, not methods on one: their own section.
    method_rows, pairs = split_pair_rows(run.rows)
    run = dataclasses.replace(run, rows=method_rows)
    model_order = [m.name for m in run.config.models] if run.config is not None else []
    pair_tables = model_pair_tables(pairs, model_order)
    statistics = run_statistics(run)
    _write_data_files(run, statistics, run_dir)
    figures = draw_report_figures(run, statistics, pairs, model_order, run_dir / "figures")
    experiments = _experiment_sections(run, statistics, pairs, run_dir)
    write_tables(
        [
            *summary_report_tables(statistics.summary),
            *statistics_tables(statistics),
            *pair_tables,
            *(table for section in experiments for table in section.tables),
        ],
        run_dir / "tables",
        formats,
    )
    report = run_dir / "report.md"
    write_text(report, _report_markdown(run, statistics, figures, pair_tables, experiments))
    logger.info("wrote %s", report)
    return report
