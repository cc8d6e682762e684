"""Markdown tables of the summary: the paper's metrics, their parts, the extra metrics,
Table II (precision and recall per class) and the models' facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from comparisons.reporting._metric_directions import best_indices, direction_label, metric_direction
from comparisons.reporting._number_format import format_mean_std
from comparisons.reporting._summary import SummaryRow
from comparisons.reporting._table_layout import (
    DETAIL_METRICS,
    MODEL_FACTS,
    PAPER_METRICS,
    PRECISION_RECALL,
    cells,
    metric_settings,
    order_methods,
    unique,
)

#: An extra metric with more settings than this gets a table of its own.
_MAX_SHARED_SETTINGS = 3

_NOTE = (
    "Mean ± sample std over seeds (3 significant digits; the mean alone for one seed). "
    "**Bold**: best mean per column (↑ higher, ↓ lower, →1 closest to 1). "
    "[k/N]: only k of the N seeds had a value. †: the seeds' values summarise different "
    "numbers of examples."
)


@dataclass(frozen=True)
class Column:
    """One table column: a metric at one setting."""

    metric: str
    setting: str

    @property
    def header(self) -> str:
        arrow = direction_label(metric_direction(self.metric))
        text = self.metric if not self.setting else f"{self.metric} {self.setting}"
        return f"{text} {arrow}".strip()


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table (``|`` in cells escaped)."""
    lines = [_line(header), _line(["---"] * len(header))]
    lines.extend(_line(row) for row in rows)
    return "\n".join(lines)


def _line(cells_: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells_) + " |"


def _cell_text(s: SummaryRow | None, seeds_expected: int) -> str:
    if s is None:
        return "—"
    text = format_mean_std(s.mean, s.std)
    if s.n_seeds < seeds_expected:
        text += f" [{s.n_seeds}/{seeds_expected}]"
    if s.n_varies:
        text += " †"
    return text


def grid_table(
    summary: Sequence[SummaryRow],
    row_names: Sequence[str],
    row_key: str,
    columns: Sequence[Column],
    fixed: dict[str, str],
    first_header: str,
    bold: bool = True,
) -> str:
    """A table of ``row_names`` x ``columns`` from the summary rows matching ``fixed``.

    Args:
        summary: The summary.
        row_names: The values of ``row_key`` (``"method"`` or ``"model"``), one per row.
        row_key: The :class:`SummaryRow` field the rows differ in.
        columns: The metric/setting columns.
        fixed: Field -> value every used summary row must have (e.g. dataset and model).
        first_header: Header of the name column.
        bold: Bold the best mean per column (direction from :func:`metric_direction`).
    """
    index = {
        (getattr(s, row_key), s.metric, s.setting): s
        for s in summary
        if all(getattr(s, k) == v for k, v in fixed.items())
    }
    found = [index.get((name, c.metric, c.setting)) for c in columns for name in row_names]
    seeds_expected = max((s.n_seeds_total for s in found if s is not None), default=0)
    table = [[name] for name in row_names]
    for column in columns:
        entries = [index.get((name, column.metric, column.setting)) for name in row_names]
        winners = (
            set(
                best_indices(
                    [float("nan") if e is None else e.mean for e in entries],
                    metric_direction(column.metric),
                )
            )
            if bold
            else set()
        )
        for i, entry in enumerate(entries):
            text = _cell_text(entry, seeds_expected)
            table[i].append(f"**{text}**" if i in winners else text)
    return markdown_table([first_header, *(c.header for c in columns)], table)


def _cell_methods(summary: Sequence[SummaryRow], dataset: str, model: str) -> list[str]:
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
    summary: Sequence[SummaryRow], dataset: str, model: str, metrics: Sequence[str], bold: bool
) -> str | None:
    columns = _columns(summary, metrics, dataset, model)
    methods = [
        m
        for m in _cell_methods(summary, dataset, model)
        if any(
            (s.dataset, s.model, s.method, s.metric) == (dataset, model, m, c.metric)
            for s in summary
            for c in columns
        )
    ]
    if not columns or not methods:
        return None
    fixed = {"dataset": dataset, "model": model}
    return grid_table(summary, methods, "method", columns, fixed, "method", bold)


def paper_metrics_table(summary: Sequence[SummaryRow], dataset: str, model: str) -> str | None:
    """Methods x (F1 ratio per alpha, adversarial correlation per eps), best in bold;
    ``None`` when the cell has neither metric."""
    return _method_table(summary, dataset, model, PAPER_METRICS, bold=True)


def detail_metrics_table(summary: Sequence[SummaryRow], dataset: str, model: str) -> str | None:
    """Methods x the parts of the paper's metrics (F1 clean/high/low, correlation spread and
    undefined count), not ranked; ``None`` when absent."""
    return _method_table(summary, dataset, model, DETAIL_METRICS, bold=False)


def extra_metric_names(summary: Sequence[SummaryRow], dataset: str, model: str) -> list[str]:
    """The method-level metrics of a cell that are neither the paper's nor their parts."""
    skip = set(PAPER_METRICS) | set(DETAIL_METRICS)
    return unique(
        s.metric
        for s in summary
        if (s.dataset, s.model) == (dataset, model) and s.method and s.metric not in skip
    )


def extra_metrics_tables(
    summary: Sequence[SummaryRow], dataset: str, model: str
) -> list[tuple[str, str]]:
    """(title, table) pairs: one table of the extra metrics with few settings, and one per
    metric with many (e.g. ``randomization-similarity`` per layer), best in bold."""
    names = extra_metric_names(summary, dataset, model)
    shared = [
        m for m in names if len(metric_settings(summary, m, dataset, model)) <= _MAX_SHARED_SETTINGS
    ]
    tables = []
    table = _method_table(summary, dataset, model, shared, bold=True) if shared else None
    if table is not None:
        tables.append(("Extra metrics", table))
    for metric in names:
        if metric in shared:
            continue
        table = _method_table(summary, dataset, model, [metric], bold=True)
        if table is not None:
            tables.append((metric, table))
    return tables


def _model_table(
    summary: Sequence[SummaryRow], dataset: str, metrics: Sequence[str], settings_last: str
) -> str | None:
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
    models = [m for d, m in cells(summary) if d == dataset and any(s.model == m for s in rows)]
    return grid_table(
        summary, models, "model", columns, {"dataset": dataset, "method": ""}, "model", bold=False
    )


def precision_recall_table(summary: Sequence[SummaryRow], dataset: str) -> str | None:
    """The paper's Table II for one dataset: models x (test precision, recall) per class,
    ``class=macro`` last; ``None`` when the run has no such rows."""
    return _model_table(summary, dataset, PRECISION_RECALL, "class=macro")


def model_facts_table(summary: Sequence[SummaryRow], dataset: str) -> str | None:
    """Models x (test accuracy, best epoch, training seconds); ``None`` when absent."""
    return _model_table(summary, dataset, MODEL_FACTS, "")


def summary_markdown(summary: Sequence[SummaryRow]) -> str:
    """The whole ``summary.md``: per dataset x model the method tables, then per dataset
    Table II and the models' facts."""
    parts = ["# Summary", "", _NOTE, ""]
    for dataset, model in cells(summary):
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
