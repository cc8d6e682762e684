"""``python -m comparisons.reporting RUN_DIR``: the same as ``python -m comparisons report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from comparisons._exit_codes import run_command
from comparisons.reporting._run_report import add_report_arguments, report_command


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m comparisons report RUN_DIR``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m comparisons.reporting", description="rewrite the tables and report"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_report_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    return run_command(lambda: report_command(args), verbose=args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
