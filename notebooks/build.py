"""Build the teaching notebooks from their sources, run them, and store them with outputs.

Each notebook is written as a plain Python file in ``notebooks/src/`` in jupytext's "percent"
format, so that a diff reads like code: a line ``# %%`` starts a code cell, ``# %% [markdown]``
a markdown cell whose lines are comments, ``# %% tags=["readme-graph"]`` tags a cell. jupytext
converts a source into cells; this script adds what jupytext does not do: it runs the notebook
and saves the first image output of each cell tagged ``readme-*`` to ``docs/nb-*.{svg,png}``
for the README.

    python notebooks/build.py                 # every notebook
    python notebooks/build.py 01 03           # those whose names start with 01 or 03
    python notebooks/build.py --no-execute    # cells only, no outputs

Executed with nbclient in ``notebooks/`` on the kernel ``python3``.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

import jupytext
import nbformat

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DOCS = HERE.parent / "docs"
TIMEOUT = 600


def build(src: Path) -> nbformat.NotebookNode:
    """The notebook of a percent-format source, converted by jupytext, without outputs.

    Only the cells' tags are kept of jupytext's cell metadata (its spacing hints would make
    every notebook differ from its committed copy), cell ids are stable (the diff shows only
    what changed) and the kernel is ``python3``.
    """
    nb = jupytext.reads(src.read_text(encoding="utf-8"), fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": list(tags)} if tags else {})
        cell["id"] = f"cell-{i:02d}"
    nb.metadata = nbformat.NotebookNode(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
    )
    return nb


def execute(nb: nbformat.NotebookNode, cwd: Path = HERE) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def export_figures(nb: nbformat.NotebookNode) -> list[Path]:
    """Save the first image of each cell tagged ``readme-NAME`` to docs/nb-NAME.{svg,png}."""
    written = []
    for cell in nb.cells:
        for tag in cell.metadata.get("tags", []):
            if not tag.startswith("readme-"):
                continue
            name = "nb-" + tag.removeprefix("readme-")
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "image/svg+xml" in data:
                    path, blob = DOCS / f"{name}.svg", data["image/svg+xml"].encode()
                elif "image/png" in data:
                    path, blob = DOCS / f"{name}.png", base64.b64decode(data["image/png"])
                else:
                    continue
                DOCS.mkdir(exist_ok=True)
                path.write_bytes(blob)
                written.append(path)
                break
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="prefixes of the notebooks to build")
    parser.add_argument("--no-execute", action="store_true", help="write cells without outputs")
    args = parser.parse_args(argv)
    sources = sorted(SRC.glob("*.py"))
    if args.names:
        sources = [s for s in sources if any(s.stem.startswith(n) for n in args.names)]
    if not sources:
        print(f"no notebook source matches {args.names}", file=sys.stderr)
        return 2
    for src in sources:
        nb = build(src)
        start = time.perf_counter()
        if not args.no_execute:
            execute(nb)
        seconds = time.perf_counter() - start
        target = HERE / f"{src.stem}.ipynb"
        nbformat.write(nb, target)
        figures = ", ".join(str(p.relative_to(HERE.parent)) for p in export_figures(nb))
        print(f"{target.name}: {seconds:.1f} s" + (f"; {figures}" if figures else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
