"""Pictures as files: Graphviz's ``dot`` lays the DOT text out as SVG, PNG or PDF, written
atomically; ``to_svg`` is what Jupyter shows for a Graph."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import graphviz

from .._atomic import atomic_write
from ..errors import FlowgraphError
from .dot import to_dot

__all__ = ["FORMATS", "INSTALL_HINT", "GraphvizNotFoundError", "run_dot", "render", "to_svg"]

# Output formats `render` knows by the file's suffix ("dot" needs no Graphviz binary).
FORMATS = ("svg", "png", "pdf", "dot")

INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`"
)


class GraphvizNotFoundError(FlowgraphError):
    """Graphviz's ``dot`` program is not on PATH; the message says how to install it."""


def run_dot(dot: graphviz.Digraph, fmt: str) -> bytes:
    """Lay ``dot`` out with Graphviz's ``dot`` program (through the graphviz package) as
    ``fmt``; :class:`GraphvizNotFoundError` when the program is not on PATH."""
    if fmt == "png":
        dot = dot.copy()
        dot.graph_attr["dpi"] = "144"  # crisp on high-density screens and slides
    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(f"Graphviz's `dot` is not on PATH; {INSTALL_HINT}") from None
    except graphviz.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip()
        raise FlowgraphError(f"Graphviz `dot -T{fmt}` failed (status {e.returncode}): {err}") from e


def render(graph: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Draw ``graph`` into ``path``: SVG, PNG or PDF by the file's suffix (``.dot`` writes the
    DOT text). ``options`` are those of :func:`~flowgraph.to_dot` (values, grads, shapes,
    order, check, rankdir, group, legend). Returns the path written.

    The file is written atomically (a temporary file, then a rename). Without Graphviz's
    ``dot`` on PATH, the DOT text is written beside (``graph.svg`` -> ``graph.dot``) and a
    :class:`GraphvizNotFoundError` says how to install Graphviz.

    Parameters
    ----------
    graph
        A :class:`~flowgraph.Graph`, anything holding one as ``.graph`` (a Model), or a
        :class:`~flowgraph.core.graph.Node`: the graph of everything it is computed from
        (``fg.render(loss, "loss.svg")``, as torchviz's ``make_dot(loss)``).
    path
        The picture: ``.svg``, ``.png``, ``.pdf``, or ``.dot`` for the text only.
    **options
        ``values``, ``grads`` (statistics of fprop's values and bprop's gradients),
        ``shapes``, ``order``, ``check`` (a report of :func:`flowgraph.check_graph`),
        ``rankdir``, ``group``, ``legend``: see :func:`~flowgraph.to_dot`.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    GraphvizNotFoundError
        Graphviz's ``dot`` is not installed (the ``.dot`` file is written all the same).

    Examples
    --------
    >>> import tempfile, pathlib, flowgraph as fg
    >>> model = fg.mlp([2, 4, 3], seed=0)
    >>> X, y = fg.datasets.make_blobs(8, seed=0)
    >>> loss = model.train_graph.fprop({model.x: X, model.y: y}); model.train_graph.bprop()
    >>> path = fg.render(model.train_graph, pathlib.Path(tempfile.mkdtemp()) / "mlp.svg",
    ...                  values=True, grads=True)
    >>> path.read_text().startswith("<?xml")
    True
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise FlowgraphError(
            f"cannot tell the picture format from {str(path)!r}: use a suffix among "
            + ", ".join("." + f for f in FORMATS)
        )
    dot = to_dot(graph, **options)
    source = dot.source.encode("utf-8")
    if fmt == "dot":
        return atomic_write(path, lambda f: f.write(source))
    try:
        picture = run_dot(dot, fmt)
    except GraphvizNotFoundError:
        dot_file = atomic_write(path.with_suffix(".dot"), lambda f: f.write(source))
        raise GraphvizNotFoundError(
            f"Graphviz's `dot` is not on PATH, so {str(path)!r} was not drawn; its DOT text is in "
            f"{str(dot_file)!r} (draw it later with `dot -T{fmt} {dot_file} -o {path}`). To fix, "
            + INSTALL_HINT
        ) from None
    return atomic_write(path, lambda f: f.write(picture))


def to_svg(graph: Any, **options: Any) -> str | None:
    """The SVG text of ``graph`` (options as in :func:`~flowgraph.to_dot`), or ``None`` with
    a warning saying how to install Graphviz when ``dot`` is not on PATH: Jupyter, which
    calls this through ``Graph._repr_svg_``, then shows the text repr instead of a picture."""
    try:
        return run_dot(to_dot(graph, **options), "svg").decode("utf-8")
    except GraphvizNotFoundError:
        warnings.warn(
            "cannot draw the graph: Graphviz's `dot` is not on PATH; " + INSTALL_HINT,
            RuntimeWarning,
            stacklevel=2,
        )
        return None
