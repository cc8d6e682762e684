"""The statistics of a run for its report: intervals, paired tests, verdicts and ranks.

:func:`run_statistics` computes them once from the run folder (its rows and per-example
files); :func:`write_statistics_files` writes ``paired.csv``, ``ranks.csv`` and
``seed_intervals.csv``; the ``*_section`` functions give the report's markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from comparisons._atomic import write_text
from comparisons.paper import ALPHA, PAPER_METRICS, REFERENCE
from comparisons.reporting._exports import ReportTable
from comparisons.reporting._figure_output import FigureResult
from comparisons.reporting._paired import (
    PairedComparison,
    paired_comparisons,
    paired_csv,
    paired_table,
)
from comparisons.reporting._ranks import RankAnalysis, rank_analyses, ranks_csv, ranks_table
from comparisons.reporting._statistics import CONFIDENCE, MIN_SEEDS, N_RESAMPLES
from comparisons.reporting._statistics_samples import RunSamples
from comparisons.reporting._statistics_summary import (
    RECOMPUTE_TOLERANCE,
    RecomputationCheck,
    SeedInterval,
    recomputation_check,
    seed_intervals,
    seed_intervals_csv,
    summary_intervals,
)
from comparisons.reporting._summary import SummaryRow, summarize
from comparisons.reporting._table_layout import cells
from comparisons.reporting._verdicts import (
    ClaimVerdict,
    claim_verdicts,
    verdicts_markdown,
    verdicts_table,
)
from comparisons.run_folder import RunContents


@dataclass(frozen=True)
class RunStatistics:
    """Every statistic of one run.

    Attributes:
        summary: The summary rows with their intervals.
        seed_intervals: Each seed's value with its interval over its examples.
        comparisons: ``ifim-sensitive`` against every other method.
        verdicts: The paper's two claims per (dataset, model).
        analyses: The rank analyses per (metric, setting).
        check: The stored values recomputed from the per-example files.
        has_examples: Whether the run folder has per-example files.
        problems: Per-example files that could not be read or used.
    """

    summary: list[SummaryRow]
    seed_intervals: list[SeedInterval]
    comparisons: list[PairedComparison]
    verdicts: list[ClaimVerdict]
    analyses: list[RankAnalysis]
    check: RecomputationCheck
    has_examples: bool
    problems: tuple[str, ...]


def run_statistics(run: RunContents) -> RunStatistics:
    """The statistics of a run folder (deterministic: every generator is seeded)."""
    samples = RunSamples(run)
    summary = summary_intervals(summarize(run.rows), samples)
    comparisons = paired_comparisons(summary, samples)
    return RunStatistics(
        summary=summary,
        seed_intervals=seed_intervals(run.rows, samples),
        comparisons=comparisons,
        verdicts=claim_verdicts(summary, comparisons),
        analyses=rank_analyses(run.rows),
        check=recomputation_check(run.rows, samples),
        has_examples=samples.available,
        problems=tuple(dict.fromkeys(samples.problems)),
    )


def write_statistics_files(statistics: RunStatistics, run_dir: Path) -> None:
    """``paired.csv``, ``ranks.csv`` and ``seed_intervals.csv`` (each written atomically)."""
    write_text(run_dir / "paired.csv", paired_csv(statistics.comparisons))
    write_text(run_dir / "ranks.csv", ranks_csv(statistics.analyses))
    write_text(run_dir / "seed_intervals.csv", seed_intervals_csv(statistics.seed_intervals))


def paired_report_tables(statistics: RunStatistics) -> list[tuple[str, str, ReportTable]]:
    """(dataset, model, table) of the paired comparisons: the paper's metrics, then the
    others, per (dataset, model)."""
    other = sorted(
        {c.metric for c in statistics.comparisons} - set(PAPER_METRICS),
        key=[c.metric for c in statistics.comparisons].index,
    )
    result = []
    for dataset, model in cells(statistics.summary):
        for metrics in (PAPER_METRICS, tuple(other)):
            table = paired_table(statistics.comparisons, dataset, model, metrics)
            if table is not None:
                result.append((dataset, model, table))
    return result


def statistics_tables(statistics: RunStatistics) -> list[ReportTable]:
    """The report tables of the statistics: verdicts, paired comparisons, ranks."""
    tables = [t for t in (verdicts_table(statistics.verdicts),) if t is not None]
    tables += [t for _, _, t in paired_report_tables(statistics)]
    ranks = ranks_table(statistics.analyses)
    return tables + ([ranks] if ranks is not None else [])


def verdicts_section(statistics: RunStatistics) -> list[str]:
    """The verdicts on the paper's claims, with the numbers behind them."""
    lines = [
        "## The paper's claims: verdicts",
        "",
        f"Each claim is **supported** where `{REFERENCE}` is better than every other method "
        f"in a paired test with a Holm-adjusted p below {ALPHA:g}, **contradicted** where "
        "some method is better than it at that level, **inconclusive** otherwise. The "
        "overall verdict of a (dataset, model) Holm-adjusts the comparisons of all its "
        "settings together (methods x settings): contradicted if some method is better at "
        "one setting, supported if it is better than every method at every setting. Where an "
        "F1 ratio is infinite (F1 = 0 after perturbing the high set) the "
        "finite dF1 judges instead, as the rows say. The protocol was fixed before these "
        "were read.",
        "",
    ]
    if not statistics.has_examples:
        lines += [
            "_The run folder has no per-example values (a run from before they were "
            "recorded): no paired tests, so every verdict is inconclusive._",
            "",
        ]
    table = verdicts_table(statistics.verdicts)
    if table is not None:
        lines += [table.markdown(), ""]
    lines += [verdicts_markdown(statistics.verdicts)]
    return lines


def paired_section(statistics: RunStatistics) -> list[str]:
    """The paired comparisons, one table per (dataset, model) and group of metrics."""
    lines = [
        f"## Paired comparisons: {REFERENCE} against each method",
        "",
        f"Each cell: `{REFERENCE}` minus the method, mean over seeds on the same examples "
        "[95 % bootstrap interval: seeds, then examples, the same examples for both], and "
        "the Holm-adjusted p (Wilcoxon signed-rank for per-example metrics, paired "
        "permutation test for the set-level F1 rows). **Bold**: "
        f"`{REFERENCE}` significantly better; ✗: the method significantly better; "
        '"no test": infinite in a seed (dF1 carries the comparison). Every number is in '
        "`paired.csv`.",
        "",
    ]
    tables = paired_report_tables(statistics)
    if not tables:
        lines += ["_No paired comparison: no per-example values or no reference method._", ""]
    for _, _, table in tables:
        lines += [f"#### {table.title}", "", table.markdown(), ""]
    return lines


def ranks_section(statistics: RunStatistics, figures: Sequence[FigureResult], embed) -> list[str]:
    """The rank table and the critical-difference diagrams."""
    lines = [
        "## Ranks across tasks",
        "",
        "Within each (dataset, model, seed) block the methods are ranked by the seed's "
        "value (1 = best; the F1 ratio's infinities rank highest, tied); methods with a value "
        "in fewer than half the blocks are left out and blocks missing a kept method are "
        "dropped (the count in brackets). Friedman test with the tie correction; Nemenyi's "
        "post-hoc test in the diagrams. Every number is in `ranks.csv`.",
        "",
    ]
    table = ranks_table(statistics.analyses)
    lines += [table.markdown(), ""] if table is not None else ["_Nothing could be ranked._", ""]
    for result in figures:
        lines += embed(result, "critical-difference diagram")
    return lines


def statistics_section(statistics: RunStatistics) -> list[str]:
    """How the intervals and tests were computed, and the recomputation check."""
    check = statistics.check
    if check.checked:
        recomputed = (
            f"{check.checked} stored values were recomputed from `per_example/` alone; the "
            f"largest relative difference is {check.largest_gap:.1e} (tolerance "
            f"{RECOMPUTE_TOLERANCE:g})"
            + (
                f", and {len(check.mismatches)} differ: "
                + ", ".join(
                    f"{r.method} {r.metric} {r.setting} seed {r.seed}" for r in check.mismatches[:5]
                )
                if check.mismatches
                else "."
            )
        )
    else:
        recomputed = (
            "No stored value could be recomputed: the run folder has no per-example values."
        )
    return [
        "## Statistics",
        "",
        f"- Intervals: {CONFIDENCE:.0%} percentile bootstrap, {N_RESAMPLES} resamples, "
        "seeded by what is resampled (the same report on every call; every method of a "
        "group resampled with the same examples). Across seeds two levels: seeds with "
        "replacement, then each drawn seed's examples with replacement; one seed: its "
        f"examples; rows without per-example values: the seeds' values (at least {MIN_SEEDS} "
        "seeds). Each seed's own interval is in `seed_intervals.csv`.",
        "- Percentile rather than BCa: F1 ratios are infinite on some resamples and 0/1 "
        "means (pointing game) make BCa's acceleration undefined; the two-level resampling "
        "has no jackknife. With few seeds the seed level is resampled from few values, so "
        "the intervals describe these trained models more than the training procedure.",
        f"- Paired tests: `{REFERENCE}` against each method on the same examples; Wilcoxon "
        "signed-rank (per-example values pooled over seeds) or a paired permutation test "
        f"({N_RESAMPLES} permutations, F1 rows); Holm over the methods compared per "
        "(dataset, model, metric, setting).",
        f"- {recomputed}",
        "",
    ]
