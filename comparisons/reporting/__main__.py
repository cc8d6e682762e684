"""``python -m comparisons.reporting RUN_DIR``: write the tables, figures and report of a run."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from comparisons.reporting._report import write_report

logger = logging.getLogger("comparisons.reporting")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, write the report, log its path; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m comparisons.reporting",
        description="Write summary.md, summary.csv, figures/*.png and report.md of a run folder.",
    )
    parser.add_argument("run_dir", type=Path, help="the run folder (holds results.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = write_report(args.run_dir)
    logger.info("report: %s", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
