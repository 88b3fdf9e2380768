"""The core stands on its own: its modules import NumPy, the standard library, the errors, the
machinery below them (flowgraph/machinery) and each other, and nothing above them but the one
circle the design needs (core/node.py imports the arithmetic boxes its operators make), done
once, last in node.py."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import flowgraph.core as core

CORE_DIR = Path(core.__file__).parent
CORE_FILES = sorted(CORE_DIR.glob("*.py"))
UPWARD_AT_TOP = {"node.py": {"..boxes.arithmetic", "..boxes.elementary", "..boxes.elementwise",
                             "..boxes.indexing", "..boxes.matmul", "..boxes.reductions",
                             "..boxes.shapes"}}  # the one circle
# imported inside a function, when called: Jupyter's picture of a Graph; the forward-mode
# checker's table rows (leaving core/forward.py for flowgraph/check)
UPWARD_ON_CALL = {"graph.py": {"..render"}}


def package_imports(path: Path) -> tuple[set[str], set[str]]:
    """The flowgraph modules a file imports at module level and inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {n for n in tree.body if isinstance(n, ast.ImportFrom) and n.level}
    inner = {
        n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level and n not in top
    }

    def names(nodes):
        return {"." * n.level + (n.module or "") for n in nodes}

    return names(top), names(inner)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_a_core_module_imports_the_core_and_the_errors(path):
    top, inner = package_imports(path)
    below = {m for m in top if m == "..errors" or m == ".." or m.startswith("..machinery")}
    upward_top = {m for m in top if m.startswith("..")} - below
    assert upward_top == UPWARD_AT_TOP.get(path.name, set())
    upward_inner = {m for m in inner if m.startswith("..")}
    assert upward_inner <= UPWARD_ON_CALL.get(path.name, set())


MACHINERY_FILES = sorted((CORE_DIR.parent / "machinery").glob("*.py"))


@pytest.mark.parametrize("path", MACHINERY_FILES, ids=lambda p: p.name)
def test_the_machinery_imports_the_errors_and_itself_only(path):
    top, inner = package_imports(path)
    assert {m for m in top | inner if m.startswith("..")} <= {"..errors"}


def test_the_core_is_read_in_one_sitting():
    """Issue 20's measure: the lecture's core (box, node, graph, block, forward, rank1) in
    about 1,200-1,500 lines, docstrings included; what it calls beyond the lecture lives in
    flowgraph/machinery and flowgraph/step."""
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in CORE_FILES)
    assert lines <= 1500, f"flowgraph/core/ has {lines} lines"


def test_the_circle_is_closed_last_in_node_py():
    text = (CORE_DIR / "node.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    circle = [
        n
        for n in imports
        if isinstance(n, ast.ImportFrom) and n.level == 2 and n.module == "boxes.arithmetic"
    ]
    assert len(circle) == 1
    assert all(
        not isinstance(n, (ast.ClassDef, ast.FunctionDef))
        for n in tree.body[tree.body.index(circle[0]) :]
    )  # nothing is defined after it
    assert "the one import circle" in text


@pytest.mark.parametrize(
    "module",
    ["flowgraph.core.box", "flowgraph.core.node", "flowgraph.core.graph", "flowgraph.boxes",
     "flowgraph.boxes.linear", "flowgraph.functional", "flowgraph.core.block"],
)  # fmt: skip
def test_any_module_imports_first_in_a_fresh_interpreter(module):
    root = Path(core.__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
