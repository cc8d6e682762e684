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
read by each script); ``tests/test_docs.py`` builds the gallery at full size.

The pages of ``docs/`` are read as a whole, their blocks in order in one namespace, and
``tests/test_docs.py`` runs them so; here their imports are checked against the
``compare`` extra (the docs' install command).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
#: ``pip install -e .`` or ``pip install -e ".[a,b]"`` as the text says it.
INSTALL = re.compile(r'pip install -e (?:\.(?=[\s`])|"\.\[([\w,]+)\]")')
#: What ``python3 -m venv`` puts in a new environment besides the standard library
#: (Python 3.11 adds setuptools; torch requires it from Python 3.12 on).
IN_EVERY_VENV = ("pip", "setuptools", "pkg_resources", "_distutils_hack")
#: A gallery script at its reduced size runs in well under this on two CPU cores.
SCRIPT_TIMEOUT_S = 300

#: Run in the child before the snippet: a top-level module that would come from the
#: environment's site-packages is found only if it is in ``allowed`` (argv[1], JSON); the
#: standard library and the script's own folder are searched as usual. Then the snippet
#: (argv[2]) runs as ``python snippet.py`` would run it.
_PRELUDE = """
import importlib.machinery, json, os, runpy, site, sys

allowed = frozenset(json.loads(sys.argv[1]))
folders = {*sys.path, *site.getsitepackages(), site.getusersitepackages()}
installed = tuple(os.path.realpath(f) + os.sep for f in folders if "-packages" in f)

class _FreshEnvironment(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        spec = super().find_spec(name, path, target)
        if path is None and spec is not None and name not in allowed:
            where = spec.origin or next(iter(spec.submodule_search_locations or ()), "")
            if os.path.realpath(where).startswith(installed):
                return None  # not installed: import raises ModuleNotFoundError
        return spec

sys.meta_path[:] = [
    _FreshEnvironment if finder is importlib.machinery.PathFinder else finder
    for finder in sys.meta_path
]
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _project_requirements(extras: Iterable[str]) -> list[Requirement]:
    """The requirements pyproject.toml declares for the package with ``extras``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = canonicalize_name(project["name"])
    found = [Requirement(line) for line in project["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in project["optional-dependencies"][extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == name:  # "captum-ifim[compare]"
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


@cache
def _installed_by(extras: tuple[str, ...]) -> frozenset[str]:
    """The top-level modules a fresh ``pip install -e ".[extras]"`` would make importable."""
    distributions: set[str] = set()
    todo = [r for r in _project_requirements(extras) if r.marker is None or r.marker.evaluate()]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in distributions:
            continue
        distributions.add(name)
        try:
            lines = importlib.metadata.requires(requirement.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue  # not installed here: the run will say what is missing
        for line in lines:
            child = Requirement(line)
            wanted = ("", *requirement.extras)
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(child)
    modules = {"captum_ifim", "comparisons", *IN_EVERY_VENV}
    for module, owners in importlib.metadata.packages_distributions().items():
        if any(canonicalize_name(owner) in distributions for owner in owners):
            modules.add(module)
    return frozenset(modules)


def _stated_extras(text: str) -> tuple[str, ...] | None:
    """The extras of the last ``pip install -e`` command in ``text``; None if it has none."""
    found = INSTALL.findall(text)
    if not found:
        return None
    return tuple(sorted(filter(None, found[-1].split(","))))


def _readme_blocks() -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(id, code, extras stated in the prose since the previous fenced block) per block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks, prose_start = [], 0
    for match in FENCE.finditer(readme):
        prose, prose_start = readme[prose_start : match.start()], match.end()
        if match.group(1) == "python":
            line = readme.count("\n", 0, match.start()) + 1
            blocks.append((f"README.md:{line}", match.group(2), _stated_extras(prose)))
    return blocks


def _gallery_scripts() -> list[Path]:
    return sorted(GALLERY.glob("plot_*.py"))


def _docstring_extras(script: Path) -> tuple[str, ...] | None:
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    return _stated_extras(docstring)


def _run_alone(
    code: str, extras: tuple[str, ...], folder: Path, name: str = "snippet.py"
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as ``python name`` from ``folder``, which holds nothing else."""
    assert not any(folder.iterdir()), f"expected an empty folder, got {list(folder.iterdir())}"
    (folder / name).write_text(code, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "CAPTUM_IFIM_GALLERY_QUICK": "1"}
    allowed = json.dumps(sorted(_installed_by(extras)))
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE, allowed, name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )


def _assert_ran(completed: subprocess.CompletedProcess[str], what: str) -> None:
    assert completed.returncode == 0, (
        f"expected {what} to run alone, got exit status {completed.returncode}:\n"
        f"{completed.stderr[-4000:]}"
    )


def test_the_readme_has_snippets_and_each_states_its_extra() -> None:
    blocks = _readme_blocks()
    assert len(blocks) >= 2
    unstated = [where for where, _, extras in blocks if extras is None]
    assert not unstated, f"expected the text before each block to name its install, {unstated}"


@pytest.mark.parametrize(
    ("where", "code", "extras"), [pytest.param(*block, id=block[0]) for block in _readme_blocks()]
)
def test_each_readme_snippet_runs_alone(
    where: str, code: str, extras: tuple[str, ...] | None, tmp_path: Path
) -> None:
    assert extras is not None, f"{where}: say which install it needs (pip install -e ...)"
    _assert_ran(_run_alone(code, extras, tmp_path), where)


def test_each_gallery_script_states_its_extra() -> None:
    scripts = _gallery_scripts()
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
    stated = {script.name: _docstring_extras(script) for script in scripts}
    unfit = {
        name: extras
        for name, extras in stated.items()
        if extras is None or "compare" not in extras or not set(extras) <= docs_extras
    }
    assert not unfit, f"expected the compare extra and extras the docs install, got {unfit}"


@pytest.mark.slow
@pytest.mark.parametrize("script", _gallery_scripts(), ids=lambda path: path.stem)
def test_each_gallery_script_runs_alone(script: Path, tmp_path: Path) -> None:
    """The script as the gallery page offers it for download, alone in an empty folder."""
    extras = _docstring_extras(script) or ()
    code = script.read_text(encoding="utf-8")
    _assert_ran(_run_alone(code, extras, tmp_path, script.name), script.name)


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
        stated = set(_stated_extras(page.read_text(encoding="utf-8")) or ())
        available = _installed_by(tuple(sorted({"compare"} | stated))) | sys.stdlib_module_names
        missing[page.name] = sorted(_page_imports(page) - available)
    assert not any(missing.values()), missing


# The runner itself: it must refuse what a fresh environment would not have.


def test_stated_extras_are_read_from_the_last_install_command() -> None:
    assert _stated_extras("no command") is None
    assert _stated_extras("`pip install -e .` alone") == ()
    assert _stated_extras('first `pip install -e .`, then pip install -e ".[metrics,compare]"') == (
        "compare",
        "metrics",
    )


def test_the_runner_hides_what_the_extra_does_not_install(tmp_path: Path) -> None:
    """The library alone has torch and captum, not shap (compare) nor pytest (dev); a module
    beside the repository's files is not importable from the empty folder."""
    assert "shap" not in _installed_by(()) and "shap" in _installed_by(("compare",))
    assert "pytest" not in _installed_by(("compare",)) and "pytest" in _installed_by(("dev",))
    probe = (
        "import importlib.util, captum, torch, captum_ifim\n"
        "missing = [m for m in ('shap', 'pytest', 'tests', '_example_setup', 'conftest')\n"
        "           if importlib.util.find_spec(m) is not None]\n"
        "assert not missing, missing\n"
        "import shap\n"
    )
    completed = _run_alone(probe, (), tmp_path)
    assert completed.returncode == 1
    assert completed.stderr.rstrip().endswith("ModuleNotFoundError: No module named 'shap'")
