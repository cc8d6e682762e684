"""The markdown summary: the target checks, the environment, the skipped and failed cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from comparisons.speed._plan import ZOO_METHODS
from comparisons.speed._target_checks import TargetCheck
from comparisons.speed._timed_cell import Row, method_label, timed_methods
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


def _seconds_cell(row: Row | None) -> str:
    """A zoo table's cell: seconds per image, or why there are none in one word."""
    if row is None:
        return ""
    if row.status == "ok" and row.median_s is not None:
        return _number(row.median_s / row.batch, 3)
    if row.status == "skipped" and "no exact rule" in row.reason:
        return "unsupported"
    return row.status


def zoo_table(rows: Sequence[Row]) -> list[str]:
    """Seconds per image of each method on each zoo network (markdown lines; none without
    zoo rows): :data:`ZOO_METHODS` on every network, then every other method on the
    networks that time them (a row a method). A cell that was not measured shows why in
    one word (``unsupported`` where a method has no exact rule for a module, ``failed``)."""
    zoo = [r for r in rows if r.model in ZOO_NETWORKS]
    if not zoo:
        return []
    methods = [m for m in ZOO_METHODS if any(r.method == m for r in zoo)]
    lines = ["", "## Seconds per image, per architecture (zoo suite)", ""]
    lines += ["| network | input | C | " + " | ".join(methods) + " |"]
    lines += ["|---|---|---|" + "---|" * len(methods)]
    for name, network in ZOO_NETWORKS.items():
        of_network = {r.method: r for r in zoo if r.model == name}
        if not of_network:
            continue
        first = next(iter(of_network.values()))
        size = " x ".join([str(first.side)] * network.spatial_dims)
        cells = [_seconds_cell(of_network.get(method)) for method in methods]
        lines.append(
            f"| {name} | {network.channels} x {size} | {first.num_classes} | "
            + " | ".join(cells)
            + " |"
        )
    others = [
        m for m in timed_methods() if m not in ZOO_METHODS and any(r.method == m for r in zoo)
    ]
    networks = [n for n in ZOO_NETWORKS if any(r.model == n and r.method in others for r in zoo)]
    if others:
        lines += ["", "## Seconds per image, every method (zoo suite)", ""]
        lines += ["| method | " + " | ".join(networks) + " |"]
        lines += ["|---|" + "---|" * len(networks)]
        for method in others:
            of_method = {r.model: r for r in zoo if r.method == method}
            cells = [_seconds_cell(of_method.get(name)) for name in networks]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def write_summary(text: str, path: Path) -> Path:
    """Write the summary to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
