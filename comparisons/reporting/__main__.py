"""``python -m comparisons.reporting RUN_DIR``: the same as ``python -m comparisons report``."""

from __future__ import annotations

from collections.abc import Sequence

from comparisons._cli import main as cli_main


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m comparisons report RUN_DIR``; returns the exit status."""
    import sys

    return cli_main(["report", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
