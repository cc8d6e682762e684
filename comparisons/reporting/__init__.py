"""Tables, figures and the report of a harness run folder.

:func:`write_report` turns a run folder (``results.json``, ``methods.json``,
``config.toml``, ``environment.json``, ``examples/*.pt``) into ``summary.md``,
``summary.csv``, ``figures/*.png`` and ``report.md``. The pieces are public too:
:func:`summarize` aggregates over seeds, the ``*_table`` functions write markdown, the
``write_*`` functions draw one figure each.
"""

from comparisons.reporting._bar_figures import (
    grouped_bar_figure,
    write_adversarial_bars,
    write_f1_ratio_bars,
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
    markdown_table,
    model_facts_table,
    paper_metrics_table,
    precision_recall_table,
    summary_markdown,
)
from comparisons.reporting._metric_directions import (
    MetricDirection,
    best_indices,
    metric_direction,
)
from comparisons.reporting._number_format import format_mean_std, format_significant
from comparisons.reporting._reading import (
    Finding,
    compare_method,
    reading_findings,
    reading_markdown,
)
from comparisons.reporting._report import write_report
from comparisons.reporting._spectrum_figure import collect_eigenvalues, write_spectrum
from comparisons.reporting._summary import SUMMARY_COLUMNS, SummaryRow, summarize, summary_csv
from comparisons.reporting._timing_figure import write_timing
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
    "DPI",
    "RESULT_COLUMNS",
    "SUMMARY_COLUMNS",
    "ExampleFile",
    "FigureResult",
    "Finding",
    "MetricDirection",
    "ResultRow",
    "RunContents",
    "SummaryRow",
    "best_indices",
    "bounding_box",
    "collect_eigenvalues",
    "compare_method",
    "detail_metrics_table",
    "extra_metrics_tables",
    "format_mean_std",
    "format_significant",
    "grouped_bar_figure",
    "load_results",
    "map_grid_figure",
    "markdown_table",
    "metric_direction",
    "model_facts_table",
    "paper_metrics_table",
    "parse_example_name",
    "precision_recall_table",
    "read_run_contents",
    "reading_findings",
    "reading_markdown",
    "rows_from_records",
    "select_examples",
    "summarize",
    "summary_csv",
    "summary_markdown",
    "write_adversarial_bars",
    "write_f1_ratio_bars",
    "write_map_grid",
    "write_report",
    "write_spectrum",
    "write_timing",
]
