"""The box files are math only: each family file of flowgraph/boxes imports the core's Box
(and Linear its rank-1 Outer), the errors and NumPy, nothing else; every box it defines is
exported by one line of flowgraph/boxes/__init__.py and reaches ``import flowgraph as fg``."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import flowgraph as fg
import flowgraph.boxes as boxes
from flowgraph.check import all_box_classes

BOXES_DIR = Path(boxes.__file__).parent
FAMILY_FILES = sorted(p for p in BOXES_DIR.glob("*.py") if p.name != "__init__.py")
ALLOWED = {"__future__", "numpy", "collections.abc", "typing", "..core.box", "..core.rank1",
           "..errors", "functools", "operator", "numpy.lib.stride_tricks",
           "scipy.sparse"}  # fmt: skip  (scipy.sparse: the optional `fast` extra, on call)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (relative ones spelt with their dots)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_there_are_family_files():
    assert {"activations.py", "arithmetic.py", "linear.py", "losses.py"} <= {
        p.name for p in FAMILY_FILES
    }


@pytest.mark.parametrize("path", FAMILY_FILES, ids=lambda p: p.name)
def test_a_family_file_imports_the_core_box_and_the_errors_only(path):
    assert imports_of(path) - ALLOWED == set(), f"{path.name} imports more than Box and errors"
    assert "..core.box" in imports_of(path)


BOXES_OF_THE_FILES = [c for c in all_box_classes() if c.__module__.startswith("flowgraph.boxes.")]


@pytest.mark.parametrize("cls", BOXES_OF_THE_FILES, ids=lambda c: c.__name__)
def test_every_box_of_the_files_is_exported_by_one_line(cls):
    assert getattr(boxes, cls.__name__) is cls
    assert getattr(fg, cls.__name__) is cls
    init = (BOXES_DIR / "__init__.py").read_text(encoding="utf-8")
    module = cls.__module__.rsplit(".", 1)[1]
    assert init.count(f"from .{module} import {cls.__name__} as {cls.__name__}\n") == 1


def test_the_init_exports_boxes_and_their_two_helpers_only():
    exported = {
        name
        for name in vars(boxes)
        if not name.startswith("_") and not inspect.ismodule(getattr(boxes, name))
    }
    classes = {c.__name__ for c in BOXES_OF_THE_FILES}
    assert exported == classes | {"Box", "softmax", "unbroadcast"}
    assert fg.Block is fg.core.Block and "Block" not in exported  # Block belongs to the core
