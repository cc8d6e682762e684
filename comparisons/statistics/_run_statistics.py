"""Every statistic of a run, computed once: intervals, paired tests, verdicts and ranks."""

from __future__ import annotations

from dataclasses import dataclass

from comparisons.run_folder import RunContents
from comparisons.statistics._coverage import RunCoverage, run_coverage
from comparisons.statistics._intervals import (
    RecomputationCheck,
    SeedInterval,
    recomputation_check,
    seed_intervals,
    summary_intervals,
)
from comparisons.statistics._ranks import RankAnalysis, rank_analyses
from comparisons.statistics._reference_contrasts import ReferenceContrast, reference_contrasts
from comparisons.statistics._samples import RunSamples
from comparisons.statistics._summary import SummaryRow, summarize
from comparisons.statistics._verdicts import ClaimVerdict, claim_verdicts


@dataclass(frozen=True)
class RunStatistics:
    """Every statistic of one run.

    Attributes:
        summary: The summary rows with their intervals.
        seed_intervals: Each seed's value with its interval over its examples.
        contrasts: The reference (``ifim-sensitive``) contrasted with every other method.
        verdicts: The paper's two claims per (dataset, model).
        analyses: The rank analyses per (metric, setting).
        check: The stored values recomputed from the per-example files.
        has_examples: Whether the run folder has per-example files.
        problems: Per-example files that could not be read or used.
        coverage: Which cells of the run's plan the rows cover.
    """

    summary: list[SummaryRow]
    seed_intervals: list[SeedInterval]
    contrasts: list[ReferenceContrast]
    verdicts: list[ClaimVerdict]
    analyses: list[RankAnalysis]
    check: RecomputationCheck
    has_examples: bool
    problems: tuple[str, ...]
    coverage: RunCoverage


def run_statistics(run: RunContents) -> RunStatistics:
    """The statistics of a run folder (deterministic: every generator is seeded)."""
    samples = RunSamples(run)
    summary = summary_intervals(summarize(run.rows), samples)
    contrasts = reference_contrasts(summary, samples)
    coverage = run_coverage(run.config, run.rows, run.failed)
    return RunStatistics(
        summary=summary,
        seed_intervals=seed_intervals(run.rows, samples),
        contrasts=contrasts,
        verdicts=claim_verdicts(summary, contrasts, coverage),
        analyses=rank_analyses(run.rows),
        check=recomputation_check(run.rows, samples),
        has_examples=samples.available,
        problems=tuple(dict.fromkeys(samples.problems)),
        coverage=coverage,
    )
