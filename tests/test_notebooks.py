"""Every teaching notebook runs top to bottom without an error, and what is committed is what
its source builds, with outputs.

The notebooks are executed with nbclient on the ``python3`` kernel, in a copy without outputs,
from the ``notebooks/`` folder (as ``notebooks/build.py`` does).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.py"))


def _build_module():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def test_every_source_has_a_committed_notebook_and_back():
    built = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert SOURCES, "no notebook sources in notebooks/src"
    assert built == {s.stem for s in SOURCES}


def test_build_converts_percent_format_with_jupytext_keeping_only_tags(tmp_path):
    src = tmp_path / "99_demo.py"
    src.write_text(
        '# %% [markdown]\n# # Title\n# $a = b$\n\n# %%\nx = 1\n\n\n'
        '# %% tags=["readme-x", "other"]\ny = 2\n'
    )
    nb = build.build(src)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    assert nb.cells[0].source == "# Title\n$a = b$"
    assert nb.cells[1].source == "x = 1"
    assert [c.metadata for c in nb.cells] == [{}, {}, {"tags": ["readme-x", "other"]}]
    assert [c.id for c in nb.cells] == ["cell-00", "cell-01", "cell-02"]
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_committed_notebook_matches_its_source_and_has_outputs(source):
    committed = nbformat.read(NOTEBOOKS / f"{source.stem}.ipynb", as_version=4)
    expected = build.build(source)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in expected.cells
    ], f"{source.stem}.ipynb is stale: run python notebooks/build.py {source.stem[:2]}"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "committed without outputs"
    for c in code:
        assert not any(o.output_type == "error" for o in c.outputs), c.source


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_executes_without_error(source):
    from nbclient.exceptions import CellExecutionError

    nb = build.build(source)  # fresh cells, no outputs
    try:
        build.execute(nb)
    except CellExecutionError as e:  # the failing cell and its traceback, readable
        pytest.fail(f"{source.stem}: a cell failed\n{e}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)


def test_readme_lists_every_notebook_and_its_pictures_exist():
    readme = (ROOT / "README.md").read_text()
    for source in SOURCES:
        assert f"notebooks/{source.stem}.ipynb" in readme, f"README does not list {source.stem}"
    pictures = (ROOT / "docs" / "pictures.rst").read_text()  # (README links no image)
    for picture in ("nb-graph.svg", "nb-playground.png"):
        assert f".. image:: {picture}" in pictures
        assert (ROOT / "docs" / picture).stat().st_size > 1000
