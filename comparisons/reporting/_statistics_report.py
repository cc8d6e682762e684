"""The statistics of a run in its report: the files, and the sections on the verdicts, the
contrasts with the reference, the ranks, the reading of the means and how it was computed.

:func:`write_statistics_files` writes ``paired.csv``, ``ranks.csv`` and
``seed_intervals.csv`` from :func:`comparisons.statistics.run_statistics`; the
``*_section`` functions give the report's markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from comparisons._atomic import write_text
from comparisons.paper import ALPHA, CLAIMS, REFERENCE
from comparisons.reporting._family_ranks import family_ranks_table
from comparisons.reporting._figure_output import FigureResult
from comparisons.reporting._statistics_tables import (
    contrast_report_tables,
    ranks_table,
    verdicts_table,
)
from comparisons.run_folder import CellKey
from comparisons.run_folder._contents import NOT_APPLICABLE
from comparisons.statistics import (
    CONFIDENCE,
    MIN_SEEDS,
    N_RESAMPLES,
    RECOMPUTE_TOLERANCE,
    ClaimVerdict,
    Finding,
    ReferenceContrast,
    RunCoverage,
    RunStatistics,
    paired_csv,
    ranks_csv,
    seed_intervals_csv,
)


def write_statistics_files(statistics: RunStatistics, run_dir: Path) -> None:
    """``paired.csv``, ``ranks.csv`` and ``seed_intervals.csv`` (each written atomically)."""
    write_text(run_dir / "paired.csv", paired_csv(statistics.contrasts))
    write_text(run_dir / "ranks.csv", ranks_csv(statistics.analyses))
    write_text(run_dir / "seed_intervals.csv", seed_intervals_csv(statistics.seed_intervals))


def coverage_banner(coverage: RunCoverage) -> list[str]:
    """The lines at the top of a report on a run that misses cells of its plan (none for a
    complete run): how many are done, what misses, and that the verdicts are provisional."""
    if coverage.complete:
        return []
    plan = (
        "the config's plan"
        if coverage.from_config
        else "the cells inferred from the results: no readable config.toml"
    )
    return [
        f"> **Partial run: this report covers {coverage.describe()}** ({plan}). Every "
        "verdict on a (dataset, model) that misses cells is marked provisional: it may change "
        "when they are run (running the same config again resumes the run).",
        "",
    ]


def coverage_line(coverage: RunCoverage) -> str:
    """The cells bullet of "What was run"."""
    plan = "the config's plan" if coverage.from_config else "inferred from the results"
    return f"- **Cells** (dataset, model, seed, method; {plan}): {coverage.describe()}"


def failed_section(coverage: RunCoverage) -> list[str]:
    """The cells whose last attempt failed, with the reason (the traceback's last line), and
    the cells whose method does not apply to their model, per (dataset, model, method) and
    reason; nothing when there are none."""
    refused = {c: r for c, r in coverage.failed.items() if r.startswith(NOT_APPLICABLE)}
    failed = {c: r for c, r in coverage.failed.items() if c not in refused}
    lines: list[str] = []
    if failed:
        lines += [
            "## Failed cells",
            "",
            f"{len(failed)} cell(s) failed in their last attempt: they have no results, "
            "the verdicts count their methods as not compared, and running the same config "
            "again retries them. Each with the last line of its traceback (the whole one in "
            "`failed/<cell>.txt`):",
            "",
            *_grouped_cells(failed),
            "",
        ]
    if refused:
        lines += [
            "## Methods that do not apply to a model",
            "",
            f"{len(refused)} cell(s) have no results because the method refuses the model "
            "(e.g. DeepSHAP's rules have none for a transformer's LayerNorm): they are done, "
            "a rerun does not retry them, and the verdicts count the method as not compared "
            "on that model. Each with the method's reason (`not_applicable/<cell>.txt`):",
            "",
            *_grouped_cells({c: r.removeprefix(NOT_APPLICABLE + ": ") for c, r in refused.items()}),
            "",
        ]
    return lines


def _grouped_cells(reasons: dict[CellKey, str]) -> list[str]:
    grouped: dict[tuple[str, str, str, str], list[int]] = {}
    for cell, reason in sorted(reasons.items()):
        key = (cell.group.dataset, cell.group.model, cell.method, reason)
        grouped.setdefault(key, []).append(cell.group.seed)
    lines = []
    for (dataset, model, method, reason), seeds in grouped.items():
        which = ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)
        lines.append(f"- {dataset} / {model}, `{method}`, {which}: `{reason}`")
    return lines


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
        "finite dF1 judges instead, as the rows say. A method of the run's plan whose cells "
        "failed or did not run is *not compared*: a claim about every method is then not "
        "supported, whatever the others say. The protocol was fixed before these were read.",
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


def contrasts_section(statistics: RunStatistics) -> list[str]:
    """The contrasts with the reference, one table per (dataset, model) and group of
    metrics."""
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
    tables = contrast_report_tables(statistics)
    if not tables:
        lines += ["_No paired comparison: no per-example values or no reference method._", ""]
    for _, _, table in tables:
        lines += [f"#### {table.title}", "", table.markdown(), ""]
    untested = untested_contrasts(statistics.contrasts)
    if untested:
        lines += ["Contrasts without a test, and why:", "", *untested, ""]
    return lines


def untested_contrasts(contrasts: Sequence[ReferenceContrast]) -> list[str]:
    """One bullet per (dataset, model) and reason, naming the contrasts with no test."""
    grouped: dict[tuple[str, str, str], dict[str, list[str]]] = {}
    for c in contrasts:
        if not c.test and c.note:
            where = f"{c.metric} {c.setting}".strip()
            key = (c.dataset, c.model, c.note)
            grouped.setdefault(key, {}).setdefault(where, []).append(c.method)
    return [
        f"- {dataset} / {model}, {note}: "
        + "; ".join(f"{where} ({', '.join(methods)})" for where, methods in which.items())
        + "."
        for (dataset, model, note), which in grouped.items()
    ]


def ranks_section(
    statistics: RunStatistics,
    figures: Sequence[FigureResult],
    embed: Callable[[FigureResult, str], list[str]],
) -> list[str]:
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
    families = family_ranks_table(statistics.analyses)
    if families is not None:
        lines += [
            "Per metric family (the mean of the family's mean ranks; in brackets how many "
            "metrics and settings it ranks; `tables/family_ranks.tex`):",
            "",
            families.markdown(),
            "",
        ]
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


def verdicts_markdown(verdicts: Sequence[ClaimVerdict]) -> str:
    """One bullet per claim and (dataset, model), one sub-bullet per setting."""
    if not verdicts:
        return "The run has no F1-ratio or adversarial-correlation rows to judge.\n"
    lines = []
    for v in verdicts:
        better = sum(c.favours == c.reference for c in v.adjusted)
        worse = sum(c.favours == c.method for c in v.adjusted)
        provisional = (
            f" **Provisional**: {v.dataset} / {v.model} has {v.provisional}; the verdict may "
            "change when the missing cells are run."
            if v.provisional
            else ""
        )
        lines.append(
            f'- {v.claim.figure}, "{v.claim.words}", {v.dataset} / {v.model}: **{v.verdict}** '
            f"(Holm over all {len(v.adjusted)} comparisons of the claim: {REFERENCE} better in "
            f"{better}, worse in {worse}).{provisional}"
        )
        lines += [f"    - {s.sentence()}" for s in v.settings]
    return "\n".join(lines) + "\n"


def reading_markdown(findings: Sequence[Finding], method: str = REFERENCE) -> str:
    """The findings as markdown: a tally, then one bullet per comparison."""
    if not findings:
        return "The run has no F1-ratio or adversarial-correlation rows to read.\n"
    lines = []
    for claim in CLAIMS:
        judged = [f for f in findings if f.metric == claim.metric and f.wins is not None]
        if not judged:
            continue
        won = sum(bool(f.wins) for f in judged)
        lines.append(
            f"- {method} has the {claim.extreme} mean {claim.label} in {won} of {len(judged)} "
            f"(dataset, model, setting) comparisons."
        )
    lines.append(
        "- The paper reports the iFIM with the highest F1 ratio and the lowest adversarial "
        "correlation for every task and classifier (Figs. 3 and 4); the tally above is this "
        "run's measurement of the same claim."
    )
    lines.append("")
    lines.extend(f"- {f.sentence}" for f in findings)
    return "\n".join(lines) + "\n"
