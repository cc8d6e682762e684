"""The documentation build the docs tests share: one Sphinx run per test session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Where the browser test leaves its screenshots (a build artifact, ignored by git).
SCREENSHOTS = DOCS / "_build" / "screenshots"
#: The build's limit: the gallery runs inside it (a few minutes at most on 2 cores).
BUILD_TIMEOUT_S = 600


def build_docs(out: Path) -> Path:
    """Build the HTML into ``out`` with warnings as errors; return ``out``.

    The gallery's examples are run even when sphinx-gallery's cache (``docs/auto_examples``)
    holds their output: the cache is keyed on an example's source only, and the tests must
    see a library change that breaks an example.
    """
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-D", "sphinx_gallery_conf.run_stale_examples=1"]
    command += ["-d", str(out / ".doctrees"), str(DOCS), str(out)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, cwd=ROOT
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"expected the docs to build without warnings, got exit status "
            f"{completed.returncode}:\n{completed.stderr}{completed.stdout}"
        )
    return out
