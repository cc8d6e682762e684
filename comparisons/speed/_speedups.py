"""The exact speed-ups (Score-CAM, DeepSHAP, the batched backward), each a ratio measured
in one worker with interleaved repeats.

A :class:`SpeedupCell` times a method's variants on one model and batch, round after round
(every variant once per round, in the same order), so that the load of a shared machine
falls on all of them alike; each variant's ratio to the reference is the median of the
per-round ratios. The outputs are compared too: a speed-up only counts at equal results.

* ``ifim``: the iFIM (``ifim-sensitive``) with ``backward="auto"`` (the default),
  ``"sequential"`` and ``"batched"``, against its floor: one forward pass and C - 1
  sequential backward passes of the same rows and nothing else (``floor``), and the same
  passes batched (``floor-batched``).
* ``scorecam``: this project's Score-CAM against pytorch-grad-cam's own ``ScoreCAM`` on the
  same model and target layer (maps compared after the library's scaling); the rows
  forwarded against the library's N x K; and its opt-in ``precision="bfloat16"``, whose
  difference is its rounding (reported, not a target).
* ``deepshap``: this project's DeepSHAP against shap's ``DeepExplainer`` as users call it
  (``shap_values(x)``: every output, one sample at a time) and asked for the top output
  only (``ranked_outputs=1``, which is the target here: the predicted class), on the copy
  DeepSHAP prepares (the same model where shap's rules are exact); values compared on the
  target column.
"""

from __future__ import annotations

import csv
import logging
import statistics
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from comparisons.speed._backward_count import BackwardCounter
from comparisons.speed._target_checks import TargetCheck

logger = logging.getLogger(__name__)

COMPARISONS: tuple[str, ...] = ("ifim", "scorecam", "deepshap")

#: comparison, model, C, side, batch, background: the cells the targets suite measures.
DEFAULT_SPEEDUPS: tuple[tuple[str, str, int, int, int, int], ...] = (
    *(("ifim", "resnet18", c, 128, 16, 0) for c in (2, 3, 10)),
    *(("ifim", "shallow-cnn", c, 32, 4, 0) for c in (2, 3, 10)),
    ("scorecam", "resnet18", 10, 64, 4, 0),
    ("scorecam", "resnet18", 10, 224, 1, 0),
    ("scorecam", "shallow-cnn", 10, 64, 4, 0),
    ("deepshap", "shallow-cnn", 2, 64, 8, 16),
    ("deepshap", "shallow-cnn", 10, 64, 8, 16),
    ("deepshap", "resnet18", 3, 64, 4, 16),
)

#: comparison, model, C of the gpu suite's speed-ups (at its side and batch): the iFIM
#: against its floor, the batched backward among its variants.
GPU_SPEEDUPS: tuple[tuple[str, str, int], ...] = tuple(
    ("ifim", network, c) for network in ("tv-resnet50", "tv-vit_b_16") for c in (2, 3, 10)
)

#: Targets: the iFIM at most this many times its floor; Score-CAM at most pytorch-grad-cam's
#: time; DeepSHAP at most this share of shap's; equal results within these tolerances.
IFIM_FLOOR_RATIO = 1.05
#: The iFIM's floor target holds for passes of at least this many seconds. Below, what a
#: call costs once whatever the network (input checks, the C x C eigendecomposition, the
#: lift and the projection: about 1 ms on the 2-core AMD EPYC) is over 5 % of the floor by
#: construction, and the cell reports that cost in milliseconds instead (the shallow CNN at
#: 32 px, batch 4: a 2-9 ms floor).
IFIM_TARGET_MIN_FLOOR_S = 0.02
SCORECAM_RATIO = 1.0
DEEPSHAP_RATIO = 0.25
RELATIVE_TOLERANCE = 1e-4
#: Rounds timed at least (up to ``repeats``), whatever the budget: a ratio from one round
#: on a shared machine is one sample of its load.
MIN_ROUNDS = 3


@dataclass(frozen=True)
class SpeedupCell:
    """One comparison on one model and batch (see the module docstring).

    Attributes:
        comparison: One of :data:`COMPARISONS`.
        model, num_classes, side, batch: The network, C, the image side, N.
        background: DeepSHAP's background samples (0 for the others).
        device, threads, repeats, warmup, cell_budget_s, seed: As in
            :class:`comparisons.speed.TimedCell`; ``repeats`` is the most rounds.
    """

    comparison: str
    model: str
    num_classes: int
    side: int
    batch: int
    background: int = 0
    device: str = "cpu"
    threads: int = 1
    repeats: int = 5
    warmup: int = 1
    cell_budget_s: float = 10.0
    seed: int = 0


@dataclass
class SpeedupRow:
    """One variant of a :class:`SpeedupCell`: a line of ``speedups.csv``.

    Attributes:
        comparison, model, num_classes, side, batch, background, device, threads: The cell.
        variant: What was timed; ``reference``: the variant the ratio is to.
        status: ``ok`` or ``failed`` (``reason`` says why).
        rounds: Interleaved rounds timed.
        median_s, min_s: Seconds per call.
        ratio: Median over the rounds of this variant's time over the reference's.
        difference: Largest absolute difference of the output from the reference output
            (the other implementation's), relative to the reference's largest magnitude;
            empty where there is nothing to compare.
        backward_passes: Per call (batched calls count the passes they vectorize).
        rows_forwarded: Score-CAM: masked rows forwarded per call.
    """

    comparison: str
    model: str
    num_classes: int
    side: int
    batch: int
    background: int
    device: str
    threads: int
    variant: str
    reference: str
    status: str
    reason: str = ""
    rounds: int = 0
    median_s: float | None = None
    min_s: float | None = None
    ratio: float | None = None
    difference: float | None = None
    backward_passes: int | None = None
    rows_forwarded: int | None = None

    @classmethod
    def for_cell(cls, cell: SpeedupCell, variant: str, reference: str, status: str) -> SpeedupRow:
        """A row with the cell's description only."""
        return cls(
            comparison=cell.comparison,
            model=cell.model,
            num_classes=cell.num_classes,
            side=cell.side,
            batch=cell.batch,
            background=cell.background,
            device=cell.device,
            threads=cell.threads,
            variant=variant,
            reference=reference,
            status=status,
        )


SPEEDUP_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SpeedupRow))


@dataclass
class _Variant:
    call: Callable[[], Any]
    output: Callable[[Any], Tensor | None] = lambda result: None
    rows: Callable[[], int | None] = lambda: None


def plan_speedups(
    suites: Sequence[str],
    models: Sequence[str] | None,
    classes: Sequence[int] | None,
    sides: Sequence[int] | None,
    gpu_side: int = 224,
    gpu_batch: int = 32,
    **settings: Any,
) -> list[SpeedupCell]:
    """The speed-up cells of a run: :data:`DEFAULT_SPEEDUPS` when ``targets`` or
    ``speedups`` is among ``suites``, filtered by the models, classes and sides given, and
    :data:`GPU_SPEEDUPS` at ``gpu_side`` and ``gpu_batch`` when ``gpu`` is (filtered by
    the models and classes: the gpu suite keeps its one size)."""
    cells = []
    if {"targets", "speedups"} & set(suites):
        cells += [
            SpeedupCell(comparison, model, c, side, batch, background, **settings)
            for comparison, model, c, side, batch, background in DEFAULT_SPEEDUPS
            if (models is None or model in models)
            and (classes is None or c in classes)
            and (sides is None or side in sides)
        ]
    if "gpu" in suites:
        cells += [
            SpeedupCell(comparison, model, c, gpu_side, gpu_batch, 0, **settings)
            for comparison, model, c in GPU_SPEEDUPS
            if (models is None or model in models) and (classes is None or c in classes)
        ]
    return cells


def _network(cell: SpeedupCell) -> tuple[nn.Module, Tensor, Tensor, Tensor]:
    from comparisons.models import build_model
    from comparisons.speed._zoo import ZOO_NETWORKS, build_zoo_network

    if cell.model in ZOO_NETWORKS:
        shape = ZOO_NETWORKS[cell.model].input_shape(1, cell.side)[1:]
        model = build_zoo_network(cell.model, cell.num_classes, cell.side, cell.seed)
    else:
        shape = (1, cell.side, cell.side)
        model = build_model(cell.model, 1, cell.num_classes, shape[1:], seed=cell.seed).eval()
    model = model.to(cell.device)
    generator = torch.Generator().manual_seed(cell.seed + 1)
    inputs = torch.randn(cell.batch, *shape, generator=generator).to(cell.device)
    background = torch.randn(max(cell.background, 1), *shape, generator=generator)
    with torch.no_grad():
        targets = model(inputs).argmax(dim=1)
    return model, inputs, background.to(cell.device), targets


def _floor(model: nn.Module, inputs: Tensor, batched: bool) -> Callable[[], Any]:
    """One forward pass and the C - 1 backward passes of the iFIM's rows, nothing else."""
    from captum_ifim.functional import per_sample_row_gradients

    def call() -> Any:
        leaf = inputs.detach().requires_grad_(True)
        outputs = model(leaf)
        reference = outputs.detach().argmax(dim=1, keepdim=True)
        rows = outputs - outputs.gather(1, reference)
        others = rows.new_ones(rows.shape, dtype=torch.bool).scatter_(1, reference, False)
        rows = rows[others].view(rows.shape[0], -1)
        return per_sample_row_gradients(rows, (leaf,), "batched" if batched else "sequential")

    return call


def _ifim_variants(cell: SpeedupCell) -> tuple[str, dict[str, _Variant]]:
    from captum_ifim import build_method

    model, inputs, _, _ = _network(cell)
    variants = {
        "floor": _Variant(_floor(model, inputs, batched=False)),
        "floor-batched": _Variant(_floor(model, inputs, batched=True)),
    }
    for backward in ("auto", "sequential", "batched"):
        method = build_method("ifim-sensitive", model, backward=backward)
        variants[f"ifim-{backward}"] = _Variant(
            lambda method=method: method.attribute(inputs), output=lambda maps: maps
        )
    return "floor", variants


def _scorecam_variants(cell: SpeedupCell) -> tuple[str, dict[str, _Variant]]:
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from captum_ifim import build_method
    from captum_ifim._baselines._score_cam import _quiet_progress_bar

    model, inputs, _, targets = _network(cell)
    ours = build_method("scorecam", model)
    bfloat16 = build_method("scorecam", model, precision="bfloat16")
    layer = ours.method.target_layer
    library_targets = [ClassifierOutputTarget(int(t)) for t in targets]

    def library() -> np.ndarray:
        with _quiet_progress_bar(pytorch_grad_cam.score_cam):
            cam = pytorch_grad_cam.ScoreCAM(model, [layer])
            try:
                return cam(inputs, targets=library_targets)
            finally:
                cam.activations_and_grads.release()

    return "pytorch-grad-cam", {
        "pytorch-grad-cam": _Variant(library, output=lambda maps: torch.from_numpy(maps)),
        "ours": _Variant(
            lambda: ours.attribute(inputs, target=targets),
            output=lambda maps: maps[:, 0].cpu(),
            rows=lambda: ours.method.rows_forwarded,
        ),
        # Opt-in and not exact: its difference is the bfloat16 rounding, reported, no target.
        "ours-bfloat16": _Variant(
            lambda: bfloat16.attribute(inputs, target=targets),
            output=lambda maps: maps[:, 0].cpu(),
            rows=lambda: bfloat16.method.rows_forwarded,
        ),
    }


def _deepshap_variants(cell: SpeedupCell) -> tuple[str, dict[str, _Variant]]:
    import shap

    from captum_ifim import build_method
    from captum_ifim._baselines._model_preparation import prepare_model_for_deepshap
    from captum_ifim._baselines._rescale_modules import register_rescale_rule
    from captum_ifim._optional_imports import import_optional

    model, inputs, background, targets = _network(cell)
    register_rescale_rule(import_optional("shap.explainers._deep.deep_pytorch", "DeepSHAP"))
    prepared = prepare_model_for_deepshap(model)
    ours = build_method("deepshap", model, background=background)
    rows = torch.arange(len(targets))

    def target_column(values: Any) -> Tensor:
        array = np.asarray(values[0] if isinstance(values, tuple) else values)
        return torch.from_numpy(array)[rows, ..., 0 if isinstance(values, tuple) else targets]

    def every_output() -> Any:
        return shap.DeepExplainer(prepared, background).shap_values(inputs)

    def top_output() -> Any:
        explainer = shap.DeepExplainer(prepared, background)
        return explainer.shap_values(inputs, ranked_outputs=1, check_additivity=False)

    return "shap", {
        "shap": _Variant(every_output, output=lambda values: target_column(values).float()),
        "shap-top-output": _Variant(
            top_output, output=lambda values: target_column(values).float()
        ),
        "ours": _Variant(
            lambda: ours.attribute(inputs, target=targets), output=lambda v: v.detach().cpu()
        ),
    }


_BUILDERS = {"ifim": _ifim_variants, "scorecam": _scorecam_variants, "deepshap": _deepshap_variants}


def measure_speedup(cell: SpeedupCell) -> list[SpeedupRow]:
    """Time every variant of ``cell`` in interleaved rounds and compare their outputs.

    Returns:
        One row per variant (``failed`` rows, with the error, if anything failed).
    """
    try:
        return _measure(cell)
    except Exception as error:  # the benchmark goes on; the row says what went wrong
        logger.debug("speed-up %s failed:\n%s", cell, traceback.format_exc())
        row = SpeedupRow.for_cell(cell, "all", "", "failed")
        row.reason = f"{type(error).__name__}: {error}"
        return [row]


def _measure(cell: SpeedupCell) -> list[SpeedupRow]:
    torch.set_num_threads(cell.threads)
    warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")
    reference, variants = _BUILDERS[cell.comparison](cell)
    outputs: dict[str, Tensor | None] = {}
    passes: dict[str, int] = {}
    for name, variant in variants.items():
        with BackwardCounter() as counter:
            outputs[name] = variant.output(variant.call())
        passes[name] = counter.count
    for _ in range(cell.warmup - 1):
        for variant in variants.values():
            variant.call()
    times: dict[str, list[float]] = {name: [] for name in variants}
    rounds = cell.repeats
    while len(times[reference]) < rounds:
        for name, variant in variants.items():
            start = time.perf_counter()
            variant.call()
            times[name].append(time.perf_counter() - start)
        if len(times[reference]) == 1:
            first_round = sum(t[0] for t in times.values())
            fitting = int(cell.cell_budget_s // max(first_round, 1e-9))
            rounds = min(cell.repeats, max(MIN_ROUNDS, fitting))
    compared = _compared_output(cell.comparison, reference, outputs)
    rows = []
    for name, variant in variants.items():
        row = SpeedupRow.for_cell(cell, name, reference, "ok")
        row.rounds = len(times[name])
        row.median_s = statistics.median(times[name])
        row.min_s = min(times[name])
        ratios = [t / r for t, r in zip(times[name], times[reference], strict=True)]
        row.ratio = statistics.median(ratios)
        row.difference = _difference(outputs[name], outputs.get(compared.get(name, "")))
        row.backward_passes = passes[name]
        row.rows_forwarded = variant.rows()
        rows.append(row)
    return rows


def _compared_output(comparison: str, reference: str, outputs: dict[str, Any]) -> dict[str, str]:
    """Which variant's output each variant's is compared with."""
    if comparison == "ifim":
        return {name: "ifim-sequential" for name in outputs if name.startswith("ifim-")} | {
            "ifim-sequential": "ifim-batched"
        }
    return {name: reference for name in outputs if name != reference} | {reference: "ours"}


def _difference(output: Tensor | None, other: Tensor | None) -> float | None:
    if output is None or other is None or output is other:
        return None
    scale = float(other.abs().max()) or 1.0
    return float((output.double() - other.double()).abs().max()) / scale


def write_speedup_rows(rows: Sequence[SpeedupRow], path: Path) -> Path:
    """Write ``rows`` to ``path`` (``None`` is an empty field)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SPEEDUP_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
    return path


def speedup_table(rows: Sequence[SpeedupRow]) -> list[str]:
    """The markdown lines of the speed-ups (none without rows)."""
    if not rows:
        return []
    lines = ["", "## Speed-ups (variants interleaved in one worker)", ""]
    lines += [
        "| comparison | model | C | side | batch | variant | median s | x reference "
        "| difference | backward passes | rows forwarded | rounds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.status != "ok":
            lines.append(
                f"| {r.comparison} | {r.model} | {r.num_classes} | {r.side} | {r.batch} | "
                f"failed: {r.reason} | | | | | | |"
            )
            continue
        ratio = f"{r.ratio:.3f} x {r.reference}" if r.ratio is not None else ""
        difference = f"{r.difference:.1e}" if r.difference is not None else ""
        lines.append(
            f"| {r.comparison} | {r.model} | {r.num_classes} | {r.side} | {r.batch} | "
            f"{r.variant} | {r.median_s:.4g} | {ratio} | {difference} | "
            f"{'' if r.backward_passes is None else r.backward_passes} | "
            f"{'' if r.rows_forwarded is None else r.rows_forwarded} | {r.rounds} |"
        )
    return lines


def check_speedups(rows: Sequence[SpeedupRow]) -> list[TargetCheck]:
    """The issue's speed-up targets from measured rows (PASS, FAIL or NOT MEASURED)."""
    ok = [r for r in rows if r.status == "ok" and r.ratio is not None]
    checks = []
    for r in ok:
        equal = r.difference is not None and r.difference <= RELATIVE_TOLERANCE
        where = f"{r.model}, C = {r.num_classes}, {r.side} px, batch {r.batch}"
        if r.comparison == "ifim" and r.variant == "ifim-auto":
            batched = next(
                (b for b in ok if _same_cell(b, r) and b.variant == "ifim-batched"), None
            )
            extra = f"; batched: {batched.ratio:.3f} x the floor" if batched is not None else ""
            floor = next((f for f in ok if _same_cell(f, r) and f.variant == "floor"), None)
            floor_s = floor.median_s if floor is not None else None
            small = floor_s is not None and floor_s < IFIM_TARGET_MIN_FLOOR_S
            if small and r.median_s is not None:
                extra += (
                    f"; a {floor_s * 1e3:.1f} ms floor, {(r.median_s - floor_s) * 1e3:.2f} ms "
                    "a call over it"
                )
            checks.append(
                TargetCheck(
                    f"iFIM / floor C={r.num_classes} {r.model}",
                    f"the iFIM (backward='auto') <= {IFIM_FLOOR_RATIO} x one forward and "
                    "C - 1 backward passes (a floor of at least "
                    f"{IFIM_TARGET_MIN_FLOOR_S * 1e3:.0f} ms)",
                    f"{r.ratio:.3f} ({where}, {r.rounds} rounds){extra}",
                    "NO TARGET" if small else "PASS" if r.ratio <= IFIM_FLOOR_RATIO else "FAIL",
                )
            )
        elif r.comparison == "scorecam" and r.variant == "ours":
            rows_text = f", {r.rows_forwarded} rows" if r.rows_forwarded is not None else ""
            checks.append(
                TargetCheck(
                    f"Score-CAM / pytorch-grad-cam {r.model} {r.side}px",
                    f"time <= {SCORECAM_RATIO} x pytorch-grad-cam's ScoreCAM at equal maps",
                    f"{r.ratio:.3f} ({where}{rows_text}), maps differ by {r.difference:.1e}",
                    "PASS" if r.ratio <= SCORECAM_RATIO and equal else "FAIL",
                )
            )
        elif r.comparison == "deepshap" and r.variant == "ours":
            top = next((t for t in ok if _same_cell(t, r) and t.variant == "shap-top-output"), None)
            extra = (
                f"; vs shap asked for the top output only: {r.ratio / top.ratio:.3f}"
                if top is not None and top.ratio
                else ""
            )
            checks.append(
                TargetCheck(
                    f"DeepSHAP / shap {r.model} C={r.num_classes}",
                    f"time <= {DEEPSHAP_RATIO} x shap's DeepExplainer(...).shap_values(x) "
                    "at equal values",
                    f"{r.ratio:.3f} ({where}, background {r.background}), values differ by "
                    f"{r.difference:.1e}{extra}",
                    "PASS" if r.ratio <= DEEPSHAP_RATIO and equal else "FAIL",
                )
            )
    return checks


def _same_cell(a: SpeedupRow, b: SpeedupRow) -> bool:
    return (a.comparison, a.model, a.num_classes, a.side, a.batch, a.device) == (
        b.comparison,
        b.model,
        b.num_classes,
        b.side,
        b.batch,
        b.device,
    )
