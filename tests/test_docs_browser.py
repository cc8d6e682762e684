"""The built documentation in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright, the site served from 127.0.0.1.

Math is typeset by the bundled MathJax (no raw TeX left, no MathJax error), every image
loads, and no request leaves 127.0.0.1 (fonts, scripts and styles ship with the site). The
landing and theory pages are saved as screenshots in ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests._docs_build import SCREENSHOTS

#: Debian's package; Playwright is told to use it and never downloads a browser of its own.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags this project's machines need (no sandbox as root, no GPU, nothing in the background).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOST = "127.0.0.1"
#: Every page of the site (the sources' names), and every page of the gallery (found in
#: the build).
PAGES = tuple(sorted(p.stem for p in (Path(__file__).parents[1] / "docs").glob("*.md")))
SCREENSHOT_PAGES = ("index", "theory")
#: Text nodes inside these are code or typeset math, where TeX delimiters are expected.
_NOT_PROSE = "pre, code, script, style, textarea, mjx-container, .highlight"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium on PATH: the browser test needs Debian's chromium package "
    "(apt-get install chromium; .ci/run installs it)",
)

#: Boxes whose content may be wider than the page: they must scroll, not spill or clip.
_WIDE_BOXES = "pre, table, .pst-scrollable-table-container, div.math mjx-container"

_VISIT = """async ([notProse, wideBoxes]) => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    const images = Array.from(document.images);
    for (const image of images) { image.loading = "eager"; }
    await Promise.all(images.map((image) => image.decode().catch(() => null)));
    // MathJax asks for its fonts once the typeset math is laid out.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    await document.fonts.ready;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const prose = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (!node.parentElement.closest(notProse)) { prose.push(node.nodeValue); }
    }
    const wide = Array.from(document.querySelectorAll(wideBoxes)).filter(
        (box) => box.scrollWidth > box.clientWidth + 1);
    return {
        pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
        wide: wide.length,
        clipped: wide.filter((box) => !["auto", "scroll"].includes(getComputedStyle(box).overflowX))
            .map((box) => box.tagName + "." + box.className),
        prose: prose.join(" "),
        mathjaxLoaded: Boolean(window.MathJax && MathJax.version),
        mathjaxVersion: window.MathJax ? String(MathJax.version) : "",
        mathNodes: document.querySelectorAll(".math").length,
        typeset: document.querySelectorAll("mjx-container").length,
        texErrors: document.querySelectorAll("mjx-merror").length,
        images: images.map((image) => [image.getAttribute("src"), image.naturalWidth]),
    };
}"""


@dataclass
class PageVisit:
    """What the browser saw on one page."""

    name: str
    prose: str
    mathjax_loaded: bool
    mathjax_version: str
    math_nodes: int
    typeset: int
    tex_errors: int
    images: list[tuple[str, int]]
    page_overflow: int
    wide: int
    clipped: list[str]
    console_errors: list[str] = field(default_factory=list)


@dataclass
class BrowserRun:
    """Every visited page, every request the browser made, and the failed ones."""

    visits: dict[str, PageVisit]
    requests: list[str]
    failures: list[str]
    screenshots: list[Path]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


@pytest.fixture(scope="module")
def site(built_docs: Path) -> Iterator[str]:
    """The built HTML served by a local http.server thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_docs))
    server = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _gallery_pages(built_docs: Path) -> list[str]:
    return sorted(
        f"auto_examples/{page.stem}" for page in (built_docs / "auto_examples").glob("*.html")
    )


@pytest.fixture(scope="module")
def browser_run(site: str, built_docs: Path) -> BrowserRun:
    """Open the key pages and the gallery in headless Chromium; screenshot two of them."""
    from playwright.sync_api import Route, sync_playwright

    assert CHROMIUM is not None
    requests: list[str] = []
    failures: list[str] = []
    visits: dict[str, PageVisit] = {}
    screenshots: list[Path] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def only_local(route: Route) -> None:
        # Record everything; let nothing leave this machine, so a stray CDN link fails
        # here the way it fails on a hospital network.
        url = route.request.url
        requests.append(url)
        if urlsplit(url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            route.abort()

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            env={**os.environ, "HOME": profile},
        )
        try:
            context.route("**/*", only_local)
            page = context.new_page()
            page.on(
                "requestfailed",
                lambda request: failures.append(f"{request.url} ({request.failure})"),
            )
            page.on(
                "response",
                lambda response: (
                    response.status >= 400
                    and failures.append(f"{response.url} (HTTP {response.status})")
                ),
            )
            console: dict[str, list[str]] = {}
            current = [""]
            page.on(
                "console",
                lambda message: (
                    message.type == "error"
                    and console.setdefault(current[0], []).append(message.text)
                ),
            )
            for name in (*PAGES, "auto_examples/index", *_gallery_pages(built_docs)):
                current[0] = name
                page.goto(f"{site}{name}.html", wait_until="load")
                seen = page.evaluate(_VISIT, [_NOT_PROSE, _WIDE_BOXES])
                visits[name] = PageVisit(
                    name=name,
                    prose=seen["prose"],
                    mathjax_loaded=seen["mathjaxLoaded"],
                    mathjax_version=seen["mathjaxVersion"],
                    math_nodes=seen["mathNodes"],
                    typeset=seen["typeset"],
                    tex_errors=seen["texErrors"],
                    images=[(src, width) for src, width in seen["images"]],
                    page_overflow=seen["pageOverflow"],
                    wide=seen["wide"],
                    clipped=seen["clipped"],
                    console_errors=console.get(name, []),
                )
                if name in SCREENSHOT_PAGES:
                    path = SCREENSHOTS / f"{name}.png"
                    page.screenshot(path=str(path))
                    full = SCREENSHOTS / f"{name}-full.png"
                    page.screenshot(path=str(full), full_page=True)
                    screenshots += [path, full]
            page.emulate_media(color_scheme="dark")
            page.goto(f"{site}index.html", wait_until="load")
            dark = SCREENSHOTS / "index-dark.png"
            page.screenshot(path=str(dark))
            screenshots.append(dark)
        finally:
            context.close()
    print(f"\nscreenshots: {', '.join(str(path) for path in screenshots)}")
    return BrowserRun(visits, requests, failures, screenshots)


def test_no_request_leaves_the_local_server(browser_run: BrowserRun) -> None:
    hosts = {urlsplit(url).hostname for url in browser_run.requests}
    assert hosts == {LOCAL_HOST}, sorted(
        url for url in browser_run.requests if urlsplit(url).hostname != LOCAL_HOST
    )
    assert not browser_run.failures


def test_every_image_loads(browser_run: BrowserRun) -> None:
    broken = [
        (name, src)
        for name, visit in browser_run.visits.items()
        for src, width in visit.images
        if width == 0
    ]
    assert not broken
    # The gallery is there to show pictures: every example page has its figures.
    for name, visit in browser_run.visits.items():
        if name.startswith("auto_examples/plot_"):
            assert sum("/sphx_glr_" in src for src, _ in visit.images) >= 1, name


def test_the_math_is_typeset_offline(browser_run: BrowserRun) -> None:
    theory = browser_run.visits["theory"]
    assert theory.mathjax_loaded and theory.mathjax_version.startswith("3."), theory
    # Every math node of the page became MathJax output; the theory page has dozens.
    assert theory.typeset >= theory.math_nodes > 20
    for name, visit in browser_run.visits.items():
        assert visit.tex_errors == 0, name
        for delimiter in ("\\(", "\\)", "\\[", "\\]", "$$"):
            assert delimiter not in visit.prose, (name, delimiter)
        if visit.math_nodes:
            assert visit.typeset >= visit.math_nodes, name


def test_wide_tables_code_and_math_scroll_inside_the_page(browser_run: BrowserRun) -> None:
    for name, visit in browser_run.visits.items():
        assert visit.page_overflow <= 0, name  # nothing runs off the right edge
        assert not visit.clipped, (name, visit.clipped)  # wide boxes scroll, never clip
    # The results page has tables and code wider than the article: the check saw them.
    assert browser_run.visits["results"].wide >= 2


def test_no_script_errors(browser_run: BrowserRun) -> None:
    errors = {name: visit.console_errors for name, visit in browser_run.visits.items()}
    assert not any(errors.values()), errors


def test_screenshots_of_the_landing_and_theory_pages(browser_run: BrowserRun) -> None:
    for path in browser_run.screenshots:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, path
