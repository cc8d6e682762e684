"""The analysis of a run's rows, apart from its rendering: typed results the report draws.

From the result rows and the per-example files of a run folder:
:func:`summarize` aggregates over seeds and :func:`summary_intervals` adds the bootstrap
intervals (:mod:`._bootstrap`: over seeds, then the examples within each seed);
:func:`reference_contrasts` contrasts the paper's reference method with every other on
the same examples (paired tests); :func:`claim_verdicts` reads the paper's claims from those tests
(:mod:`comparisons.paper`), provisional where :func:`run_coverage` finds cells of the run's
plan missing; :func:`rank_analyses` ranks the methods across tasks;
:func:`reading_findings` says whether the reference has the best mean.
:func:`run_statistics` computes all of them once. Each returns dataclasses (and the CSV
files written from them); ``comparisons.reporting`` turns them into tables and figures.
Nothing here imports the reporting.
"""

from comparisons.statistics._bootstrap import (
    CONFIDENCE,
    MIN_SEEDS,
    N_RESAMPLES,
    NO_INTERVAL,
    Interval,
    example_interval,
    seed_interval,
    seeded_rng,
    two_level_draws,
    two_level_interval,
)
from comparisons.statistics._coverage import (
    RunCoverage,
    Shortfall,
    planned_cells,
    run_coverage,
)
from comparisons.statistics._directions import MetricDirection, best_indices, metric_direction
from comparisons.statistics._intervals import (
    RECOMPUTE_TOLERANCE,
    RecomputationCheck,
    SeedInterval,
    recomputation_check,
    seed_intervals,
    seed_intervals_csv,
    summary_intervals,
)
from comparisons.statistics._number_format import format_mean_std, format_p, format_significant
from comparisons.statistics._order import (
    dataset_models,
    metric_settings,
    order_methods,
    order_settings,
    unique,
)
from comparisons.statistics._ranks import (
    RankAnalysis,
    friedman_statistic,
    rank_analyses,
    rank_analysis,
    ranks_csv,
)
from comparisons.statistics._reading import Finding, compare_method, reading_findings
from comparisons.statistics._reference_contrasts import (
    MIN_PAIRS,
    PAIRED_COLUMNS,
    ReferenceContrast,
    contrast_with_reference,
    holm_adjusted,
    paired_csv,
    reference_contrasts,
)
from comparisons.statistics._run_statistics import RunStatistics, run_statistics
from comparisons.statistics._samples import RowSample, RunSamples, f1_scores
from comparisons.statistics._summary import SUMMARY_COLUMNS, SummaryRow, summarize, summary_csv
from comparisons.statistics._verdicts import ClaimVerdict, SettingVerdict, claim_verdicts

__all__ = [
    "CONFIDENCE",
    "MIN_PAIRS",
    "MIN_SEEDS",
    "NO_INTERVAL",
    "N_RESAMPLES",
    "PAIRED_COLUMNS",
    "RECOMPUTE_TOLERANCE",
    "SUMMARY_COLUMNS",
    "ClaimVerdict",
    "Finding",
    "Interval",
    "MetricDirection",
    "RankAnalysis",
    "RecomputationCheck",
    "ReferenceContrast",
    "RowSample",
    "RunCoverage",
    "RunSamples",
    "RunStatistics",
    "SeedInterval",
    "SettingVerdict",
    "Shortfall",
    "SummaryRow",
    "best_indices",
    "claim_verdicts",
    "compare_method",
    "contrast_with_reference",
    "dataset_models",
    "example_interval",
    "f1_scores",
    "format_mean_std",
    "format_p",
    "format_significant",
    "friedman_statistic",
    "holm_adjusted",
    "metric_direction",
    "metric_settings",
    "order_methods",
    "order_settings",
    "paired_csv",
    "planned_cells",
    "rank_analyses",
    "rank_analysis",
    "ranks_csv",
    "reading_findings",
    "recomputation_check",
    "reference_contrasts",
    "run_coverage",
    "run_statistics",
    "seed_interval",
    "seed_intervals",
    "seed_intervals_csv",
    "seeded_rng",
    "summarize",
    "summary_csv",
    "summary_intervals",
    "two_level_draws",
    "two_level_interval",
    "unique",
]
