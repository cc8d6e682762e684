"""Run a snippet as a newcomer would: alone in an empty folder, in a fresh process, with
only what ``pip install -e ".[extras]"`` would make importable (the runner of
``tests/test_docs_snippets_run_alone.py``).

The README's blocks and the gallery scripts are also run here while the documentation
builds (``tests/_docs_build.py``): all are single-threaded processes, so on two cores their
runs alone take no extra time beside the build. Each result is kept for the snippet's test,
which runs the snippet itself when the build did not (it was not part of the session, or it
finished first).
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
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "docs" / "gallery"
#: ``pip install -e .`` or ``pip install -e ".[a,b]"`` as the text says it.
INSTALL = re.compile(r'pip install -e (?:\.(?=[\s`])|"\.\[([\w,]+)\]")')
#: What ``python3 -m venv`` puts in a new environment besides the standard library
#: (Python 3.11 adds setuptools; torch requires it from Python 3.12 on).
IN_EVERY_VENV = ("pip", "setuptools", "pkg_resources", "_distutils_hack")
#: A gallery script at its reduced size runs in well under this on two CPU cores.
SCRIPT_TIMEOUT_S = 300
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)

#: Run in the child before the snippet: a top-level module that would come from the
#: environment's site-packages is found only if it is in ``allowed`` (argv[1], JSON); the
#: standard library and the script's own folder are searched as usual. Then the snippet
#: (argv[2]) runs as ``python snippet.py`` would run it.
PRELUDE = """
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


def project_requirements(extras: Iterable[str]) -> list[Requirement]:
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
def installed_by(extras: tuple[str, ...]) -> frozenset[str]:
    """The top-level modules a fresh ``pip install -e ".[extras]"`` would make importable."""
    distributions: set[str] = set()
    todo = [r for r in project_requirements(extras) if r.marker is None or r.marker.evaluate()]
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


def stated_extras(text: str) -> tuple[str, ...] | None:
    """The extras of the last ``pip install -e`` command in ``text``; None if it has none."""
    found = INSTALL.findall(text)
    if not found:
        return None
    return tuple(sorted(filter(None, found[-1].split(","))))


def gallery_scripts() -> list[Path]:
    return sorted(GALLERY.glob("plot_*.py"))


def docstring_extras(script: Path) -> tuple[str, ...] | None:
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    return stated_extras(docstring)


def run_alone(
    code: str, extras: tuple[str, ...], folder: Path, name: str = "snippet.py"
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as ``python name`` from ``folder``, which holds nothing else."""
    assert not any(folder.iterdir()), f"expected an empty folder, got {list(folder.iterdir())}"
    (folder / name).write_text(code, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "CAPTUM_IFIM_GALLERY_QUICK": "1"}
    allowed = json.dumps(sorted(installed_by(extras)))
    return subprocess.run(
        [sys.executable, "-c", PRELUDE, allowed, name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
    )


def readme_blocks() -> list[tuple[str, str, tuple[str, ...] | None]]:
    """(id, code, extras stated in the prose since the previous fenced block) per Python
    block of the README."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks, prose_start = [], 0
    for match in FENCE.finditer(readme):
        prose, prose_start = readme[prose_start : match.start()], match.end()
        if match.group(1) == "python":
            line = readme.count("\n", 0, match.start()) + 1
            blocks.append((f"README.md:{line}", match.group(2), stated_extras(prose)))
    return blocks


#: Each snippet's run alone, or what stopped it: a README block by its id
#: (``README.md:line``), a gallery script by its file name. One run per session.
_runs: dict[str, subprocess.CompletedProcess[str] | Exception] = {}


def run_alone_once(
    key: str, code: str, extras: tuple[str, ...], folder: Path, name: str = "snippet.py"
) -> subprocess.CompletedProcess[str]:
    """:func:`run_alone` once per session and ``key``: a later call returns the first run's
    result (or raises what stopped it)."""
    if key not in _runs:
        try:
            _runs[key] = run_alone(code, extras, folder, name)
        except (OSError, subprocess.SubprocessError) as error:  # a timeout, say
            _runs[key] = error
    found = _runs[key]
    if isinstance(found, Exception):
        raise found
    return found


def gallery_script_alone(script: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run alone at its reduced size from the empty ``folder``, once per session."""
    code = script.read_text(encoding="utf-8")
    return run_alone_once(script.name, code, docstring_extras(script) or (), folder, script.name)


def run_alone_while(
    busy: Callable[[], bool], new_folder: Callable[[str], Path], readme: bool, gallery: bool
) -> None:
    """Run the README's blocks (if ``readme``), then the gallery scripts (if ``gallery``),
    alone one after another while ``busy()`` holds (the docs build runs); the rest are left
    to their tests. ``new_folder(name)`` gives an empty folder."""
    jobs: list[Callable[[], object]] = []
    if readme:
        jobs += [
            lambda block=block: run_alone_once(block[0], block[1], block[2], new_folder("readme"))
            for block in readme_blocks()
            if block[2] is not None  # no stated extras: its test says so
        ]
    if gallery:
        jobs += [
            lambda script=script: gallery_script_alone(script, new_folder(script.stem))
            for script in gallery_scripts()
        ]
    for job in jobs:
        if not busy():
            return
        try:
            job()
        except (OSError, subprocess.SubprocessError):
            pass  # kept: the test of that snippet raises it
