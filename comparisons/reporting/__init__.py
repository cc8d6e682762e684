"""Tables, figures and the report of a harness run folder.

:func:`write_report` turns a run folder (``results.json``, ``methods.json``,
``config.toml``, ``environment.json``, ``examples/*.pt``) into ``summary.md``,
``summary.csv``, ``paired.csv``, ``ranks.csv``, ``seed_intervals.csv``, ``tables/`` (markdown,
LaTeX, CSV), ``figures/`` (PNG, PDF, SVG) and ``report.md``. The pieces are public too:
:func:`summarize` aggregates over seeds and :func:`summary_intervals` adds the bootstrap
intervals, :func:`paired_comparisons` tests ``ifim-sensitive`` against every method,
:func:`claim_verdicts` judges the paper's claims, :func:`rank_analyses` ranks the methods,
the ``*_table`` functions write markdown, the ``write_*`` functions draw one figure each.
"""

from comparisons.reporting._bar_figures import (
    grouped_bar_figure,
    write_adversarial_bars,
    write_f1_difference_bars,
    write_f1_ratio_bars,
)
from comparisons.reporting._cost_figure import cost_figure, cost_matrix, write_cost
from comparisons.reporting._critical_difference_figure import (
    critical_difference_figure,
    write_critical_difference,
)
from comparisons.reporting._exports import (
    TABLE_FORMATS,
    ReportTable,
    TableFormat,
    latex_cell,
    markdown_table,
    write_tables,
)
from comparisons.reporting._figure_output import DPI, FigureResult
from comparisons.reporting._map_grid_figure import (
    bounding_box,
    map_grid_figure,
    select_examples,
    write_map_grid,
)
from comparisons.reporting._markdown_tables import (
    detail_metrics_table,
    extra_metrics_tables,
    model_facts_table,
    paper_metrics_table,
    precision_recall_table,
    summary_markdown,
    summary_report_tables,
)
from comparisons.reporting._metric_directions import (
    MetricDirection,
    best_indices,
    metric_direction,
)
from comparisons.reporting._number_format import format_mean_std, format_significant
from comparisons.reporting._paired import (
    PAIRED_COLUMNS,
    REFERENCE,
    PairedComparison,
    compare_pair,
    holm_adjusted,
    paired_comparisons,
    paired_csv,
)
from comparisons.reporting._ranks import (
    RankAnalysis,
    friedman_statistic,
    rank_analyses,
    rank_analysis,
    ranks_csv,
)
from comparisons.reporting._reading import (
    Finding,
    compare_method,
    reading_findings,
    reading_markdown,
)
from comparisons.reporting._report import write_report
from comparisons.reporting._run_report import report_run_folder
from comparisons.reporting._spectrum_figure import collect_eigenvalues, write_spectrum
from comparisons.reporting._statistics import (
    CONFIDENCE,
    N_RESAMPLES,
    Interval,
    example_interval,
    seed_interval,
    seeded_rng,
    two_level_draws,
    two_level_interval,
)
from comparisons.reporting._statistics_report import RunStatistics, run_statistics
from comparisons.reporting._statistics_samples import RowSample, RunSamples, f1_scores
from comparisons.reporting._statistics_summary import (
    RecomputationCheck,
    recomputation_check,
    seed_intervals,
    summary_intervals,
)
from comparisons.reporting._summary import SUMMARY_COLUMNS, SummaryRow, summarize, summary_csv
from comparisons.reporting._timing_figure import write_timing
from comparisons.reporting._verdicts import CLAIMS, ClaimVerdict, SettingVerdict, claim_verdicts
from comparisons.run_folder import (
    RESULT_COLUMNS,
    ExampleFile,
    ResultRow,
    RunContents,
    load_results,
    parse_example_name,
    read_run_contents,
    rows_from_records,
)

__all__ = [
    "CLAIMS",
    "CONFIDENCE",
    "DPI",
    "N_RESAMPLES",
    "PAIRED_COLUMNS",
    "REFERENCE",
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "TABLE_FORMATS",
    "ClaimVerdict",
    "ExampleFile",
    "FigureResult",
    "Finding",
    "Interval",
    "MetricDirection",
    "PairedComparison",
    "RankAnalysis",
    "RecomputationCheck",
    "ReportTable",
    "ResultRow",
    "RowSample",
    "RunContents",
    "RunSamples",
    "RunStatistics",
    "SettingVerdict",
    "SummaryRow",
    "TableFormat",
    "best_indices",
    "bounding_box",
    "claim_verdicts",
    "collect_eigenvalues",
    "compare_method",
    "compare_pair",
    "cost_figure",
    "cost_matrix",
    "critical_difference_figure",
    "detail_metrics_table",
    "example_interval",
    "extra_metrics_tables",
    "f1_scores",
    "format_mean_std",
    "format_significant",
    "friedman_statistic",
    "grouped_bar_figure",
    "holm_adjusted",
    "latex_cell",
    "load_results",
    "map_grid_figure",
    "markdown_table",
    "metric_direction",
    "model_facts_table",
    "paired_comparisons",
    "paired_csv",
    "paper_metrics_table",
    "parse_example_name",
    "precision_recall_table",
    "rank_analyses",
    "rank_analysis",
    "ranks_csv",
    "read_run_contents",
    "reading_findings",
    "reading_markdown",
    "recomputation_check",
    "report_run_folder",
    "rows_from_records",
    "run_statistics",
    "seed_interval",
    "seed_intervals",
    "seeded_rng",
    "select_examples",
    "summarize",
    "summary_csv",
    "summary_intervals",
    "summary_markdown",
    "summary_report_tables",
    "two_level_draws",
    "two_level_interval",
    "write_adversarial_bars",
    "write_cost",
    "write_critical_difference",
    "write_f1_difference_bars",
    "write_f1_ratio_bars",
    "write_map_grid",
    "write_report",
    "write_spectrum",
    "write_tables",
    "write_timing",
]
