"""Sphinx configuration of the captum-ifim documentation (offline: no intersphinx)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from captum_ifim import __version__  # noqa: E402

project = "captum-ifim"
author = "captum-ifim developers"
copyright = "captum-ifim developers"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
# Run outputs copied in from the harness are included by results.md and performance.md, not
# built as pages of their own; their tables nest headings as the report writes them.
exclude_patterns = ["_build", "results/default/*.md", "performance_figures/*.md"]
suppress_warnings = ["myst.header"]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_mock_imports: list[str] = []

html_theme = "alabaster"
html_title = f"captum-ifim {__version__}"
html_static_path: list[str] = []
# MathJax is loaded from a CDN by the browser that opens the pages; the build itself
# never touches the network.


def _skip_namedtuple_fields(
    app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """Leave out the "Alias for field number i" members of NamedTuples (the class lists them)."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app: Sphinx) -> None:
    """Register the hook above."""
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
