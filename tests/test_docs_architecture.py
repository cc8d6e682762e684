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


_SENTENCE_END = re.compile(
    r"(?<!\bSec)(?<!\bFig)(?<!\bFigs)(?<!\beq)(?<!\beqs)(?<!\bal)(?<!\bvs)\.(\s|$)"
)


def _first_line(path: Path) -> str:
    """The first sentence of a module's docstring, without its full stop, ``x`` as `x`."""
    import ast

    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    end = _SENTENCE_END.search(paragraph)
    return (paragraph[: end.start()] if end else paragraph).replace("``", "`")


def render_tree(width: int = 130, column: int = 38) -> str:
    """The layout tree of the two packages as the page shows it: one entry per line, 4-space
    indents, a folder's modules before its sub-packages, each with the first line of its
    docstring (shortened with ' ...' to ``width`` characters)."""
    lines: list[str] = []

    def entry(depth: int, name: str, path: Path) -> None:
        text = " " * (_INDENT * depth) + name
        doc = (
            ""
            if name == "__init__.py"
            else _first_line(path / "__init__.py" if path.is_dir() else path)
        )
        if doc:
            text = text.ljust(column - 2) + "  " + doc
            if len(text) > width:
                text = text[: width - 4].rsplit(" ", 1)[0] + " ..."
        lines.append(text)

    def walk(folder: Path, depth: int) -> None:
        modules = sorted(p for p in folder.glob("*.py"))
        packages = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.rglob("*.py")))
        for module in modules:
            entry(depth, module.name, module)
        for package in packages:
            entry(depth, package.name + "/", package)
            walk(package, depth + 1)

    for package in PACKAGES:
        entry(0, package + "/", ROOT / package)
        walk(ROOT / package, 1)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python tests/test_docs_architecture.py: rewrite the page's tree
    text = PAGE.read_text(encoding="utf-8")
    match = _TREE_BLOCK.search(text)
    assert match
    PAGE.write_text(text[: match.start(1)] + render_tree() + text[match.end(1) :], "utf-8")
