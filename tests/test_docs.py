"""The documentation: Sphinx builds it without a warning, the API pages cover every public
name, every code block of the pages runs, and the tables agree with the registries."""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, get_args
from urllib.parse import unquote, urlsplit

import pytest
import torch

from captum_ifim import available_methods, get_method_spec
from captum_ifim.functional import OutputHead
from captum_ifim.metrics import METRICS, LowRule, MetricCategory

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = (
    "index",
    "quickstart",
    "theory",
    "captum",
    "baselines",
    "captum-methods",
    "metrics",
    "harness",
    "own-model",
    "own-methods",
    "dicom",
    "results",
    "results-3d",
    "results-shortcut",
    "results-robust",
    "performance",
    "architecture",
    "api",
)
PUBLIC_MODULES = (
    "captum_ifim",
    "captum_ifim.functional",
    "captum_ifim.methods",
    "captum_ifim.metrics",
)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)


def _page(name: str) -> str:
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def _table(page: str, first_cell: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header starts with ``| first_cell |``."""
    lines = _page(page).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_sphinx_builds_every_page_without_warnings(built_docs: Path) -> None:
    for name in PAGES:
        assert (built_docs / f"{name}.html").is_file(), name
    # dollarmath turned $...$ into math nodes (MathJax markup), not literal dollars.
    theory = (built_docs / "theory.html").read_text(encoding="utf-8")
    assert theory.count('class="math') > 20 and "$$" not in theory


class _LinksAndIds(HTMLParser):
    """The local link targets (href, src) and the anchors (id, name) of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and (name == "id" or tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src") and tag in ("a", "img", "link", "script", "source"):
                self.links.append(value)


def _parsed(page: Path) -> _LinksAndIds:
    parser = _LinksAndIds()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _broken_links(site: Path) -> list[str]:
    """The relative href/src of the site's pages that name no file of the site, or a
    #fragment that is no anchor of its page (``sphinx -b linkcheck`` checks neither offline)."""
    root = site.resolve()
    pages = sorted(p.resolve() for p in root.rglob("*.html") if "_static" not in p.parts)
    parsed = {page: _parsed(page) for page in pages}
    broken = []
    for page, found in parsed.items():
        for link in found.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue  # another site: a plain link, never loaded (see test_docs_browser)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(root)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                anchors = (parsed.get(target) or _parsed(target)).ids
                if unquote(parts.fragment) not in anchors:
                    broken.append(f"{page.relative_to(root)}: {link}")
    return broken


def test_every_internal_link_resolves(built_docs: Path) -> None:
    assert len(list(built_docs.rglob("*.html"))) > len(PAGES)
    assert not _broken_links(built_docs)


def test_the_link_check_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "img.png").write_bytes(b"")
    (tmp_path / "a.html").write_text(
        '<h1 id="top">A</h1><a href="#top">ok</a><a href="sub/b.html#here">ok</a>'
        '<img src="img.png"><a href="https://example.org/x">external</a>'
        '<a href="#nowhere">bad anchor</a><a href="sub/missing.html">bad file</a>',
        encoding="utf-8",
    )
    (tmp_path / "sub" / "b.html").write_text(
        '<a name="here"></a><a href="../a.html#top">ok</a><img src="../gone.png">',
        encoding="utf-8",
    )
    assert _broken_links(tmp_path) == [
        "a.html: #nowhere",
        "a.html: sub/missing.html",
        "sub/b.html: ../gone.png",
    ]


def _documented(built_docs: Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with (built_docs / "objects.inv").open("rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    items: Any = getattr(inventory, "data", inventory)
    return {name for kind, entries in items.items() if kind.startswith("py:") for name in entries}


def test_every_public_name_is_documented(built_docs: Path) -> None:
    documented = _documented(built_docs)
    modules = {name: importlib.import_module(name) for name in PUBLIC_MODULES}
    api = _page("api")
    missing = []
    for module_name, module in modules.items():
        assert module.__all__, module_name
        for name in module.__all__:
            if f"{module_name}.{name}" in documented:
                continue
            # A re-export (captum_ifim.methods) counts when the same object is documented
            # under another public module and the API page names it there.
            same = [
                other
                for other, other_module in modules.items()
                if other != module_name
                and getattr(other_module, name, None) is getattr(module, name)
                and f"{other}.{name}" in documented
            ]
            if not same or f"{same[0]}.{name}" not in api:
                missing.append(f"{module_name}.{name}")
    assert not missing


def test_no_page_holds_control_characters() -> None:
    """A TeX backslash written through a Python string (``"\\theta"`` as ``"\\t" "heta"``)
    leaves a tab, form feed or bell in the page, which MathJax then reports as an error."""
    sources = [*DOCS.glob("*.md"), *DOCS.glob("gallery/*.py"), ROOT / "README.md"]
    control = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
    found = {
        f"{path.relative_to(ROOT)}:{number}": line
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
        if control.search(line) or line.startswith(("abla", "rac{", "imes"))
    }
    assert not found, found


def test_literal_aliases_are_documented_with_their_values() -> None:
    api = _page("api")
    for alias in (OutputHead, LowRule, MetricCategory):
        spelled = "Literal[" + ", ".join(f'"{value}"' for value in get_args(alias)) + "]"
        assert spelled in api, spelled


def test_the_registry_table_matches_the_code() -> None:
    rows = _table("baselines", "name")
    assert [row[0].strip("`") for row in rows] == available_methods()
    yes_no = {"yes": True, "no": False}
    for name, _, uses_target, normalized, layer, background in rows:
        spec = get_method_spec(name.strip("`"))
        documented = [yes_no[v] for v in (uses_target, normalized, layer, background)]
        facts = [
            spec.uses_target,
            spec.normalized_maps,
            spec.needs_target_layer,
            spec.needs_background,
        ]
        assert documented == facts, name


def test_the_metrics_table_matches_the_registry() -> None:
    rows = _table("metrics", "name")
    assert [row[0].strip("`") for row in rows] == list(METRICS)
    for name, category, better, function in rows:
        info = METRICS[name.strip("`")]
        assert category == info.category, name
        expected = {True: "higher", False: "lower"}.get(info.higher_is_better, "neither")
        if info.ideal is not None:
            expected = f"ideal {info.ideal:g}"
        assert better == expected, name
        assert info.function is not None and function.endswith(f".{info.function.__name__}`"), name


def test_quickstart_commands_are_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [block.strip() for block in BASH_BLOCK.findall(_page("quickstart"))]
    assert len(commands) == 3  # the two commands, and torch's CPU build before them
    for command in commands:
        assert command in readme, command


@pytest.fixture
def quiet_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    # As for a script or a notebook in that folder, the modules a page writes there import.
    monkeypatch.syspath_prepend(str(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


PAGES_WITH_CODE = [name for name in PAGES if PYTHON_BLOCK.search(_page(name))]


def test_the_pages_with_examples_are_the_expected_ones() -> None:
    assert {"quickstart", "captum", "baselines", "metrics", "own-model"} <= set(PAGES_WITH_CODE)


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_every_code_block_of_the_page_runs(page: str, quiet_one_thread: None) -> None:
    """The blocks of a page run in order in one namespace, as a reader would paste them."""
    namespace: dict[str, Any] = {"__name__": f"docs_{page}"}
    blocks = PYTHON_BLOCK.findall(_page(page))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Input Tensor .* did not already require")
        for index, block in enumerate(blocks):
            exec(compile(block, f"docs/{page}.md[block {index}]", "exec"), namespace)
