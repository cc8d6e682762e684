"""The markdown summary: the target checks, the environment, the skipped and failed cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from comparisons.speed._target_checks import TargetCheck
from comparisons.speed._timed_cell import METHODS, Row, method_label
from comparisons.speed._zoo import ZOO_NETWORKS


def _number(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.{digits}g}"


def summary_markdown(
    rows: Sequence[Row],
    checks: Mapping[str, Sequence[TargetCheck]],
    environment: Mapping[str, str],
) -> str:
    """The summary as markdown.

    Args:
        rows: Every row of the run, skipped and failed ones included.
        checks: :func:`comparisons.speed.check_targets` of those rows.
        environment: Name-value lines (torch version, threads, ...).

    Returns:
        The document.
    """
    lines = ["# Speed benchmark", ""]
    lines += [f"- {key}: {value}" for key, value in environment.items()]
    for device, device_checks in checks.items():
        lines += ["", f"## Targets on {device}", "", "| target | measured | status |"]
        lines += ["|---|---|---|"]
        for check in device_checks:
            lines.append(f"| {check.name}: {check.target} | {check.measured} | {check.status} |")
    skipped = [r for r in rows if r.status == "skipped"]
    failed = [r for r in rows if r.status == "failed"]
    for title, group in (("Skipped cells (not measured)", skipped), ("Failed cells", failed)):
        if group:
            lines += ["", f"## {title}", ""]
            lines += [
                f"- {method_label(r)} on {r.model}, C = {r.num_classes}, {r.side} x {r.side}, "
                f"batch {r.batch}, {r.device}: {r.reason}"
                for r in group
            ]
    lines += zoo_table(rows)
    lines += ["", "## Measured cells", ""]
    lines += [
        "| model | C | side | batch | method | median s | x Saliency | backward passes "
        "| peak MiB | work MiB | repeats |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.status != "ok":
            continue
        method = method_label(r)
        if r.logit_scale != 1:
            method += f", logits x{r.logit_scale:g}"
        lines.append(
            f"| {r.model} | {r.num_classes} | {r.side} | {r.batch} | {method} | "
            f"{_number(r.median_s)} | {_number(r.ratio_to_saliency, 3)} | "
            f"{_number(r.backward_passes)} | {_number(r.peak_mib)} | {_number(r.working_mib)} | "
            f"{r.repeats_done} |"
        )
    return "\n".join(lines) + "\n"


def zoo_table(rows: Sequence[Row]) -> list[str]:
    """Seconds per image of each method on each zoo network (markdown lines; none without
    zoo rows). A cell that was not measured shows why in one word (``unsupported`` for
    DeepSHAP where shap has no exact rule, ``failed``)."""
    zoo = [r for r in rows if r.model in ZOO_NETWORKS]
    if not zoo:
        return []
    methods = [m for m in METHODS if any(r.method == m for r in zoo)]
    lines = ["", "## Seconds per image, per architecture (zoo suite)", ""]
    lines += ["| network | input | C | " + " | ".join(methods) + " |"]
    lines += ["|---|---|---|" + "---|" * len(methods)]
    for name, network in ZOO_NETWORKS.items():
        of_network = {r.method: r for r in zoo if r.model == name}
        if not of_network:
            continue
        first = next(iter(of_network.values()))
        size = " x ".join([str(first.side)] * network.spatial_dims)
        cells = []
        for method in methods:
            row = of_network.get(method)
            if row is None:
                cells.append("")
            elif row.status == "ok" and row.median_s is not None:
                cells.append(_number(row.median_s / row.batch, 3))
            elif row.status == "skipped" and "no exact rule" in row.reason:
                cells.append("unsupported")
            else:
                cells.append(row.status)
        lines.append(
            f"| {name} | {network.channels} x {size} | {first.num_classes} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def write_summary(text: str, path: Path) -> Path:
    """Write the summary to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
