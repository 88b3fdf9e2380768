"""Pictures of flow graphs with Graphviz: what each node computes, and where a gradient goes.

``to_dot(graph)`` describes the graph in Graphviz's DOT language (a ``graphviz.Digraph``; no
binary needed); ``render(graph, "graph.svg")`` lays it out with Graphviz's ``dot``. Both take a
Graph, a Model, or a Node (the graph below it, as torchviz's ``make_dot(loss)``). Arrows go
the way fprop does, from the children h(k-1), W(k), b(k) of a box to the box computing

    a(k) = b(k) + W(k) h(k-1),    h(k) = g(a(k)),    f(x) = softmax(a(L+1)),

and bprop walks them backwards: the gradient of the loss at a child is the sum, over the
arrows leaving it, of what each parent's bprop sends back. Everything the picture can show is
switchable: the values of fprop and the gradients of bprop (shape, mean, std, min, max, or
the numbers themselves for tiny arrays), array shapes on the arrows, each box's position in
the fprop and bprop sweeps, the verdicts of ``check_graph`` / ``check_box``, and the layers
of a network drawn as clusters. Node ids come from node names, so one graph always gives the
same text.

The package, by concern: :mod:`~flowgraph.render.dot` (``to_dot``, in named steps),
:mod:`~flowgraph.render.labels` (each node's label, colours and outline; the legend),
:mod:`~flowgraph.render.values` (values and gradients in a label),
:mod:`~flowgraph.render.layers` (layers and Block uses, drawn as clusters),
:mod:`~flowgraph.render.style` (palette and text), :mod:`~flowgraph.render.files` (SVG, PNG,
PDF files; the SVG Jupyter shows).
"""

from .dot import to_dot
from .files import FORMATS, GraphvizNotFoundError, render, to_svg
from .style import STYLE

__all__ = ["to_dot", "render", "to_svg", "GraphvizNotFoundError", "FORMATS", "STYLE"]
