"""Cost against input size and against C: two PNG figures from the measured rows.

Each figure has one panel per (model, batch, device). ``cost_vs_pixels.png``: median
time per call against pixels, log-log, one line per method, at the smallest C of the
panel (a dashed grey line of slope 1 marks linear cost). ``cost_vs_classes.png``: median
time against C at the side where the most methods were measured for several C. Cells
with scaled logits (same cost, other probabilities) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from comparisons.speed._timed_cell import IFIM, METHODS, Row, method_label

Panel = tuple[str, int, str]


def _panels(rows: Sequence[Row]) -> dict[Panel, list[Row]]:
    panels: dict[Panel, list[Row]] = {}
    for row in rows:
        if row.status == "ok" and row.median_s is not None and row.logit_scale == 1:
            panels.setdefault((row.model, row.batch, row.device), []).append(row)
    return dict(sorted(panels.items()))


def _lines(rows: Sequence[Row], x: str) -> dict[str, list[tuple[float, float]]]:
    lines: dict[str, list[tuple[float, float]]] = {}
    for row in sorted(rows, key=lambda r: (METHODS.index(r.method), getattr(r, x))):
        label = method_label(row)
        lines.setdefault(label, []).append((float(getattr(row, x)), float(row.median_s or 0)))
    return lines


def _side_for_classes(rows: Sequence[Row]) -> int:
    counts: dict[int, int] = {}
    for side in {r.side for r in rows}:
        at_side = [r for r in rows if r.side == side]
        labels = [method_label(r) for r in at_side]
        methods = {label for label in labels if labels.count(label) > 1}
        counts[side] = len(methods)
    return max(counts, key=lambda side: (counts[side], side))


def plot_costs(rows: Sequence[Row], output: Path) -> list[Path]:
    """Write ``cost_vs_pixels.png`` and ``cost_vs_classes.png`` into ``output``.

    Args:
        rows: Measured rows (only ``ok`` ones are drawn).
        output: The folder.

    Returns:
        The two paths (figures with no measured row say so in their title).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output.mkdir(parents=True, exist_ok=True)
    panels = _panels(rows)
    paths = []
    for name, x in (("cost_vs_pixels.png", "pixels"), ("cost_vs_classes.png", "num_classes")):
        count = max(1, len(panels))
        figure, axes = plt.subplots(1, count, figsize=(5.5 * count, 4.2), squeeze=False)
        if not panels:
            axes[0, 0].set_title("no measured cells")
        for axis, ((model, batch, device), panel_rows) in zip(
            axes[0], panels.items(), strict=False
        ):
            if x == "pixels":
                fixed = min(r.num_classes for r in panel_rows)
                chosen = [r for r in panel_rows if r.num_classes == fixed]
                subtitle = f"C = {fixed}"
            else:
                fixed = _side_for_classes(panel_rows)
                chosen = [r for r in panel_rows if r.side == fixed]
                subtitle = f"{fixed} x {fixed}"
            for label, points in _lines(chosen, x).items():
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=label)
            if x == "pixels" and chosen:
                base = min(chosen, key=lambda r: (r.pixels, r.method != IFIM))
                pixels = sorted({float(r.pixels) for r in chosen})
                axis.plot(
                    pixels,
                    [float(base.median_s or 0) * p / base.pixels for p in pixels],
                    linestyle="--",
                    color="grey",
                    label="linear",
                )
                axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("pixels per image" if x == "pixels" else "classes C")
            axis.set_ylabel("median seconds per call")
            axis.set_title(f"{model}, batch {batch}, {device}, {subtitle}")
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=7)
        figure.tight_layout()
        path = output / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        paths.append(path)
    return paths
