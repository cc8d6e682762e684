"""``python -m comparisons speed`` (or ``python -m comparisons.speed``): the command line."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace
from pathlib import Path

from comparisons.speed._plan import SUITES, PlanOptions
from comparisons.speed._timed_cell import timed_methods

logger = logging.getLogger("comparisons.speed")

#: ``--quick``: the shallow CNN on tiny images, one timed call each, one thread unless
#: ``--threads`` says otherwise (a smoke run of seconds, robust on a busy machine).
QUICK = PlanOptions(
    suites=("grid",),
    models=("shallow-cnn",),
    classes=(2, 3),
    sides=(16, 32),
    batch=2,
    repeats=1,
    warmup=1,
    cell_budget_s=1.0,
    background=2,
)


def _machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _max_side(text: str) -> tuple[str, int]:
    method, _, side = text.partition("=")
    if method not in timed_methods() or not side.isdigit():
        raise argparse.ArgumentTypeError(
            f"expected METHOD=SIDE with METHOD in {timed_methods()}, got {text!r}"
        )
    return method, int(side)


def parser() -> argparse.ArgumentParser:
    """The argument parser of the speed benchmark."""
    parser = argparse.ArgumentParser(
        prog="python -m comparisons speed",
        description="Time the iFIM against Saliency, the naive loop, Grad-CAM, Score-CAM and "
        "DeepSHAP; write speed.csv, summary.md (targets PASS/FAIL) and two figures.",
    )
    parser.add_argument("--output", type=Path, default=Path("runs/speed"), help="output folder")
    parser.add_argument(
        "--suite",
        choices=(*SUITES, "all"),
        default="all",
        help="grid (cost vs size and C), targets (the issue's, with the speed-ups), zoo (per "
        "architecture), gpu (ResNet50 and ViT-B/16 at 224 px, batch 32, C = 2, 3, 10, 1000: "
        "for --device cuda), speedups (only the speed-ups: iFIM vs its floor, Score-CAM vs "
        "pytorch-grad-cam, DeepSHAP vs shap), or all (every suite but gpu)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--threads", type=int, help="torch threads (default: the machine's cores; 1 for --quick)"
    )
    parser.add_argument("--repeats", type=int, help="timed calls per cell, at most (default 5)")
    parser.add_argument("--warmup", type=int, help="untimed calls first (default 1)")
    parser.add_argument(
        "--cell-budget",
        type=float,
        help="seconds of timed calls per cell before repeats are cut (default 10)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: shallow CNN, 16 and 32 px, C = 2, 3, batch 2, 1 repeat",
    )
    parser.add_argument(
        "--models", nargs="+", help="resnet18, shallow-cnn, and the zoo's (tv-resnet50, ...)"
    )
    parser.add_argument("--classes", nargs="+", type=int, help="values of C")
    parser.add_argument("--sides", nargs="+", type=int, help="image sides")
    parser.add_argument("--methods", nargs="+", choices=timed_methods(), help="methods to time")
    parser.add_argument("--batch", type=int, help="the grid's batch size (default 4)")
    parser.add_argument("--zoo-batch", type=int, help="the zoo suite's batch size (default 1)")
    parser.add_argument("--gpu-batch", type=int, help="the gpu suite's batch size (default 32)")
    parser.add_argument("--gpu-side", type=int, help="the gpu suite's image side (default 224)")
    parser.add_argument("--background", type=int, help="DeepSHAP background samples (default 4)")
    parser.add_argument(
        "--class-mass",
        type=float,
        help="class_mass of ifim-sensitive in the C = 100 target cells (default 0.99)",
    )
    parser.add_argument(
        "--logit-scales",
        nargs="+",
        type=float,
        help="logit scales of the C = 100 target cells (default 1 4)",
    )
    parser.add_argument(
        "--max-side",
        type=_max_side,
        action="append",
        default=[],
        metavar="METHOD=SIDE",
        help="raise or lower a method's cap on the side",
    )
    parser.add_argument("--seed", type=int, help="seed of weights and inputs (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def options_from_args(args: argparse.Namespace) -> PlanOptions:
    """The :class:`PlanOptions` of parsed arguments (``--quick`` first, then the flags)."""
    options = QUICK if args.quick else PlanOptions()
    chosen = {
        "suites": None if args.suite == "all" or args.quick else (args.suite,),
        "models": tuple(args.models) if args.models else None,
        "classes": tuple(args.classes) if args.classes else None,
        "sides": tuple(args.sides) if args.sides else None,
        "methods": tuple(args.methods) if args.methods else None,
        "batch": args.batch,
        "zoo_batch": args.zoo_batch,
        "gpu_batch": args.gpu_batch,
        "gpu_side": args.gpu_side,
        "background": args.background,
        "class_mass": args.class_mass,
        "many_class_scales": tuple(args.logit_scales) if args.logit_scales else None,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "cell_budget_s": args.cell_budget,
        "seed": args.seed,
    }
    options = replace(options, **{k: v for k, v in chosen.items() if v is not None})
    return replace(
        options,
        device=args.device,
        threads=args.threads or (1 if args.quick else _machine_cores()),
        max_side=dict(args.max_side),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the speed benchmark; returns 0, or 1 when a cell failed.

    Example:
        ``python -m comparisons speed --suite targets --output runs/speed-targets``
    """
    args = parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
    options = options_from_args(args)
    for name in ("threads", "repeats", "batch", "zoo_batch", "gpu_batch", "gpu_side", "background"):
        if getattr(options, name) < 1:
            flag = name.replace("_", "-")
            parser().error(f"expected --{flag} >= 1, got {getattr(options, name)}")
    if options.warmup < 0:
        parser().error(f"expected --warmup >= 0, got {options.warmup}")
    if not 0 < options.class_mass <= 1:
        parser().error(f"expected --class-mass in (0, 1], got {options.class_mass}")
    from comparisons.speed._benchmark import run_benchmark

    result = run_benchmark(options, args.output, progress=not args.no_progress)
    failed = [r for r in result.rows if r.status == "failed"]
    logger.info(
        "wrote %s, %s and %s", result.csv, result.summary, ", ".join(str(p) for p in result.figures)
    )
    return 1 if failed else 0
