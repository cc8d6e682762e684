"""The statistics of a run as report tables: the verdicts on the paper's claims, the
contrasts of the reference with each method per (dataset, model), and the ranks across
tasks."""

from __future__ import annotations

import math
from collections.abc import Sequence

from comparisons.paper import ALPHA, PAPER_METRICS, REFERENCE
from comparisons.reporting._exports import ReportTable
from comparisons.statistics import (
    ClaimVerdict,
    RankAnalysis,
    ReferenceContrast,
    RunStatistics,
    dataset_models,
    format_p,
    format_significant,
    order_methods,
)


def verdicts_table(verdicts: Sequence[ClaimVerdict]) -> ReportTable | None:
    """(dataset, model, claim) x (verdict, per-setting verdicts with the metric judged, the
    counts, and the methods not compared: their cells failed or did not run); ``None``
    without verdicts."""
    if not verdicts:
        return None
    rows = []
    for v in verdicts:
        for s in v.settings:
            value = format_significant(s.reference_value)
            if not math.isnan(s.ci_low):
                value += f" [{format_significant(s.ci_low)}, {format_significant(s.ci_high)}]"
            mark = " (provisional)" if v.provisional else ""
            rows.append(
                (
                    f"{v.dataset} / {v.model}",
                    v.claim.figure,
                    f"**{v.verdict}**{mark}",
                    s.setting,
                    s.metric,
                    f"{s.verdict}{' (provisional)' if s.provisional else ''}",
                    value,
                    str(len(s.better)),
                    str(len(s.worse)),
                    str(len(s.unresolved)),
                    ", ".join(m for m, _ in s.not_compared) or "—",
                )
            )
    return ReportTable(
        name="verdicts",
        title=f"The paper's claims at alpha = {ALPHA:g} (Holm-adjusted paired tests)",
        header=(
            "dataset / model",
            "claim",
            "overall",
            "setting",
            "judged by",
            "verdict",
            f"{REFERENCE} [95% CI]",
            "better than",
            "worse than",
            "not separated",
            "not compared",
        ),
        rows=tuple(rows),
    )


def _contrast_entry(c: ReferenceContrast | None) -> str:
    if c is None:
        return "—"
    if math.isnan(c.difference):
        return "n/a"
    text = f"{format_significant(c.difference)}"
    if not math.isnan(c.ci_low):
        text += f" [{format_significant(c.ci_low)}, {format_significant(c.ci_high)}]"
    if c.test:
        text += f" p={format_p(c.p_holm)}"
    else:
        text += " (no test)"
    if c.favours:
        text = f"**{text}**" if c.favours == c.reference else f"{text} ✗"
    return text


def contrast_table(
    contrasts: Sequence[ReferenceContrast], dataset: str, model: str, metrics: Sequence[str]
) -> ReportTable | None:
    """Methods x (metric, setting): the difference to the reference, its interval and the
    Holm-adjusted p; **bold** where the reference is significantly better, ✗ where the
    method is; ``None`` when the (dataset, model) has no contrast of these metrics."""
    mine = [
        c for c in contrasts if (c.dataset, c.model) == (dataset, model) and c.metric in metrics
    ]
    if not mine:
        return None
    columns = list(dict.fromkeys((c.metric, c.setting) for c in mine))
    columns.sort(key=lambda ms: list(metrics).index(ms[0]))
    methods = order_methods(c.method for c in mine)
    index = {(c.method, c.metric, c.setting): c for c in mine}
    reference = mine[0].reference
    header = ["method", *(f"{m} {s}".strip() for m, s in columns)]
    rows = tuple(
        (method, *(_contrast_entry(index.get((method, m, s))) for m, s in columns))
        for method in methods
    )
    paper = set(metrics) <= set(PAPER_METRICS)
    kind, which = ("paper", "the paper's metrics") if paper else ("extra", "the other metrics")
    return ReportTable(
        name=f"paired_{kind}__{_safe(dataset)}__{_safe(model)}",
        title=f"{dataset} / {model}: {reference} minus each method, {which}",
        header=tuple(header),
        rows=rows,
    )


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._+-" else "_" for ch in name)


def ranks_table(analyses: Sequence[RankAnalysis]) -> ReportTable | None:
    """(metric, setting) x (Friedman, blocks, the mean rank of each method), the best mean
    rank in bold; ``None`` without analyses."""
    if not analyses:
        return None
    methods = order_methods(m for a in analyses for m in a.methods)
    rows = []
    for a in analyses:
        means = a.mean_ranks
        best = float(means.min())
        cells = []
        for m in methods:
            if m not in means:
                cells.append("—")
                continue
            text = format_significant(float(means[m]), 2)
            cells.append(f"**{text}**" if float(means[m]) == best else text)
        blocks = str(len(a.blocks)) + (f" (-{a.dropped_blocks})" if a.dropped_blocks else "")
        rows.append(
            (
                f"{a.metric} {a.setting}".strip(),
                format_significant(a.statistic),
                format_p(a.p_value),
                blocks,
                *cells,
            )
        )
    return ReportTable(
        name="ranks",
        title="Mean rank per method (1 = best) over (dataset, model, seed) blocks; Friedman test",
        header=("metric", "Friedman χ²", "p", "blocks", *methods),
        rows=tuple(rows),
    )


def contrast_report_tables(statistics: RunStatistics) -> list[tuple[str, str, ReportTable]]:
    """(dataset, model, table) of the contrasts with the reference: the paper's metrics, then the
    others, per (dataset, model)."""
    other = sorted(
        {c.metric for c in statistics.contrasts} - set(PAPER_METRICS),
        key=[c.metric for c in statistics.contrasts].index,
    )
    result = []
    for dataset, model in dataset_models(statistics.summary):
        for metrics in (PAPER_METRICS, tuple(other)):
            table = contrast_table(statistics.contrasts, dataset, model, metrics)
            if table is not None:
                result.append((dataset, model, table))
    return result


def statistics_tables(statistics: RunStatistics) -> list[ReportTable]:
    """The report tables of the statistics: verdicts, contrasts with the reference, ranks."""
    tables = [t for t in (verdicts_table(statistics.verdicts),) if t is not None]
    tables += [t for _, _, t in contrast_report_tables(statistics)]
    from comparisons.reporting._family_ranks import family_ranks_table

    ranked = [ranks_table(statistics.analyses), family_ranks_table(statistics.analyses)]
    return tables + [t for t in ranked if t is not None]
