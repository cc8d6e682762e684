"""The finishing step of every command that leaves a run folder (run, merge, report, and
:func:`comparisons.compare`): unreadable cells moved aside, the tables rewritten from the
cells, then the report."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from comparisons._exit_codes import ExitCode
from comparisons.reporting._report import write_report
from comparisons.run_folder import RunFolder, RunLayout

logger = logging.getLogger("comparisons")

#: The formats ``report --format`` writes the report's tables in.
TABLE_FORMATS = ("latex", "markdown", "csv")


def report_run_folder(folder_path: Path, formats: list[str] | None = None) -> Path:
    """The tables of a run folder from its cells, then its report (its tables also in
    ``formats``, default all); a folder holding only ``results.json`` (tables copied
    elsewhere) gets its report from that file.

    Returns:
        The path of ``report.md``.

    Raises:
        ValueError: ``folder_path`` is not a run folder.
    """
    layout = RunLayout(Path(folder_path))
    if layout.config_json.is_file():
        folder = RunFolder.open(folder_path)
        folder.recover()  # unreadable cells move aside (the report names them)
        folder.write_tables()
    elif not layout.results_json.is_file():
        raise ValueError(
            f"expected a run folder (with {layout.config_json.name} or "
            f"{layout.results_json.name}), got {str(folder_path)!r}"
        )
    if formats:
        return write_report(folder_path, formats)
    return write_report(folder_path)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of the report command (shared with ``python -m comparisons report``)."""
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=list(TABLE_FORMATS),
        help="write the report's tables under tables/ in this format (repeat for several; "
        "default: all three)",
    )


def report_command(args: argparse.Namespace) -> int:
    """Rewrite the tables and report of ``args.run_dir``; returns the exit status."""
    logger.info("report: %s", report_run_folder(args.run_dir, args.formats))
    return ExitCode.OK
