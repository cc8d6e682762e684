"""``write_report``: a run folder in, ``summary.md``, ``summary.csv``, ``figures/*.png`` and
``report.md`` out."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from comparisons._atomic import write_text
from comparisons.reporting._bar_figures import write_adversarial_bars, write_f1_ratio_bars
from comparisons.reporting._figure_output import FigureResult
from comparisons.reporting._map_grid_figure import write_map_grid
from comparisons.reporting._markdown_tables import (
    detail_metrics_table,
    extra_metrics_tables,
    model_facts_table,
    paper_metrics_table,
    precision_recall_table,
    summary_markdown,
)
from comparisons.reporting._reading import reading_findings, reading_markdown
from comparisons.reporting._run_description import (
    environment_markdown,
    methods_markdown,
    metrics_without_rows,
    run_markdown,
)
from comparisons.reporting._spectrum_figure import write_spectrum
from comparisons.reporting._summary import SummaryRow, summarize, summary_csv
from comparisons.reporting._table_layout import cells, unique
from comparisons.reporting._timing_figure import write_timing
from comparisons.run_folder import RunContents, read_run_contents

logger = logging.getLogger(__name__)

#: Rows (test images) of each map grid.
GRID_ROWS = 4


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name)


def _first_seed(run: RunContents, dataset: str, model: str) -> int | None:
    seeds = sorted({e.seed for e in run.examples if (e.dataset, e.model) == (dataset, model)})
    if not seeds:
        return None
    configured = run.config.get("run", {}).get("seeds", [])
    ordered = [s for s in configured if s in seeds] if isinstance(configured, list) else []
    return (ordered or seeds)[0]


def _embed(result: FigureResult, run_dir: Path, alt: str) -> list[str]:
    if result.path is None:
        return [f"_{alt}: not drawn ({'; '.join(result.notes) or 'nothing to draw'})._", ""]
    relative = result.path.relative_to(run_dir).as_posix()
    return [f"![{alt}]({relative})", "", f"*{result.caption}*", ""]


def _section(title: str, table: str | None) -> list[str]:
    return [] if table is None else [f"#### {title}", "", table, ""]


def _report_markdown(
    run: RunContents, summary: Sequence[SummaryRow], figures: dict[str, list[FigureResult]]
) -> str:
    name = run.config.get("run", {}).get("name", run.path.name)
    datasets = unique(s.dataset for s in summary)
    lines = [
        f"# Comparison report: {name}",
        "",
        "The iFIM decomposition (Sengupta & Anastasio) against the baseline attribution "
        "methods. Tables: mean ± sample std over seeds (3 significant digits; the mean alone "
        "for a single seed), **bold** = best mean per column (↑ higher, ↓ lower, →1 closest "
        "to 1); [k/N] = only k of N seeds had a value; † = the seeds' values summarise "
        "different numbers of examples. All tables are also in `summary.md`, every group's "
        "numbers in `summary.csv`.",
        "",
        "## What was run",
        "",
        run_markdown(run.config, run.rows),
        "## Environment",
        "",
        environment_markdown(run.environment),
        "## Classifiers (Table II)",
        "",
    ]
    any_model = False
    for dataset in datasets:
        for title, table in (
            ("test precision and recall per class", precision_recall_table(summary, dataset)),
            ("accuracy and training", model_facts_table(summary, dataset)),
        ):
            if table is not None:
                any_model = True
                lines += [f"#### {dataset}: {title}", "", table, ""]
    if not any_model:
        lines += ["The run has no model-level rows.", ""]
    lines += ["## The paper's metrics (Figs. 3 and 4)", ""]
    for dataset, model in cells(summary):
        lines += _section(f"{dataset} / {model}", paper_metrics_table(summary, dataset, model))
    lines += _embed(figures["f1"][0], run.path, "F1 ratio")
    lines += _embed(figures["adversarial"][0], run.path, "adversarial correlation")
    lines += ["## Maps (Figs. 1 and 2)", ""]
    for result in figures["grids"]:
        lines += _embed(result, run.path, "map grid")
    if not figures["grids"]:
        lines += ["_No example files: no map grids._", ""]
    lines += ["## The iFIM spectrum", ""]
    lines += _embed(figures["spectrum"][0], run.path, "iFIM eigenvalue spectrum")
    lines += ["## Extra metrics", ""]
    for dataset, model in cells(summary):
        lines += _section(
            f"{dataset} / {model}: parts of the paper's metrics",
            detail_metrics_table(summary, dataset, model),
        )
        for title, table in extra_metrics_tables(summary, dataset, model):
            lines += _section(f"{dataset} / {model}: {title}", table)
    lines += ["## Attribution time", ""]
    lines += _embed(figures["timing"][0], run.path, "seconds per image")
    lines += [
        "## Reading the results",
        "",
        "Computed from the means above (the direction as the paper reads it: F1 ratio "
        "higher, adversarial correlation lower).",
        "",
        reading_markdown(reading_findings(summary)),
        "## Methods",
        "",
        methods_markdown(run.methods, unique(r.method for r in run.rows)),
    ]
    notes = [n for results in figures.values() for r in results for n in r.notes]
    notes += [f"`{m}` is not in the run folder." for m in run.missing]
    notes += [f"Skipped {s}." for s in run.skipped]
    notes += metrics_without_rows(run.config, run.rows)
    lines += ["## Not drawn or missing", ""]
    lines += [f"- {n}" for n in unique(notes)] if notes else ["Nothing: every part was drawn."]
    lines.append("")
    if run.config_text:
        lines += ["## Appendix: config.toml", "", "```toml", run.config_text.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(run_dir: Path) -> Path:
    """Write ``summary.md``, ``summary.csv``, ``figures/*.png`` and ``report.md`` into a run
    folder, from its ``results.json``, ``methods.json``, ``config.toml``,
    ``environment.json`` and ``examples/*.pt``.

    A pure function of the folder's inputs: a second call writes the same files. What cannot
    be drawn (a missing method, metric, mask file or a single seed's std) is skipped and
    listed under "Not drawn or missing", with the unreadable files it skipped. Every file is
    written atomically: a full disk leaves the previous ones intact.

    Args:
        run_dir: The run folder.

    Returns:
        The path of ``report.md``.

    Raises:
        FileNotFoundError: No ``results.json``.
        ValueError: A malformed file.

    Example:
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> from comparisons.reporting import write_report
        >>> run = Path(tempfile.mkdtemp())
        >>> rows = [{"dataset": "d", "model": "m", "seed": s, "method": "saliency",
        ...          "metric": "f1-ratio", "setting": "alpha=0.01", "value": v, "n": 8}
        ...         for s, v in [(0, 1.2), (1, 1.4)]]
        >>> _ = (run / "results.json").write_text(json.dumps(rows))
        >>> write_report(run).name, (run / "figures" / "f1_ratio.png").is_file()
        ('report.md', True)
    """
    run_dir = Path(run_dir)
    run = read_run_contents(run_dir)
    summary = summarize(run.rows)
    write_text(run_dir / "summary.md", summary_markdown(summary))
    write_text(run_dir / "summary.csv", summary_csv(summary))
    figures_dir = run_dir / "figures"
    figures_dir.mkdir(exist_ok=True)
    grids = []
    for dataset, model in unique_cells(run):
        seed = _first_seed(run, dataset, model)
        if seed is None:
            continue
        path = figures_dir / f"maps__{_safe(dataset)}__{_safe(model)}.png"
        grids.append(write_map_grid(run, dataset, model, seed, path, GRID_ROWS))
    figures = {
        "grids": grids,
        "f1": [write_f1_ratio_bars(summary, figures_dir / "f1_ratio.png")],
        "adversarial": [
            write_adversarial_bars(summary, figures_dir / "adversarial_correlation.png")
        ],
        "spectrum": [write_spectrum(run, figures_dir / "eigenvalue_spectrum.png")],
        "timing": [write_timing(summary, figures_dir / "seconds_per_image.png")],
    }
    report = run_dir / "report.md"
    write_text(report, _report_markdown(run, summary, figures))
    logger.info("wrote %s", report)
    return report


def unique_cells(run: RunContents) -> list[tuple[str, str]]:
    """(dataset, model) pairs with rows or example files, rows' order first."""
    pairs = cells(summarize(run.rows)) + [(e.dataset, e.model) for e in run.examples]
    return list(dict.fromkeys(pairs))
