"""``python -m comparisons``: run, merge, report, list, speed.

Every failure is one logged line and an exit code of :class:`comparisons._exit_codes.ExitCode`
(0 done, 1 cells failed, 2 bad config, 3 no such device here, 4 not writable or disk full,
5 run folder locked, 6 unexpected, 130 interrupted).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from comparisons._exit_codes import DeviceUnavailableError, ExitCode, run_command
from comparisons.reporting._run_report import (
    add_report_arguments,
    report_command,
    report_run_folder,
)

if TYPE_CHECKING:
    from comparisons.config import HarnessConfig

logger = logging.getLogger("comparisons")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m comparisons",
        description="Run every attribution method through every metric on trained models.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first: a package of your own that registers datasets, methods or "
        "metrics (register_dataset, register_method, register_metric and "
        "register_harness_metric); its code runs, as a config's factory does",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run (or resume) a config")
    run.add_argument(
        "--config",
        default="default",
        help=(
            "a TOML file, or 'default', 'full', 'quick', 'paper', '3d', 'shortcut' or "
            "'robust' (embedded)"
        ),
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="the embedded smoke config: with --config shortcut or robust its quick variant "
        "(shortcut-quick, robust-quick), otherwise 'quick'",
    )
    run.add_argument("--output", type=Path, help="run folder (default: runs/<config name>)")
    run.add_argument("--shard", help="i/n: run only the i-th of n shares (SLURM arrays)")
    run.add_argument("--cache-dir", type=Path, help="trained-model cache (default: runs/.cache)")
    run.add_argument("--device", help="override run.device: cpu, cuda, cuda:1, auto")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument(
        "--check",
        action="store_true",
        help="check the config as a run would and print the plan and the expected time, then "
        "exit (writes nothing; the estimate trains each model on 1 and 3 batches and runs "
        "every method on 1 and 3 images, in a temporary folder)",
    )
    run.add_argument(
        "--estimate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="first calibrate on this machine and print the expected time, the progress bar "
        "then moving within cells (default: with the progress bar and with --check)",
    )

    merge = commands.add_parser("merge", help="join shard run folders into one")
    merge.add_argument("shards", nargs="+", type=Path, help="the shards' run folders")
    merge.add_argument("--output", type=Path, required=True, help="the merged run folder")

    report = commands.add_parser("report", help="rewrite the tables and report of a run")
    add_report_arguments(report)

    commands.add_parser("list", help="the datasets, models, methods and metrics by name")
    commands.add_parser("speed", help="the speed benchmark (python -m comparisons speed -h)")
    return parser


def _run(args: argparse.Namespace) -> int:
    from comparisons.config import load_config
    from comparisons.config._parse import quick_config_name
    from comparisons.run import parse_shard, run

    name = quick_config_name(str(args.config)) if args.quick else args.config
    config = load_config(name, device=args.device)
    shard = parse_shard(args.shard) if args.shard else None
    output = args.output or Path("runs") / config.name
    if args.check:
        return _check(config, output, shard, estimate=args.estimate is not False)
    folder = run(
        config,
        output,
        shard=shard,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        estimate=args.estimate if args.estimate is not None else not args.no_progress,
    )
    if folder.failed:
        logger.error(
            "%d cells failed (see %s/failed): %s",
            len(folder.failed),
            output,
            ", ".join(folder.failed),
        )
    if shard is not None:
        logger.info(
            "shard %s done in %s; join the shards with: python -m comparisons merge "
            "--output <dir> <shard dirs>",
            args.shard,
            output,
        )
    else:
        logger.info("report: %s", report_run_folder(output))
    return ExitCode.CELLS_FAILED if folder.failed else ExitCode.OK


def _check(
    config: HarnessConfig, output: Path, shard: tuple[int, int] | None, estimate: bool = True
) -> int:
    """``run --check``: every check a run makes before training, then the plan on stdout,
    then (``estimate``, on an available device) the expected time from a calibration."""
    from comparisons.config import check_config, resolve_device
    from comparisons.run import check_inputs, describe_plan
    from comparisons.run._estimate import estimate_run
    from comparisons.run._inputs import prepare_inputs
    from comparisons.run._plan import plan_run
    from comparisons.run_folder import RunFolder

    device_error = None
    device = None
    try:
        device = resolve_device(config.device)
    except DeviceUnavailableError as error:
        device_error = error
    check = check_config(config)
    inputs = check_inputs(config, output, shard)  # a factory's code runs here, as in the run
    sys.stdout.write(describe_plan(config, output, check, shard=shard, device_error=device_error))
    if estimate and device is not None:
        plan = plan_run(config, RunFolder(output), shard)
        if device.type != "cpu":
            inputs = prepare_inputs(config, plan.todo, device)
        sys.stdout.write(estimate_run(config, plan, inputs, device).describe())
    return ExitCode.OK


def _merge(args: argparse.Namespace) -> int:
    from comparisons.run import merge

    folder, missing = merge(args.output, args.shards)
    logger.info("report: %s", report_run_folder(folder.path))
    return 2 if missing else 0


def _list() -> int:
    from captum_ifim import available_methods, method_set
    from captum_ifim.metrics import available_metrics
    from comparisons.datasets import available_datasets
    from comparisons.models import available_models

    for title, names in (
        ("datasets", available_datasets()),
        ("models", available_models()),
        ("methods", available_methods()),
        ("metrics", available_metrics()),
    ):
        sys.stdout.write(f"{title}: {', '.join(names)}\n")
    sys.stdout.write(
        f"method sets: paper ({', '.join(method_set('paper'))}); all (every method above)\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["speed"]:
        from comparisons.speed import main as speed_main

        return speed_main(argv[1:])
    args = _parser().parse_args(argv)
    commands: dict[str, Callable[[], int]] = {
        "run": lambda: _run(args),
        "merge": lambda: _merge(args),
        "report": lambda: report_command(args),
        "list": _list,
    }

    def command() -> int:
        _import_plugins(args.plugin)
        return commands[args.command]()

    return run_command(command, verbose=args.verbose)


def _import_plugins(modules: list[str]) -> None:
    """Import each ``--plugin`` module (it registers what it adds).

    Raises:
        ValueError: A module that cannot be imported (naming it and why).
    """
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ValueError(
                f"expected --plugin {module!r} to be an importable module (installed, or its "
                f"folder on PYTHONPATH), got {type(error).__name__}: {error}"
            ) from error
