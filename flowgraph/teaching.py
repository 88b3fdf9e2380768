"""The ten teaching notebooks, as installed with the package.

>>> len(notebook_files())  # counted from the folder: keep the word above in step
10

A wheel carries them in ``flowgraph/notebooks/`` (package data); an editable install or a
checkout reads the repository's ``notebooks/`` folder. :func:`copy_notebooks` puts copies
where a user can open and change them (``flowgraph notebooks DIR`` from the shell).
"""

from __future__ import annotations

import os
from functools import partial
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from ._atomic import atomic_write
from .errors import FlowgraphError

__all__ = ["notebook_files", "copy_notebooks"]


def write_bytes(data: bytes, f: BinaryIO) -> None:
    """Write ``data`` to the open file ``f`` (atomic_write's writer, ``data`` bound first)."""
    f.write(data)


def notebook_files() -> list[Path]:
    """The ``.ipynb`` files shipped with flowgraph, in the lecture's order (01, 02, ...).

    Raises :class:`~flowgraph.FlowgraphError` when neither the installed package nor the
    checkout beside it holds any (a broken install).
    """
    shipped = resources.files("flowgraph") / "notebooks"
    found = []
    if shipped.is_dir():
        found = [Path(str(p)) for p in shipped.iterdir() if p.name.endswith(".ipynb")]
    if not found:  # an editable install or a checkout: the repository's notebooks/ folder
        checkout = Path(__file__).resolve().parent.parent / "notebooks"
        found = list(checkout.glob("*.ipynb"))
    if not found:
        raise FlowgraphError(
            "no notebooks found in this installation of flowgraph (neither flowgraph/notebooks/ "
            "nor a checkout's notebooks/ folder); reinstall flowgraph from a clone or a built wheel"
        )
    return sorted(found, key=lambda p: p.name)


def copy_notebooks(directory: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Copy every notebook into ``directory`` (created if missing); returns the new paths.

    Parameters
    ----------
    directory
        Where the copies go.
    overwrite
        Replace notebooks already there (your edits to them are lost). Without it, a
        notebook of the same name already in ``directory`` raises
        :class:`~flowgraph.FlowgraphError` before anything is copied.

    Returns
    -------
    list of Path
        The copies, one per notebook in the lecture's order. Opening and running them needs
        the ``notebooks`` extra (``pip install -e '.[notebooks]'`` in a clone) for JupyterLab,
        its kernel and the progress bars.

    Examples
    --------
    >>> import tempfile
    >>> [p.name for p in copy_notebooks(tempfile.mkdtemp())][:2]
    ['01_flow_graphs.ipynb', '02_backprop_by_hand.ipynb']
    """
    directory = Path(directory)
    sources = notebook_files()
    if not overwrite:
        there = [s.name for s in sources if (directory / s.name).exists()]
        if there:
            raise FlowgraphError(
                f"{directory} already holds {', '.join(there)}; pass overwrite=True "
                "(`--force` on the command line) to replace them"
            )
    copies = []
    for src in sources:
        copies.append(atomic_write(directory / src.name, partial(write_bytes, src.read_bytes())))
    return copies
