"""Sphinx configuration of the clamr-frames documentation (``bash run.sh docs`` builds it with -W)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# the repository root first, so autodoc documents this checkout (not another installed copy); _ext holds
# the project's own small extensions
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
# API pages import the package: never reach for the model hub while building
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(var, "1")

project = "clamr-frames"
author = "the clamr-frames developers"
copyright = "the clamr-frames developers, MIT licence"

from clamr_frames import __version__ as release

version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "markdown_from",
    "generated_includes",
]

# "--index-dir" stays two hyphens (smart quotes would make it an en dash)
smartquotes = False

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]

# MyST: ```{directive} fences, ::: fences, definition lists; anchors for headings of every level (an included
# file's ## sits several levels down, and its own [x](#a-heading) links must resolve), so that
# [text](page.md#a-heading) links are checked like any other reference
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 6

# autodoc: the members each package lists in __all__, in source order, signatures with their annotations
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# a class's "Attributes:" section as fields of the class, not as attribute entries that autodoc's own member
# entries would duplicate
napoleon_use_ivar = True

# benchmarks/RESULTS.md is generated, and performance.md includes it as it is. generated_includes renumbers its
# headings (### under #, a jump MyST reports) and rebases its relative links as it is included, so no warning
# type is silenced: any page that skips a heading level or links to nothing still fails the build.
generated_includes = ["../benchmarks/RESULTS.md"]

html_theme = "furo"
html_title = f"clamr-frames {release}"
html_static_path: list[str] = []
