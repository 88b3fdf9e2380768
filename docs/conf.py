"""Sphinx configuration of flowgraph's documentation: the notebooks (with their stored outputs,
never executed here), the Architecture page and the API reference (from the docstrings).

    pip install -e '.[docs]'
    python -m sphinx -W -b html docs docs/_build/html

CI builds it with -W and no network but the package registries: a warning (a docstring Sphinx
cannot read, a module that fails to import, a notebook it cannot render) fails the build.
"""

import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the checkout's flowgraph, also without an install

import flowgraph  # noqa: E402

# The public names as users write them, fg.Box, fg.Linear: api/public.rst documents
# ``fg.Box`` and autodoc imports "fg", which is flowgraph itself.
sys.modules["fg"] = flowgraph

# The notebooks live in the repository's notebooks/ (built there by notebooks/build.py, with
# their outputs); Sphinx reads sources under docs/ only, so each build copies them into
# docs/notebooks/ (ignored by git). myst-nb shows the stored outputs and never runs them.
NOTEBOOKS = HERE / "notebooks"
NOTEBOOKS.mkdir(exist_ok=True)
for _old in NOTEBOOKS.glob("*.ipynb"):
    _old.unlink()
for _nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    shutil.copyfile(_nb, NOTEBOOKS / _nb.name)

project = "flowgraph"
author = "the flowgraph developers"
copyright = "2026, the flowgraph developers"
release = version = flowgraph.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the NumPy-style Parameters / Returns / Examples sections
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",  # numpy.ndarray and friends link to NumPy's documentation
    "sphinx.ext.mathjax",  # the notebooks' $...$ typeset
    "sphinx.ext.graphviz",  # the Architecture page's pictures, drawn by dot at build time
    "myst_nb",  # the notebooks, with their stored outputs
]

# NumPy's inventory from numpy.org when the network allows, else the file next to this one
# (python docs/numpy_inventory.py writes it): a build with no network has no warning.
intersphinx_mapping = {
    "numpy": ("https://numpy.org/doc/stable/", (None, str(HERE / "numpy-objects.inv"))),
}
intersphinx_timeout = 10

nb_execution_mode = "off"  # the stored outputs, as committed
myst_enable_extensions = ["dollarmath", "amsmath"]  # the notebooks' math
nb_merge_streams = True
graphviz_output_format = "svg"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autoclass_content = "both"  # the class docstring and __init__'s
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = f"flowgraph {release}"
html_static_path: list[str] = []

# The docstrings write norms and absolute values as in the lecture, |W| and ||v||, plain text
# for help() and the source; in reStructuredText a bar starts a substitution. Escape the bars
# outside inline literals (``...``) and roles (:class:`...`) for the reference only.
_LITERAL = re.compile(r"(``.*?``|:\w+:`[^`]*`|`[^`]*`)")


def _indent(line):
    return len(line) - len(line.lstrip())


def _table_row(line):
    """A row or border of a grid table (``+---+``, ``| a | b |``), not a bar in text."""
    text = line.strip()
    return text.startswith("+") or (text.startswith("| ") and text.endswith(" |"))


_STAR_ARG = re.compile(r"(?<=[\[(,] )\*(?=\w)|(?<=[\[(])\*(?=\w)")


def _escape_bars(app, what, name, obj, options, lines):
    literal_above = None  # indentation of the line ending with "::" while in its block
    for i, line in enumerate(lines):
        if literal_above is not None and line.strip() and _indent(line) <= literal_above:
            literal_above = None
        if literal_above is None and "|" in line and not _table_row(line):
            parts = _LITERAL.split(line)  # (tables, starting with + or |, are left alone)
            parts = [p if k % 2 else _STAR_ARG.sub(r"\\*", p) for k, p in enumerate(parts)]
            lines[i] = "".join(p if k % 2 else p.replace("|", r"\|") for k, p in enumerate(parts))
        elif literal_above is None and "*" in line:  # [n_in, *hidden]: Python's star, not emphasis
            parts = _LITERAL.split(line)
            lines[i] = "".join(
                p if k % 2 else _STAR_ARG.sub(r"\\*", p) for k, p in enumerate(parts)
            )
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


# The docstrings, written for help() too, set formulas and loops apart as an indented block
# after a line ending in ":" (Graph.bprop's loop, an estimate's terms); in reStructuredText
# that is a block quote, whose inner indentation is an error. Show them as written: "::".
def _literal_blocks(app, what, name, obj, options, lines):
    for i in range(len(lines) - 2):
        line, blank, below = lines[i], lines[i + 1], lines[i + 2]
        prose = line.rstrip().endswith(":") and not line.rstrip().endswith("::")
        if prose and not line.lstrip().startswith((":", "..")) and not blank.strip():
            if below.strip() and _indent(below) > _indent(line):
                lines[i] = line.rstrip() + ":"


def setup(app):
    app.connect("autodoc-process-docstring", _literal_rules)
    app.connect("autodoc-process-docstring", _literal_blocks)
    app.connect("autodoc-process-docstring", _escape_bars)  # after: it skips literal blocks
