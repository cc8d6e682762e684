"""The issue's targets, checked against measured rows: PASS, FAIL, NOT MEASURED, or NO
TARGET for a measured cell outside where its target holds (reported, not judged).

The iFIM is ``ifim-sensitive`` without ``class_mass`` (the exact iFIM) unless said.

* ``ifim-sensitive/saliency C=2`` and ``C=3``: iFIM time over Saliency time at most 1.15
  and 1.6 (ResNet18, batch 16, 128 x 128).
* ``naive/ifim-sensitive``: the naive per-sample, per-class loop at least 2.5 times slower
  than the iFIM, for every configuration measured at batch 16.
* ``memory at 1024``: ResNet18, C = 2, batch 4, one channel, 1024 x 1024: peak memory
  under 4 GiB (peak RSS of the whole worker on CPU, CUDA's allocator peak on a GPU).
* ``time linear in pixels`` and ``memory linear in pixels``, per model: the log-log
  slope of the iFIM's time and working memory between the two largest sides measured,
  at most 1.15 (1 is linear; an O(d^2) memory would give 2), the worst over C and batch.
  Saliency's slopes on the same cells are shown beside: the network's own forward and
  backward passes can grow faster than linearly (caches), which no attribution removes;
  ``time relative to Saliency flat in pixels`` checks the iFIM's slope is at most 0.05
  above Saliency's, i.e. that it adds nothing that grows faster than the network.
* ``C=100 backward passes``: the exact iFIM makes C - 1 backward passes and costs at
  most 1.15 (C - 1) Saliency calls (one forward and one backward).
* ``C=100 class_mass``: the restricted iFIM (``class_mass`` set) makes fewer than C - 1
  backward passes and takes less time than the exact one on the same network (one check
  per logit scale).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from comparisons.speed._timed_cell import IFIM, Row

CheckStatus = Literal["PASS", "FAIL", "NOT MEASURED", "NO TARGET"]

RATIO_C2 = 1.15
RATIO_C3 = 1.6
NAIVE_SPEEDUP = 2.5
MEMORY_LIMIT_MIB = 4 * 1024.0
SLOPE_LIMIT = 1.15
RELATIVE_SLOPE_LIMIT = 0.05
PASSES_TIME_FACTOR = 1.15
MANY_CLASSES = 100


@dataclass(frozen=True)
class TargetCheck:
    """One target: what it asks, what was measured and whether it holds.

    Attributes:
        name: Short name, e.g. ``"ifim-sensitive/saliency C=2"``.
        target: The requirement, in words.
        measured: The measured figure(s), in words (empty when not measured).
        status: ``PASS``, ``FAIL``, ``NOT MEASURED`` or ``NO TARGET``.
    """

    name: str
    target: str
    measured: str
    status: CheckStatus


def _ok(rows: Iterable[Row], **match: object) -> list[Row]:
    return [
        r
        for r in rows
        if r.status == "ok"
        and r.median_s is not None
        and all(getattr(r, key) == value for key, value in match.items())
    ]


def _one(rows: Sequence[Row], **match: object) -> Row | None:
    found = _ok(rows, **match)
    return found[0] if found else None


def _missing(name: str, target: str) -> TargetCheck:
    return TargetCheck(name, target, "", "NOT MEASURED")


def _verdict(holds: bool) -> CheckStatus:
    return "PASS" if holds else "FAIL"


def _ratio_check(rows: Sequence[Row], num_classes: int, limit: float) -> TargetCheck:
    name = f"{IFIM}/saliency C={num_classes}"
    target = f"iFIM time / Saliency time <= {limit} (ResNet18, batch 16, 128 x 128)"
    config = {"model": "resnet18", "num_classes": num_classes, "side": 128, "batch": 16}
    ifim = _one(rows, method=IFIM, class_mass=None, **config)
    saliency = _one(rows, method="saliency", **config)
    if ifim is None or saliency is None:
        return _missing(name, target)
    ratio = ifim.median_s / saliency.median_s  # type: ignore[operator]
    measured = f"{ratio:.3f} ({ifim.median_s:.4g} s / {saliency.median_s:.4g} s)"
    return TargetCheck(name, target, measured, _verdict(ratio <= limit))


def _naive_checks(rows: Sequence[Row]) -> list[TargetCheck]:
    target = f"naive time / iFIM time >= {NAIVE_SPEEDUP} at batch 16"
    checks = []
    for naive in _ok(rows, method="naive", batch=16):
        ifim = _one(
            rows,
            method=IFIM,
            class_mass=None,
            model=naive.model,
            num_classes=naive.num_classes,
            side=naive.side,
            batch=16,
        )
        if ifim is None:
            continue
        speedup = naive.median_s / ifim.median_s  # type: ignore[operator]
        name = f"naive/{IFIM} {naive.model} C={naive.num_classes} {naive.side}px"
        measured = f"{speedup:.2f}x ({naive.median_s:.4g} s / {ifim.median_s:.4g} s)"
        checks.append(TargetCheck(name, target, measured, _verdict(speedup >= NAIVE_SPEEDUP)))
    return checks or [_missing(f"naive/{IFIM}", target)]


def _memory_check(rows: Sequence[Row]) -> TargetCheck:
    name = "memory at 1024"
    target = "peak memory < 4 GiB (ResNet18, C = 2, batch 4, 1 x 1024 x 1024)"
    ifim = _one(
        rows, method=IFIM, class_mass=None, model="resnet18", num_classes=2, side=1024, batch=4
    )
    if ifim is None or ifim.peak_mib is None:
        return _missing(name, target)
    kind = "CUDA allocator peak" if ifim.device.startswith("cuda") else "peak RSS"
    measured = f"{ifim.peak_mib / 1024:.2f} GiB {kind}"
    if ifim.rss_increase_mib is not None and not ifim.device.startswith("cuda"):
        measured += f" ({ifim.rss_increase_mib / 1024:.2f} GiB above the worker's start)"
    return TargetCheck(name, target, measured, _verdict(ifim.peak_mib < MEMORY_LIMIT_MIB))


def log_log_slope(rows: Sequence[Row], value: str) -> float | None:
    """Slope of log(value) against log(pixels) between the two largest sides in ``rows``."""
    measured = sorted(
        (r.pixels, getattr(r, value) if value != "working_mib" else r.working_mib) for r in rows
    )
    points: list[tuple[int, float]] = [(p, v) for p, v in measured if v is not None and v > 0]
    if len(points) < 2 or points[-1][0] == points[-2][0]:
        return None
    (p1, v1), (p2, v2) = points[-2], points[-1]
    return math.log(v2 / v1) / math.log(p2 / p1)


def _slope_checks(rows: Sequence[Row], value: str, what: str) -> list[TargetCheck]:
    target = f"log-log slope of the iFIM's {what} against pixels <= {SLOPE_LIMIT}"
    ifim = _ok(rows, method=IFIM, class_mass=None)
    checks = []
    for model in sorted({r.model for r in ifim}):
        slopes: list[tuple[float, str, float | None]] = []  # iFIM, cells, Saliency
        for c, batch in sorted({(r.num_classes, r.batch) for r in ifim if r.model == model}):
            group = [r for r in ifim if (r.model, r.num_classes, r.batch) == (model, c, batch)]
            slope = log_log_slope(group, value)
            if slope is None:
                continue
            sides = sorted({r.side for r in group})[-2:]
            saliency = [
                r
                for r in _ok(rows, method="saliency", model=model, num_classes=c, batch=batch)
                if r.side in sides
            ]
            cells = f"C={c} batch {batch} {sides[0]}->{sides[1]}px"
            slopes.append((slope, cells, log_log_slope(saliency, value)))
        if not slopes:
            continue
        worst = max(slopes, key=lambda item: item[0])
        measured = f"worst {worst[0]:.2f} ({worst[1]}); all: " + ", ".join(
            f"{s:.2f}" for s, _, _ in slopes
        )
        known = [r for _, _, r in slopes if r is not None]
        if known:
            measured += "; Saliency on the same cells: " + ", ".join(f"{s:.2f}" for s in known)
        name = f"{what} linear in pixels, {model}"
        checks.append(TargetCheck(name, target, measured, _verdict(worst[0] <= SLOPE_LIMIT)))
        if value == "median_s" and len(known) == len(slopes):
            excess = max(s - r for s, _, r in slopes if r is not None)
            relative_target = (
                f"the iFIM's time slope at most {RELATIVE_SLOPE_LIMIT} above Saliency's "
                "(no cost beyond the network's own passes)"
            )
            checks.append(
                TargetCheck(
                    f"time relative to Saliency flat in pixels, {model}",
                    relative_target,
                    f"largest excess {excess:+.2f}",
                    _verdict(excess <= RELATIVE_SLOPE_LIMIT),
                )
            )
    return checks or [_missing(f"{what} linear in pixels", target)]


def _many_classes_checks(rows: Sequence[Row]) -> list[TargetCheck]:
    c = MANY_CLASSES
    exact_target = (
        f"exact iFIM: C - 1 = {c - 1} backward passes, time <= {PASSES_TIME_FACTOR} (C - 1) "
        "x Saliency"
    )
    mass_target = f"iFIM with class_mass: fewer than {c - 1} backward passes, faster than exact"
    exact_rows = _ok(rows, method=IFIM, class_mass=None, num_classes=c)
    if not exact_rows:
        return [
            _missing(f"C={c} backward passes", exact_target),
            _missing(f"C={c} class_mass", mass_target),
        ]
    checks = []
    for exact in exact_rows:
        scale = f", logits x{exact.logit_scale:g}" if exact.logit_scale != 1 else ""
        exact_name, mass_name = f"C={c} backward passes{scale}", f"C={c} class_mass{scale}"
        config = {
            "model": exact.model,
            "side": exact.side,
            "batch": exact.batch,
            "logit_scale": exact.logit_scale,
        }
        saliency = _one(rows, method="saliency", num_classes=c, **config)
        if saliency is None or exact.backward_passes is None:
            checks.append(_missing(exact_name, exact_target))
        else:
            ratio = exact.median_s / saliency.median_s  # type: ignore[operator]
            holds = exact.backward_passes == c - 1 and ratio <= PASSES_TIME_FACTOR * (c - 1)
            measured = (
                f"{exact.backward_passes} passes, {exact.median_s:.4g} s = {ratio:.1f} x "
                f"Saliency ({exact.model}, {exact.side}px, batch {exact.batch})"
            )
            checks.append(TargetCheck(exact_name, exact_target, measured, _verdict(holds)))
        restricted_rows = [
            r
            for r in _ok(rows, method=IFIM, num_classes=c, **config)
            if r.class_mass is not None and r.backward_passes is not None
        ]
        for restricted in restricted_rows:
            holds = (
                restricted.backward_passes < c - 1  # type: ignore[operator]
                and restricted.median_s < exact.median_s  # type: ignore[operator]
            )
            mass = restricted.retained_mass_min
            measured = (
                f"class_mass={restricted.class_mass}: {restricted.backward_passes} passes, "
                f"{restricted.median_s:.4g} s vs {exact.median_s:.4g} s exact"
                + (f", retained mass >= {mass:.4f}" if mass is not None else "")
            )
            checks.append(TargetCheck(mass_name, mass_target, measured, _verdict(holds)))
        if not restricted_rows:
            checks.append(_missing(mass_name, mass_target))
    return checks


def check_targets(rows: Sequence[Row]) -> dict[str, list[TargetCheck]]:
    """Every target, per device, from the measured rows.

    Args:
        rows: Rows of one or more runs (``failed`` and ``skipped`` rows are ignored).

    Returns:
        ``{device: [TargetCheck, ...]}`` for every device in ``rows``.
    """
    results = {}
    for device in sorted({r.device for r in rows}):
        on_device = [r for r in rows if r.device == device]
        results[device] = [
            _ratio_check(on_device, 2, RATIO_C2),
            _ratio_check(on_device, 3, RATIO_C3),
            *_naive_checks(on_device),
            _memory_check(on_device),
            *_slope_checks(on_device, "median_s", "time"),
            *_slope_checks(on_device, "working_mib", "memory"),
            *_many_classes_checks(on_device),
        ]
    return results
