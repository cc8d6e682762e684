"""Markdown tables of the summary: the paper's metrics, their parts, the extra metrics,
Table II (precision and recall per class) and the models' facts.

Each table is built as a :class:`~comparisons.reporting._exports.ReportTable` (also written
as LaTeX and CSV by the report); the ``*_table`` functions return its markdown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from comparisons.metrics import MODEL_ROWS, rows_with_role
from comparisons.paper import CLAIMED_METRICS, CLAIMS, PAPER_METRICS, TABLE_II
from comparisons.reporting._exports import ReportTable
from comparisons.statistics import (
    MetricDirection,
    SummaryRow,
    best_indices,
    dataset_models,
    format_mean_std,
    format_significant,
    metric_direction,
    metric_settings,
    order_methods,
    unique,
)

#: Parts and spreads of the paper's metrics (role ``"detail"``): shown, never ranked.
DETAIL_METRICS: tuple[str, ...] = tuple(row.name for row in rows_with_role("detail"))

#: Model-level metrics (rows with method ``""``) outside Table II.
MODEL_FACTS: tuple[str, ...] = tuple(row.name for row in MODEL_ROWS if row not in TABLE_II)

#: Table II's metrics.
PRECISION_RECALL: tuple[str, ...] = tuple(row.name for row in TABLE_II)

#: An extra metric with more settings than this gets a table of its own.
_MAX_SHARED_SETTINGS = 3

#: Where a claim's metric (the F1 ratio) is infinite for some method, its column is bolded
#: by the claim's stand-in (dF1).
_RANK_INFINITE_BY = {c.metric: c.fallback for c in CLAIMS if c.fallback}

_NOTE = (
    "Mean over seeds [95 % bootstrap interval: seeds, then examples within each seed] "
    "(3 significant digits); mean ± sample std over seeds where a row has no interval (no "
    "per-example values and fewer than 3 seeds), the mean alone for one such seed. "
    "**Bold**: best mean per column (↑ higher, ↓ lower, →1 closest to 1); an F1-ratio "
    "column with an infinite mean is bolded by dF1 (said in its header). [k/N]: only k of "
    "the N seeds had a value. †: the seeds' values summarise different numbers of examples."
)


def direction_label(direction: MetricDirection) -> str:
    """A short reading aid for a table header: ``"↑"``, ``"↓"``, ``"→1"`` or ``""``."""
    if direction.direction == "higher":
        return "↑"
    if direction.direction == "lower":
        return "↓"
    if direction.direction == "ideal":
        return f"→{direction.ideal:g}"
    return ""


@dataclass(frozen=True)
class Column:
    """One table column: a metric at one setting."""

    metric: str
    setting: str

    @property
    def header(self) -> str:
        arrow = direction_label(metric_direction(self.metric, self.setting))
        text = self.metric if not self.setting else f"{self.metric} {self.setting}"
        return f"{text} {arrow}".strip()


def _entry_text(s: SummaryRow | None, seeds_expected: int) -> str:
    if s is None:
        return "—"
    if s.has_interval and not math.isnan(s.mean):
        text = (
            f"{format_significant(s.mean)} "
            f"[{format_significant(s.ci_low)}, {format_significant(s.ci_high)}]"
        )
    else:
        text = format_mean_std(s.mean, s.std)
    if s.n_seeds < seeds_expected:
        text += f" [{s.n_seeds}/{seeds_expected}]"
    if s.n_varies:
        text += " †"
    return text


def _winners(
    index: dict[tuple[str, str, str], SummaryRow],
    row_names: Sequence[str],
    column: Column,
) -> tuple[set[int], str]:
    """The rows to bold in a column and a header note when another metric decided."""
    entries = [index.get((name, column.metric, column.setting)) for name in row_names]
    means = [math.nan if e is None else e.mean for e in entries]
    by = _RANK_INFINITE_BY.get(column.metric)
    if by is not None and any(math.isinf(m) for m in means):
        other = [index.get((name, by, column.setting)) for name in row_names]
        if any(o is not None for o in other):
            values = [math.nan if o is None else o.mean for o in other]
            return set(best_indices(values, metric_direction(by))), f" (∞: bold by {by})"
    return set(best_indices(means, metric_direction(column.metric, column.setting))), ""


def grid_report_table(
    summary: Sequence[SummaryRow],
    row_names: Sequence[str],
    row_key: str,
    columns: Sequence[Column],
    fixed: dict[str, str],
    first_header: str,
    name: str,
    title: str,
    bold: bool = True,
) -> ReportTable:
    """A table of ``row_names`` x ``columns`` from the summary rows matching ``fixed``.

    Args:
        summary: The summary.
        row_names: The values of ``row_key`` (``"method"`` or ``"model"``), one per row.
        row_key: The :class:`SummaryRow` field the rows differ in.
        columns: The metric/setting columns.
        fixed: Field -> value every used summary row must have (e.g. dataset and model).
        first_header: Header of the name column.
        name, title: The table's file name and heading.
        bold: Bold the best mean per column (direction from :func:`metric_direction`; an
            F1-ratio column with an infinite mean by dF1).
    """
    index = {
        (getattr(s, row_key), s.metric, s.setting): s
        for s in summary
        if all(getattr(s, k) == v for k, v in fixed.items())
    }
    found = [index.get((name_, c.metric, c.setting)) for c in columns for name_ in row_names]
    seeds_expected = max((s.n_seeds_total for s in found if s is not None), default=0)
    table = [[name_] for name_ in row_names]
    headers = []
    for column in columns:
        entries = [index.get((name_, column.metric, column.setting)) for name_ in row_names]
        winners, note = _winners(index, row_names, column) if bold else (set(), "")
        headers.append(column.header + note)
        for i, entry in enumerate(entries):
            text = _entry_text(entry, seeds_expected)
            table[i].append(f"**{text}**" if i in winners else text)
    return ReportTable(
        name=name,
        title=title,
        header=(first_header, *headers),
        rows=tuple(tuple(row) for row in table),
    )


def grid_table(
    summary: Sequence[SummaryRow],
    row_names: Sequence[str],
    row_key: str,
    columns: Sequence[Column],
    fixed: dict[str, str],
    first_header: str,
    bold: bool = True,
) -> str:
    """:func:`grid_report_table` as markdown."""
    table = grid_report_table(
        summary, row_names, row_key, columns, fixed, first_header, "table", "", bold
    )
    return table.markdown()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _methods_of(summary: Sequence[SummaryRow], dataset: str, model: str) -> list[str]:
    return order_methods(s.method for s in summary if (s.dataset, s.model) == (dataset, model))


def _columns(
    summary: Sequence[SummaryRow], metrics: Sequence[str], dataset: str, model: str
) -> list[Column]:
    return [
        Column(metric, setting)
        for metric in metrics
        for setting in metric_settings(summary, metric, dataset, model)
    ]


def _method_table(
    summary: Sequence[SummaryRow],
    dataset: str,
    model: str,
    metrics: Sequence[str],
    bold: bool,
    kind: str,
    title: str,
) -> ReportTable | None:
    columns = _columns(summary, metrics, dataset, model)
    methods = [
        m
        for m in _methods_of(summary, dataset, model)
        if any(
            (s.dataset, s.model, s.method, s.metric) == (dataset, model, m, c.metric)
            for s in summary
            for c in columns
        )
    ]
    if not columns or not methods:
        return None
    fixed = {"dataset": dataset, "model": model}
    name = f"{kind}__{_safe(dataset)}__{_safe(model)}"
    return grid_report_table(
        summary,
        methods,
        "method",
        columns,
        fixed,
        "method",
        name,
        f"{dataset} / {model}: {title}",
        bold,
    )


def paper_report_table(
    summary: Sequence[SummaryRow], dataset: str, model: str
) -> ReportTable | None:
    """Methods x (F1 ratio and dF1 per alpha, adversarial correlation per eps), best in bold."""
    return _method_table(
        summary, dataset, model, PAPER_METRICS, True, "paper_metrics", "the paper's metrics"
    )


def paper_metrics_table(summary: Sequence[SummaryRow], dataset: str, model: str) -> str | None:
    """Methods x (F1 ratio and dF1 per alpha, adversarial correlation per eps), best in bold;
    ``None`` when the (dataset, model) has none of them."""
    table = paper_report_table(summary, dataset, model)
    return None if table is None else table.markdown()


def detail_report_table(
    summary: Sequence[SummaryRow], dataset: str, model: str
) -> ReportTable | None:
    """Methods x the parts of the paper's metrics, not ranked."""
    return _method_table(
        summary,
        dataset,
        model,
        DETAIL_METRICS,
        False,
        "paper_parts",
        "parts of the paper's metrics",
    )


def detail_metrics_table(summary: Sequence[SummaryRow], dataset: str, model: str) -> str | None:
    """Methods x the parts of the paper's metrics (F1 clean/high/low, correlation spread and
    undefined count), not ranked; ``None`` when absent."""
    table = detail_report_table(summary, dataset, model)
    return None if table is None else table.markdown()


def extra_metric_names(summary: Sequence[SummaryRow], dataset: str, model: str) -> list[str]:
    """The method-level metrics of a (dataset, model) that are neither the paper's nor their
    parts."""
    skip = set(CLAIMED_METRICS) | set(PAPER_METRICS) | set(DETAIL_METRICS)
    return unique(
        s.metric
        for s in summary
        if (s.dataset, s.model) == (dataset, model) and s.method and s.metric not in skip
    )


def extra_report_tables(
    summary: Sequence[SummaryRow], dataset: str, model: str
) -> list[ReportTable]:
    """One table of the extra metrics with few settings, and one per metric with many (e.g.
    ``randomization-similarity`` per layer, ``metric-seconds`` per metric), best in bold."""
    names = extra_metric_names(summary, dataset, model)
    shared = [
        m for m in names if len(metric_settings(summary, m, dataset, model)) <= _MAX_SHARED_SETTINGS
    ]
    tables = []
    if shared:
        table = _method_table(summary, dataset, model, shared, True, "extra", "Extra metrics")
        if table is not None:
            tables.append(table)
    for metric in names:
        if metric in shared:
            continue
        table = _method_table(summary, dataset, model, [metric], True, _safe(metric), metric)
        if table is not None:
            tables.append(table)
    return tables


def _short_title(table: ReportTable) -> str:
    """The title without its ``dataset / model: `` prefix."""
    return table.title.split(": ", 1)[-1]


def extra_metrics_tables(
    summary: Sequence[SummaryRow], dataset: str, model: str
) -> list[tuple[str, str]]:
    """(title, markdown) pairs of :func:`extra_report_tables`."""
    return [(_short_title(t), t.markdown()) for t in extra_report_tables(summary, dataset, model)]


def _model_table(
    summary: Sequence[SummaryRow],
    dataset: str,
    metrics: Sequence[str],
    settings_last: str,
    kind: str,
    title: str,
) -> ReportTable | None:
    rows = [s for s in summary if s.dataset == dataset and not s.method and s.metric in metrics]
    if not rows:
        return None
    settings = unique(s.setting for s in rows)
    settings = [s for s in settings if s != settings_last] + (
        [settings_last] if settings_last in settings else []
    )
    columns = [
        Column(metric, setting)
        for setting in settings
        for metric in metrics
        if any(s.metric == metric and s.setting == setting for s in rows)
    ]
    models = [
        m for d, m in dataset_models(summary) if d == dataset and any(s.model == m for s in rows)
    ]
    return grid_report_table(
        summary,
        models,
        "model",
        columns,
        {"dataset": dataset, "method": ""},
        "model",
        f"{kind}__{_safe(dataset)}",
        f"{dataset}: {title}",
        bold=False,
    )


def precision_recall_report_table(
    summary: Sequence[SummaryRow], dataset: str
) -> ReportTable | None:
    """The paper's Table II for one dataset."""
    return _model_table(
        summary, dataset, PRECISION_RECALL, "class=macro", "table_ii", "test precision and recall"
    )


def precision_recall_table(summary: Sequence[SummaryRow], dataset: str) -> str | None:
    """The paper's Table II for one dataset: models x (test precision, recall) per class,
    ``class=macro`` last; ``None`` when the run has no such rows."""
    table = precision_recall_report_table(summary, dataset)
    return None if table is None else table.markdown()


def model_facts_report_table(summary: Sequence[SummaryRow], dataset: str) -> ReportTable | None:
    """Models x (test accuracy, best epoch, training seconds)."""
    return _model_table(summary, dataset, MODEL_FACTS, "", "models", "accuracy and training")


def model_facts_table(summary: Sequence[SummaryRow], dataset: str) -> str | None:
    """Models x (test accuracy, best epoch, training seconds); ``None`` when absent."""
    table = model_facts_report_table(summary, dataset)
    return None if table is None else table.markdown()


def summary_report_tables(summary: Sequence[SummaryRow]) -> list[ReportTable]:
    """Every summary table of the report, in reading order: per dataset x model the method
    tables, then per dataset Table II and the models' facts."""
    tables: list[ReportTable] = []
    for dataset, model in dataset_models(summary):
        for table in (
            paper_report_table(summary, dataset, model),
            detail_report_table(summary, dataset, model),
            *extra_report_tables(summary, dataset, model),
        ):
            if table is not None:
                tables.append(table)
    for dataset in unique(s.dataset for s in summary):
        for table in (
            precision_recall_report_table(summary, dataset),
            model_facts_report_table(summary, dataset),
        ):
            if table is not None:
                tables.append(table)
    return tables


def summary_markdown(summary: Sequence[SummaryRow]) -> str:
    """The whole ``summary.md``: per dataset x model the method tables, then per dataset
    Table II and the models' facts."""
    parts = ["# Summary", "", _NOTE, ""]
    for dataset, model in dataset_models(summary):
        parts += [f"## {dataset} / {model}", ""]
        sections = [
            ("The paper's metrics (Figs. 3, 4)", paper_metrics_table(summary, dataset, model)),
            ("Parts of the paper's metrics", detail_metrics_table(summary, dataset, model)),
            *extra_metrics_tables(summary, dataset, model),
        ]
        drawn = [(title, table) for title, table in sections if table is not None]
        if not drawn:
            parts += ["No method-level rows for this cell.", ""]
        for title, table in drawn:
            parts += [f"### {title}", "", table, ""]
    for dataset in unique(s.dataset for s in summary):
        for title, model_table in (
            ("Table II: test precision and recall", precision_recall_table(summary, dataset)),
            ("Models", model_facts_table(summary, dataset)),
        ):
            if model_table is not None:
                parts += [f"## {dataset}: {title}", "", model_table, ""]
    return "\n".join(parts).rstrip() + "\n"
