"""What a newcomer copies runs alone: every Python block of the README and every gallery
script, each in a fresh process, from an empty folder, with only what the extra it names
installs.

A block or script is written alone into a temporary folder and run there with
``python``, so nothing of the repository (``tests/``, ``docs/gallery/``) is importable; the
installed package is. Imports are limited to the standard library and the distributions
that ``pip install -e ".[extra]"`` would pull in for the extra stated in the text before
the block (the script's docstring for the gallery): pyproject.toml's requirements for that
extra, then the installed distributions' own requirements. Anything else (a dev-only
package, a module beside the script) is reported as not installed, as in a fresh
environment. The gallery scripts run at their reduced size (``CAPTUM_IFIM_GALLERY_QUICK``,
read by each script); ``tests/test_docs.py`` builds the gallery at full size, and while it
builds the scripts run alone beside it (``tests/_run_alone.py``: two single-threaded
processes, so on two cores the runs alone cost no extra time).

The pages of ``docs/`` are read as a whole, their blocks in order in one namespace, and
``tests/test_docs.py`` runs them so; here their imports are checked against the
``compare`` extra (the docs' install command).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests._run_alone import (
    FENCE,
    GALLERY,
    ROOT,
    docstring_extras,
    gallery_script_alone,
    gallery_scripts,
    installed_by,
    readme_blocks,
    run_alone,
    run_alone_once,
    stated_extras,
)


def _assert_ran(completed: subprocess.CompletedProcess[str], what: str) -> None:
    assert completed.returncode == 0, (
        f"expected {what} to run alone, got exit status {completed.returncode}:\n"
        f"{completed.stderr[-4000:]}"
    )


def test_the_readme_has_snippets_and_each_states_its_extra() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 2
    unstated = [where for where, _, extras in blocks if extras is None]
    assert not unstated, f"expected the text before each block to name its install, {unstated}"


@pytest.mark.parametrize(
    ("where", "code", "extras"), [pytest.param(*block, id=block[0]) for block in readme_blocks()]
)
def test_each_readme_snippet_runs_alone(
    where: str, code: str, extras: tuple[str, ...] | None, tmp_path: Path
) -> None:
    assert extras is not None, f"{where}: say which install it needs (pip install -e ...)"
    _assert_ran(run_alone_once(where, code, extras, tmp_path), where)


def test_each_gallery_script_states_its_extra() -> None:
    scripts = gallery_scripts()
    assert len(scripts) >= 6
    assert not list(GALLERY.glob("_*.py")), "expected no module beside the examples"
    # The compare extra, and beside it only extras that the docs build installs (it runs
    # every script): docs pulls in "captum-ifim[compare,huggingface]".
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    docs_extras = {
        extra
        for line in project["optional-dependencies"]["docs"]
        if canonicalize_name(Requirement(line).name) == canonicalize_name(project["name"])
        for extra in Requirement(line).extras
    }
    stated = {script.name: docstring_extras(script) for script in scripts}
    unfit = {
        name: extras
        for name, extras in stated.items()
        if extras is None or "compare" not in extras or not set(extras) <= docs_extras
    }
    assert not unfit, f"expected the compare extra and extras the docs install, got {unfit}"


@pytest.mark.slow
@pytest.mark.parametrize("script", gallery_scripts(), ids=lambda path: path.stem)
def test_each_gallery_script_runs_alone(script: Path, tmp_path: Path) -> None:
    """The script as the gallery page offers it for download, alone in an empty folder
    (run once per session: the docs build, when it runs first, has it run beside it)."""
    _assert_ran(gallery_script_alone(script, tmp_path), script.name)


def _page_imports(page: Path) -> set[str]:
    """Top-level modules the page's Python blocks import, less those it writes itself."""
    text = page.read_text(encoding="utf-8")
    written = set(re.findall(r"""["'](\w+)\.py["']""", text))
    imported = set()
    for code in (m.group(2) for m in FENCE.finditer(text) if m.group(1) == "python"):
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.partition(".")[0])
    return imported - written


def test_the_docs_pages_import_only_what_the_compare_extra_installs() -> None:
    """... or, on a page that says so in an install command, what its extras install (the
    ``huggingface`` extra for a page with a Hugging Face example)."""
    missing = {}
    for page in sorted((ROOT / "docs").glob("*.md")):
        stated = set(stated_extras(page.read_text(encoding="utf-8")) or ())
        available = installed_by(tuple(sorted({"compare"} | stated))) | sys.stdlib_module_names
        missing[page.name] = sorted(_page_imports(page) - available)
    assert not any(missing.values()), missing


# The runner itself: it must refuse what a fresh environment would not have.


def teststated_extras_are_read_from_the_last_install_command() -> None:
    assert stated_extras("no command") is None
    assert stated_extras("`pip install -e .` alone") == ()
    assert stated_extras('first `pip install -e .`, then pip install -e ".[metrics,compare]"') == (
        "compare",
        "metrics",
    )


def test_the_runner_hides_what_the_extra_does_not_install(tmp_path: Path) -> None:
    """The library alone has torch and captum, not shap (compare) nor pytest (dev); a module
    beside the repository's files is not importable from the empty folder."""
    assert "shap" not in installed_by(()) and "shap" in installed_by(("compare",))
    assert "pytest" not in installed_by(("compare",)) and "pytest" in installed_by(("dev",))
    probe = (
        "import importlib.util, captum, torch, captum_ifim\n"
        "missing = [m for m in ('shap', 'pytest', 'tests', '_example_setup', 'conftest')\n"
        "           if importlib.util.find_spec(m) is not None]\n"
        "assert not missing, missing\n"
        "import shap\n"
    )
    completed = run_alone(probe, (), tmp_path)
    assert completed.returncode == 1
    assert completed.stderr.rstrip().endswith("ModuleNotFoundError: No module named 'shap'")
