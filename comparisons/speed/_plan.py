"""Which cells a run measures: the scale grid, the issue's target cells, the caps.

* ``grid``: every model x C x image side at one batch, for the grid methods (cost against
  input size and against C).
* ``zoo``: every network of :data:`comparisons.speed.ZOO_NETWORKS` (torchvision, timm,
  MONAI) at its one size (64 px images, 32^3 volumes), C = 10, batch 1, for
  :data:`ZOO_METHODS`, and every registered method on a CNN and a ViT
  (:data:`ZOO_EVERY_METHOD_NETWORKS`): what each method costs per image on the
  architectures users bring.
* ``targets``: the configurations the issue's targets name: ResNet18 at 128 x 128 and
  batch 16 with C = 2 and 3 (``ifim-sensitive``, Saliency, naive), 256 x 256 and
  1024 x 1024 at batch 4 with C = 2 (memory, and linearity in pixels), and C = 100 with and
  without ``class_mass``, on the fresh network and on a confident one (logits scaled by 4);
  and the speed-ups (:mod:`comparisons.speed._speedups`).
* ``speedups``: only the speed-ups: the iFIM against its floor (auto, sequential and
  batched backward passes), Score-CAM against pytorch-grad-cam's, DeepSHAP against
  shap's, each variant interleaved with its reference in one worker.
* ``gpu`` (for ``--device cuda``; not in ``all``): ResNet50 and ViT-B/16
  (:data:`GPU_NETWORKS`) at 224 x 224, batch 32: Saliency and the iFIM at C = 2, 3, 10 and
  1000 (at 1000 with ``class_mass``: the exact iFIM's 999 backward passes are the grid's
  C-scaling, not a GPU question), Score-CAM and DeepSHAP at C = 10 (one target per image:
  their cost does not depend on C; DeepSHAP has no exact rule on a ViT and is recorded as
  skipped there), and the iFIM against its floor with the batched backward
  (:data:`comparisons.speed._speedups.GPU_SPEEDUPS`).

Saliency, the reference of every ratio, runs in every configuration that runs anything.
Methods too slow for large images are capped (:data:`DEFAULT_MAX_SIDE`): a cell above its
cap is recorded as ``skipped`` with the reason, never run and never estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from comparisons.speed._timed_cell import NAIVE, Row, TimedCell, timed_methods
from comparisons.speed._zoo import ZOO_NETWORKS

SUITES: tuple[str, ...] = ("grid", "targets", "zoo", "speedups", "gpu")
#: ``--suite all``: every suite but ``gpu`` (minutes on one GPU, hours on a CPU).
ALL_SUITES: tuple[str, ...] = ("grid", "targets", "zoo", "speedups")
#: The ``gpu`` suite's networks, classes, image side and batch.
GPU_NETWORKS: tuple[str, ...] = ("tv-resnet50", "tv-vit_b_16")
GPU_CLASSES: tuple[int, ...] = (2, 3, 10, 1000)
GPU_SIDE = 224
GPU_BATCH = 32
#: Above this many classes the gpu suite's iFIM keeps ``class_mass`` of the softmax.
GPU_EXACT_MAX_CLASSES = 10
#: The classes at which the gpu suite times the methods whose cost does not depend on C.
GPU_MAP_CLASSES: tuple[int, ...] = (10,)
GRID_MODELS: tuple[str, ...] = ("resnet18", "shallow-cnn")
GRID_CLASSES: tuple[int, ...] = (2, 3, 10)
GRID_SIDES: tuple[int, ...] = (64, 256, 1024)
GRID_METHODS: tuple[str, ...] = (
    "saliency",
    "ifim-sensitive",
    "naive",
    "gradcam",
    "scorecam",
    "deepshap",
)
#: The zoo suite's methods on every network (the naive loop is the grid's reference only).
ZOO_METHODS: tuple[str, ...] = ("saliency", "ifim-sensitive", "gradcam", "scorecam", "deepshap")
#: The networks on which the zoo suite also times every other registered method, with its
#: default options (a row each: a method's price before choosing it): a CNN and a ViT,
#: the two layouts the other networks' rows resemble.
ZOO_EVERY_METHOD_NETWORKS: tuple[str, ...] = ("tv-resnet50", "tv-vit_b_16")
ZOO_CLASSES: tuple[int, ...] = (10,)

#: Largest image side per method and model (``"*"``: any model). Score-CAM runs one forward
#: pass per channel of the target layer and image (512 for ResNet18), DeepSHAP one backward
#: pass per image on 2 x background samples, the naive loop N x C backward passes on single
#: images: at 1024 x 1024 each would take minutes per call on a 2-core CPU.
DEFAULT_MAX_SIDE: dict[str, dict[str, int]] = {
    "scorecam": {"resnet18": 64, "*": 256},
    "deepshap": {"*": 256},
    "naive": {"*": 256},
}


@dataclass(frozen=True)
class PlanOptions:
    """What to run.

    Attributes:
        suites: Among :data:`SUITES`.
        models, classes, sides: The grid's axes (``None``: :data:`GRID_MODELS`,
            :data:`GRID_CLASSES`, :data:`GRID_SIDES`); when given, target cells outside
            them are dropped too, and zoo cells outside ``models`` and ``classes`` (the zoo
            keeps its one size).
        methods: Methods to time (``None``: :data:`GRID_METHODS` in the grid, the targets'
            own in the targets); Saliency is added wherever anything runs.
        batch: The grid's batch size (the target cells have the issue's batches).
        zoo_batch: The zoo suite's batch size.
        gpu_side, gpu_batch: The gpu suite's image side and batch size.
        class_mass: The mass the restricted iFIM keeps (``ifim-sensitive`` with its
            ``class_mass`` option, in the C = 100 target cells).
        many_class_scales: The logit scales of the C = 100 target cells (see
            :class:`comparisons.speed.TimedCell`): 1, the fresh network, whose softmax is nearly
            flat over 100 classes, and 4, a confident one (top class near 0.45).
        max_side: Overrides of :data:`DEFAULT_MAX_SIDE` for every model, ``{method: side}``.
        device, threads, repeats, warmup, cell_budget_s, background, seed: As in
            :class:`comparisons.speed.TimedCell`.
    """

    suites: tuple[str, ...] = ALL_SUITES
    models: tuple[str, ...] | None = None
    classes: tuple[int, ...] | None = None
    sides: tuple[int, ...] | None = None
    methods: tuple[str, ...] | None = None
    batch: int = 4
    zoo_batch: int = 1
    gpu_side: int = GPU_SIDE
    gpu_batch: int = GPU_BATCH
    class_mass: float = 0.99
    many_class_scales: tuple[float, ...] = (1.0, 4.0)
    max_side: Mapping[str, int] = field(default_factory=dict)
    device: str = "cpu"
    threads: int = 1
    repeats: int = 5
    warmup: int = 1
    cell_budget_s: float = 10.0
    background: int = 4
    seed: int = 0


#: model, C, side, batch, logit scale, method, class_mass
Planned = tuple[str, int, int, int, float, str, float | None]


def _target_cells(options: PlanOptions) -> list[Planned]:
    """The cells of the issue's targets."""
    cells: list[Planned] = [
        ("resnet18", c, 128, 16, 1.0, m, None)
        for c in (2, 3)
        for m in ("saliency", "ifim-sensitive", "naive")
    ]
    cells += [
        ("resnet18", 2, side, 4, 1.0, m, None)
        for side in (256, 1024)
        for m in ("saliency", "ifim-sensitive")
    ]
    cells += [
        ("resnet18", 100, 128, 16, scale, m, mass)
        for scale in options.many_class_scales
        for m, mass in (
            ("saliency", None),
            ("ifim-sensitive", None),
            ("ifim-sensitive", options.class_mass),
        )
    ]
    return cells


def _grid_cells(options: PlanOptions) -> list[Planned]:
    return [
        (model, c, side, options.batch, 1.0, method, None)
        for model in options.models or GRID_MODELS
        for c in options.classes or GRID_CLASSES
        for side in options.sides or GRID_SIDES
        for method in options.methods or GRID_METHODS
    ]


def zoo_methods(network: str) -> tuple[str, ...]:
    """The methods the zoo suite times on ``network``: :data:`ZOO_METHODS`, and on
    :data:`ZOO_EVERY_METHOD_NETWORKS` every registered method."""
    if network not in ZOO_EVERY_METHOD_NETWORKS:
        return ZOO_METHODS
    return ZOO_METHODS + tuple(m for m in timed_methods() if m not in ZOO_METHODS and m != NAIVE)


def _zoo_cells(options: PlanOptions) -> list[Planned]:
    return [
        (name, c, network.side, options.zoo_batch, 1.0, method, None)
        for name, network in ZOO_NETWORKS.items()
        for c in options.classes or ZOO_CLASSES
        for method in options.methods or zoo_methods(name)
    ]


def _gpu_cells(options: PlanOptions) -> list[Planned]:
    cells: list[Planned] = []
    for network in GPU_NETWORKS:
        for c in options.classes or GPU_CLASSES:
            mass = options.class_mass if c > GPU_EXACT_MAX_CLASSES else None
            methods = [("saliency", None), ("ifim-sensitive", mass)]
            if c in GPU_MAP_CLASSES:
                methods += [("scorecam", None), ("deepshap", None)]
            side, batch = options.gpu_side, options.gpu_batch
            cells += [(network, c, side, batch, 1.0, m, m_mass) for m, m_mass in methods]
    return cells


def _selected(value: object, chosen: tuple[object, ...] | None) -> bool:
    return chosen is None or value in chosen


def max_side(method: str, model: str, overrides: Mapping[str, int]) -> int | None:
    """The cap on the image side of ``method`` on ``model`` (``None``: no cap)."""
    if method in overrides:
        return overrides[method]
    caps = DEFAULT_MAX_SIDE.get(method, {})
    return caps.get(model, caps.get("*"))


def plan_cells(options: PlanOptions) -> tuple[list[TimedCell], list[Row]]:
    """The cells to run and the rows of the cells skipped by a cap.

    Args:
        options: What to run.

    Returns:
        ``(cells, skipped)``; a measurement asked for by two suites is one cell.

    Raises:
        ValueError: An unknown suite or method.
    """
    for suite in options.suites:
        if suite not in SUITES:
            raise ValueError(f"expected suites among {SUITES}, got {suite!r}")
    known = timed_methods()
    for method in options.methods or ():
        if method not in known:
            raise ValueError(f"expected methods among {known}, got {method!r}")
    wanted: dict[Planned, list[str]] = {}
    for suite in options.suites:
        if suite == "speedups":
            continue  # planned by comparisons.speed._speedups.plan_speedups
        candidates = {
            "grid": _grid_cells,
            "targets": _target_cells,
            "zoo": _zoo_cells,
            "gpu": _gpu_cells,
        }[suite](options)
        for model, c, side, batch, scale, method, mass in candidates:
            if (
                _selected(model, options.models)
                and _selected(c, options.classes)
                and (suite in ("zoo", "gpu") or _selected(side, options.sides))
                and _selected(method, options.methods)
            ):
                wanted.setdefault((model, c, side, batch, scale, method, mass), []).append(suite)
    for (model, c, side, batch, scale, _, _), suites in list(wanted.items()):
        reference = wanted.setdefault((model, c, side, batch, scale, "saliency", None), [])
        reference += [suite for suite in suites if suite not in reference]
    cells: list[TimedCell] = []
    skipped: list[Row] = []
    for (model, c, side, batch, scale, method, mass), suites in wanted.items():
        cell = TimedCell(
            suites=tuple(suites),
            model=model,
            num_classes=c,
            side=side,
            batch=batch,
            method=method,
            class_mass=mass,
            logit_scale=scale,
            device=options.device,
            threads=options.threads,
            repeats=options.repeats,
            warmup=options.warmup,
            cell_budget_s=options.cell_budget_s,
            background=options.background,
            seed=options.seed,
        )
        cap = max_side(method, model, options.max_side)
        if cap is not None and side > cap:
            reason = (
                f"side {side} > cap {cap} for {method} on {model} "
                f"(run it with --max-side {method}={side})"
            )
            skipped.append(Row.for_cell(replace(cell), "skipped", reason))
        else:
            cells.append(cell)
    order = {name: index for index, name in enumerate(known)}
    cells.sort(
        key=lambda cell: (cell.configuration, order[cell.method], cell.class_mass is not None)
    )
    return cells, skipped
