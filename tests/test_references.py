"""References a reader can follow: code cites the paper and the docs, never a file outside
the repository (``METHOD.md`` and the rest of ``../shared`` are not shipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Names of files that live outside the repository.
OUTSIDE = re.compile(r"METHOD\.md|STYLE\.md|\.\./shared|/work/shared")


@pytest.mark.parametrize("package", ["captum_ifim", "comparisons"])
def test_no_reference_to_files_outside_the_repository(package: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not found, f"references to files outside the repository: {found}"


def test_the_docs_cite_no_file_outside_the_repository() -> None:
    """The pages, the gallery's examples and the README: a reader has only the repository."""
    sources = [
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "docs" / "gallery").glob("*.py"),
        *(ROOT / "docs" / "slurm").rglob("*"),
        ROOT / "README.md",
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(p for p in sources if p.is_file())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not found, f"references to files outside the repository: {found}"


def test_the_cited_docs_sections_exist() -> None:
    """The section titles the library's docstrings quote are headings of the docs."""
    headings = {
        page: {
            line.lstrip("#").strip() for line in path.read_text().splitlines() if line[:1] == "#"
        }
        for page, path in (
            ("theory", ROOT / "docs" / "theory.md"),
            ("metrics", ROOT / "docs" / "metrics.md"),
        )
    }
    cited = re.compile(r'docs/(theory|metrics)\.md,\s+"([^"]+)"')
    checked = 0
    for path in sorted((ROOT / "captum_ifim").rglob("*.py")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        for page, title in cited.findall(text):
            assert any(h.startswith(title) for h in headings[page]), (path.name, page, title)
            checked += 1
    assert checked >= 4
