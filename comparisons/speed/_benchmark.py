"""The whole benchmark: plan the cells, measure each in its own worker, write the outputs."""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from comparisons._environment import load_average, processor_name
from comparisons.speed._isolation import run_isolated
from comparisons.speed._plan import PlanOptions, plan_cells
from comparisons.speed._plots import plot_costs
from comparisons.speed._results_csv import write_rows
from comparisons.speed._speedups import (
    SpeedupRow,
    check_speedups,
    plan_speedups,
    speedup_table,
    write_speedup_rows,
)
from comparisons.speed._summary import summary_markdown, write_summary
from comparisons.speed._target_checks import TargetCheck, check_targets
from comparisons.speed._timed_cell import Row, timed_methods
from comparisons.speed._zoo import ZOO_NETWORKS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkResult:
    """What a run produced.

    Attributes:
        rows: Every row, measured, skipped and failed, in report order.
        checks: The target checks per device.
        csv: The results CSV. ``summary``: the markdown summary. ``figures``: the PNGs.
        speedups: The speed-up rows (``speedups.csv``; none unless the targets or
            speedups suite ran).
    """

    rows: list[Row]
    checks: dict[str, list[TargetCheck]]
    csv: Path
    summary: Path
    figures: list[Path]
    speedups: list[SpeedupRow] = field(default_factory=list)


def add_saliency_ratios(rows: Sequence[Row]) -> None:
    """Set ``ratio_to_saliency`` of every measured row from its configuration's Saliency row."""

    def configuration(r: Row) -> tuple[object, ...]:
        return (r.model, r.num_classes, r.side, r.batch, r.logit_scale, r.device)

    reference = {
        configuration(r): r.median_s for r in rows if r.method == "saliency" and r.status == "ok"
    }
    for row in rows:
        base = reference.get(configuration(row))
        if row.status == "ok" and row.median_s is not None and base:
            row.ratio_to_saliency = row.median_s / base


def environment(options: PlanOptions) -> dict[str, str]:
    """The lines that say where and how the figures were measured."""
    lines = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {processor_name()}, {os.cpu_count()} logical cores",
        "device": options.device,
        "torch threads": str(options.threads),
        "load average (1, 5, 15 min) at the start": ", ".join(
            f"{value:.2f}" for value in load_average() or []
        )
        or "unknown",
        "repeats (max) / warm-up": f"{options.repeats} / {options.warmup}",
        "time budget per cell": f"{options.cell_budget_s} s",
        "memory": "one fresh worker process per cell; peak RSS (ru_maxrss) and its increase "
        "over the worker's RSS before the warm-up"
        if options.device == "cpu"
        else "torch.cuda.max_memory_allocated over the timed calls",
    }
    if options.device.startswith("cuda") and torch.cuda.is_available():
        lines["gpu"] = torch.cuda.get_device_name(torch.device(options.device))
    return lines


def run_benchmark(options: PlanOptions, output: Path, progress: bool = True) -> BenchmarkResult:
    """Measure every planned cell and write ``speed.csv``, ``summary.md`` and the figures.

    Args:
        options: What to run.
        output: The folder for the outputs (created).
        progress: Show a progress bar over the cells.

    Returns:
        A :class:`BenchmarkResult`.

    Workers are started by ``multiprocessing``'s fork server: a script that calls this
    needs the ``if __name__ == "__main__":`` guard (``python -m comparisons speed`` has it).
    """
    from tqdm import tqdm

    cells, skipped = plan_cells(options)
    speedup_cells = plan_speedups(
        options.suites,
        options.models,
        options.classes,
        options.sides,
        gpu_side=options.gpu_side,
        gpu_batch=options.gpu_batch,
        device=options.device,
        threads=options.threads,
        repeats=options.repeats,
        warmup=options.warmup,
        cell_budget_s=options.cell_budget_s,
        seed=options.seed,
    )
    logger.info(
        "%d cells to measure, %d skipped by caps, %d speed-up comparisons",
        len(cells),
        len(skipped),
        len(speedup_cells),
    )
    rows: list[Row] = []
    speedups: list[SpeedupRow] = []
    bar = tqdm(total=len(cells) + len(speedup_cells), disable=not progress, unit="cell")
    try:
        measured = run_isolated(cells)
        for cell in cells:
            bar.set_postfix_str(f"{cell.model} C={cell.num_classes} {cell.side}px {cell.method}")
            row = next(measured)
            bar.update()
            if row.status == "failed":
                logger.warning("failed: %s %s: %s", cell.method, cell.configuration, row.reason)
            elif row.status == "skipped":
                logger.info("skipped: %s %s: %s", cell.method, cell.configuration, row.reason)
            elif not progress:
                logger.info(
                    "%s %s: median %.4g s over %d calls, %s backward passes, peak %.0f MiB",
                    cell.method,
                    cell.configuration,
                    row.median_s,
                    row.repeats_done,
                    row.backward_passes,
                    row.peak_mib or 0.0,
                )
            rows.append(row)
        for speedup_cell, speedup_rows in zip(
            speedup_cells, run_isolated(speedup_cells), strict=True
        ):
            bar.update()
            for speedup in speedup_rows:
                if speedup.status == "failed":
                    logger.warning("speed-up %s failed: %s", speedup_cell, speedup.reason)
            speedups += speedup_rows
    finally:
        bar.close()
    order = {name: index for index, name in enumerate(timed_methods())}
    rows = sorted(
        rows + skipped,
        key=lambda r: (
            r.device,
            r.model,
            r.num_classes,
            r.side,
            r.batch,
            r.logit_scale,
            order[r.method],
            r.class_mass is not None,
        ),
    )
    add_saliency_ratios(rows)
    scaling = [r for r in rows if r.model not in ZOO_NETWORKS]  # the zoo has one size
    checks = check_targets(scaling)
    for device in sorted({r.device for r in speedups}):
        on_device = [r for r in speedups if r.device == device]
        checks.setdefault(device, []).extend(check_speedups(on_device))
    csv = write_rows(rows, output / "speed.csv")
    if speedups:
        write_speedup_rows(speedups, output / "speedups.csv")
    text = summary_markdown(rows, checks, environment(options))
    summary = write_summary(text + "\n".join(speedup_table(speedups)) + "\n", output / "summary.md")
    figures = plot_costs(scaling, output) if scaling else []
    for device, device_checks in checks.items():
        for check in device_checks:
            logger.info("[%s] %s %s: %s", device, check.status, check.name, check.measured)
    return BenchmarkResult(rows, checks, csv, summary, figures, speedups)
