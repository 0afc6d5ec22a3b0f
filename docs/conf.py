# The site's configuration: Sphinx with MyST Markdown (autodoc imports the installed, compiled package
# and reads the docstrings Cython embeds, as numpy's, pyarrow's and openvino's own docs do).
#
#     pip install ".[docs]" && sphinx-build -W --keep-going -n docs docs/_build/html
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))

project = "ovfast"
author = "the ovfast developers"
copyright = "2026, the ovfast developers"

extensions = ["myst_parser", "sphinx.ext.autodoc", "ovfast_docs"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
html_theme = "furo"
html_title = "ovfast"

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": True}
# Signatures come from the docstrings Cython embeds (embedsignature); their types are Python's builtins or
# openvino's classes, which this site does not document.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(openvino|numpy|np|collections|typing|asyncio|gi|Gst)\b.*"),
    (r"py:class", r"(int|str|bytes|float|bool|object|dict|list|tuple|None|callable|Ellipsis)"),
    (r"c:identifier", r"(int64_t|size_t|bint|object)"),
]
html_static_path = ["_static"]
html_css_files = ["tables.css"]
