"""Sphinx configuration of flowgraph's API reference (built from the docstrings).

    pip install -e '.[docs]'
    python -m sphinx -W -b html docs/api docs/api/_build/html

CI builds it with -W: a warning (a docstring Sphinx cannot read, a module that fails to
import) fails the build.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the checkout's flowgraph, also without an install

import flowgraph  # noqa: E402

project = "flowgraph"
author = "the flowgraph developers"
copyright = "2026, the flowgraph developers"
release = version = flowgraph.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the NumPy-style Parameters / Returns / Examples sections
    "sphinx.ext.viewcode",
]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autoclass_content = "both"  # the class docstring and __init__'s
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

# The docstrings write norms and absolute values as in the lecture, |W| and ||v||, plain text
# for help() and the source; in reStructuredText a bar starts a substitution. Escape the bars
# outside inline literals (``...``) and roles (:class:`...`) for the reference only.
_LITERAL = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`)")


def _indent(line):
    return len(line) - len(line.lstrip())


def _escape_bars(app, what, name, obj, options, lines):
    literal_above = None  # indentation of the line ending with "::" while in its block
    for i, line in enumerate(lines):
        if literal_above is not None and line.strip() and _indent(line) <= literal_above:
            literal_above = None
        if literal_above is None and "|" in line and not line.lstrip().startswith(("+", "|")):
            parts = _LITERAL.split(line)  # (tables, starting with + or |, are left alone)
            lines[i] = "".join(p if k % 2 else p.replace("|", r"\|") for k, p in enumerate(parts))
        if line.rstrip().endswith("::"):
            literal_above = _indent(line)


# A box's docstring states its math as aligned "fprop: ... / bprop: ..." lines (see
# flowgraph.boxes); the reference shows them as written, as a literal block, not reflowed.
_RULE = re.compile(r"^\s*(fprop|bprop):")


def _literal_rules(app, what, name, obj, options, lines):
    i = 0
    while i < len(lines):
        if _RULE.match(lines[i]) and (i == 0 or not _RULE.match(lines[i - 1])):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            lines[i:end] = ["::", ""] + ["    " + line for line in lines[i:end]] + [""]
            i = end + 3
        else:
            i += 1


def setup(app):
    app.connect("autodoc-process-docstring", _literal_rules)
    app.connect("autodoc-process-docstring", _escape_bars)  # after: it skips literal blocks
