"""The box files are math only: each family file of flowgraph/boxes imports the core's Box
(and Linear its rank-1 Outer), the errors, NumPy and boxes/common.py (the NumPy helpers
several families share, no box), nothing else; every box it defines is exported by one line
of flowgraph/boxes/__init__.py and reaches ``import flowgraph as fg``."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import flowgraph as fg
import flowgraph.boxes as boxes
from flowgraph.check import all_box_classes

BOXES_DIR = Path(boxes.__file__).parent
FAMILY_FILES = sorted(p for p in BOXES_DIR.glob("*.py") if p.name not in ("__init__.py",
                                                                           "common.py"))
ALLOWED = {"__future__", "numpy", "collections.abc", "typing", "..core.box", "..core.rank1",
           "..errors", "functools", "operator", "numpy.lib.stride_tricks", ".common",
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


def test_the_shared_helpers_are_numpy_and_the_errors_only_and_define_no_box():
    path = BOXES_DIR / "common.py"
    assert imports_of(path) <= {"__future__", "numpy", "collections.abc", "..errors"}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not [n.name for n in tree.body if isinstance(n, ast.ClassDef)]


def test_no_family_file_writes_a_shared_helper_again():
    """What two families need is written once, in common.py (it was three times)."""
    shared = {n.name for n in ast.parse((BOXES_DIR / "common.py").read_text()).body
              if isinstance(n, ast.FunctionDef)}  # fmt: skip
    for path in FAMILY_FILES:
        defined = {n.name.lstrip("_") for n in ast.parse(path.read_text()).body
                   if isinstance(n, ast.FunctionDef)}  # fmt: skip
        assert not defined & shared, f"{path.name} defines {defined & shared} again"


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


def test_softmax_takes_integers_as_np_exp_does():
    """The 2-D fast path of Softmax once raised UFuncTypeError on integer scores (exp written
    into an integer array), while its N-D path computed them in floats."""
    a = np.array([[1, 2, 3], [0, 0, 0]])
    f = fg.Softmax().fprop(a)
    assert f.dtype == np.float64
    np.testing.assert_array_equal(f, fg.Softmax().fprop(a.astype(float)))
    np.testing.assert_array_equal(fg.Softmax(axis=0).fprop(a), fg.boxes.softmax(a.astype(float), 0))
