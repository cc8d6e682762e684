"""Sphinx configuration of the captum-ifim documentation.

The built site works with no network: no intersphinx, MathJax 3 copied into ``_static`` by
sphinx-mathjax-offline, the PyData theme's fonts and icons from its own static files, and the
gallery (``gallery/``, sphinx-gallery) executed at build time; an example whose source did not
change since the last build is not run again.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import torch
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from captum_ifim import __version__  # noqa: E402

_METADATA = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: The paper, where the package metadata names it ([project.urls] Paper of pyproject.toml).
PAPER_URL = _METADATA["urls"]["Paper"]
PAPER_TITLE = (
    "Sengupta & Anastasio, Input-Dependent Fisher Information for Local Sensitivity Analysis "
    "of Medical Image Classifiers"
)

project = "captum-ifim"
author = "captum-ifim developers"
copyright = "captum-ifim developers"
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # sets mathjax_path to the bundled MathJax 3 (tex-chtml.js)
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# Run outputs copied in from the harness are included by results.md and performance.md, not
# built as pages of their own; their tables nest headings as the report writes them. The
# gallery's sources are read by sphinx-gallery, which writes the pages to auto_examples/.
exclude_patterns = [
    "_build",
    "results/default/*.md",
    "results/robust/*.md",
    "results/shortcut/*.md",
    "performance_figures/*.md",
    "gallery",
    "slurm",
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]
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

# Copy buttons leave prompts and outputs behind (>>> and ... of doctests, $ of shells).
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = False


# The gallery runs in this process: one torch thread (its models are tiny, more threads add
# overhead, and the build shares small CI machines).
torch.set_num_threads(1)

sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_signature": False,
    "min_reported_time": 1,
    # The execution-time pages load jQuery and DataTables from CDNs: not built (the time of
    # each example is at the end of its page).
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"captum-ifim {__version__}"
templates_path = ["_templates"]
html_show_sourcelink = False
html_context = {
    # Follow the reader's light or dark setting (the theme's switcher overrides it).
    "default_mode": "auto",
    "paper_url": PAPER_URL,
    "paper_title": PAPER_TITLE,
}
# The PyData theme already scrolls wide tables (pst-scrollable-table-container), code
# blocks and display math inside the page; no custom CSS.
html_theme_options = {
    "header_links_before_dropdown": 6,
    "navbar_align": "left",
    "navbar_end": ["paper-link", "theme-switcher"],
    "show_toc_level": 2,
    # No empty "Section Navigation" column on pages without subpages: the article gets it.
    "sidebar_includehidden": False,
    # Nothing that fetches from another host: no version switcher (a JSON file from a
    # server), no analytics, no Read the Docs ads.
    "primary_sidebar_end": [],
    "footer_start": ["copyright"],
    "footer_end": [],
    "secondary_sidebar_items": ["page-toc"],
}


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
