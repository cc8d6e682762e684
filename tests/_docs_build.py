"""The documentation build the docs tests share: one Sphinx run per test session."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Where the browser test leaves its screenshots (a build artifact, ignored by git).
SCREENSHOTS = DOCS / "_build" / "screenshots"
#: The build's limit: the gallery runs inside it (a few minutes at most on 2 cores).
BUILD_TIMEOUT_S = 600


def build_docs(out: Path, meanwhile: Callable[[Callable[[], bool]], None] | None = None) -> Path:
    """Build the HTML into ``out`` with warnings as errors; return ``out``.

    The gallery's examples are run even when sphinx-gallery's cache (``docs/auto_examples``)
    holds their output: the cache is keyed on an example's source only, and the tests must
    see a library change that breaks an example.

    Sphinx runs in a child process; ``meanwhile(building)``, if given, runs in this one
    until it returns (``building()`` says whether the build still runs), then the build is
    waited for.
    """
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-D", "sphinx_gallery_conf.run_stale_examples=1"]
    command += ["-d", str(out / ".doctrees"), str(DOCS), str(out)]
    started = time.monotonic()
    # Files, not pipes: nothing reads a pipe while ``meanwhile`` runs, and a full pipe
    # would stall the build.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        build = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, cwd=ROOT)
        try:
            if meanwhile is not None:
                meanwhile(lambda: build.poll() is None)
            returncode = build.wait(
                timeout=max(1.0, BUILD_TIMEOUT_S - (time.monotonic() - started))
            )
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if returncode != 0:
        raise AssertionError(
            f"expected the docs to build without warnings, got exit status "
            f"{returncode}:\n{errors}{output}"
        )
    return out
