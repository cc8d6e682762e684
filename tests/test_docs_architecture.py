"""docs/architecture.md: its layout tree lists exactly the packages and modules on disk."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
PACKAGES = ("captum_ifim", "comparisons")
_TREE_BLOCK = re.compile(r"^## Layout\n.*?^```text\n(.*?)^```", re.S | re.M)
_INDENT = 4


def files_on_disk() -> set[str]:
    """Every ``.py`` file and package folder of the two packages, as relative paths."""
    paths: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            paths.add(relative.as_posix())
            for parent in relative.parents:
                if parent != Path("."):
                    paths.add(parent.as_posix() + "/")
    return paths


def files_in_page(text: str) -> set[str]:
    """The paths of the page's layout tree: one entry per line, nested by 4-space indents,
    folders ending in ``/``, anything after two spaces a description."""
    match = _TREE_BLOCK.search(text)
    assert match, "expected a ```text block under '## Layout' in docs/architecture.md"
    paths: set[str] = set()
    stack: list[str] = []
    for line in match.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % _INDENT == 0, f"expected indents of {_INDENT} spaces, got {line!r}"
        depth = indent // _INDENT
        name = line.strip().split("  ")[0].strip()
        assert depth <= len(stack), f"expected a folder above {line!r}"
        stack[depth:] = [name]
        paths.add("".join(stack))
    return paths


def test_the_layout_tree_is_the_packages_on_disk() -> None:
    in_page = files_in_page(PAGE.read_text(encoding="utf-8"))
    on_disk = files_on_disk()
    assert sorted(on_disk - in_page) == [], "on disk, missing from docs/architecture.md"
    assert sorted(in_page - on_disk) == [], "in docs/architecture.md, not on disk"


def test_the_tree_parser_nests_folders() -> None:
    text = "## Layout\n\n```text\na/  x\n    b.py  y\n    c/\n        d.py\ne.py\n```\n"
    assert files_in_page(text) == {"a/", "a/b.py", "a/c/", "a/c/d.py", "e.py"}
