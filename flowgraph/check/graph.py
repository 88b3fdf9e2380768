"""``check_graph``: a whole graph's gradient end to end, and each of its boxes on its own.

The graph's output is reduced to a scalar L = sum(R ⊙ output) by a random projection R, as a
box's is; every parameter's gradient from ``Graph.bprop`` is held to the central differences
of L (:mod:`flowgraph.check.differences`), the graph run in float64 on copies of the
parameters. Each box is then checked with the values the graph recorded at it, on the path
the Graph took (its ``needs`` for ``bprop_needed``), so a failure is traced to its box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import Graph, Node
from ..errors import FeedError
from .box import check_box
from .differences import (
    ATOL,
    EPS,
    MAX_ELEMENTS,
    N_DIRECTIONS,
    N_SAMPLES,
    RTOL,
    Settings,
    as_float64,
    compare,
    projection,
)
from .report import BoxReport, GraphReport, InputCheck

__all__ = ["check_graph"]


def check_graph(
    graph,
    feed: Mapping[Any, Any],
    *,
    wrt: Sequence[Any] = (),
    output=None,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    seed: int | np.random.Generator = 0,
    max_elements: int = MAX_ELEMENTS,
    n_samples: int = N_SAMPLES,
    n_directions: int = N_DIRECTIONS,
    boxes: bool = True,
    jvp: bool = True,
) -> GraphReport:
    """Check the graph's gradient of ``output`` (default its first) for every parameter.

    Runs in float64 on copies of the parameters; the parameters' own arrays are put back
    (dtype and all) and a last fprop/bprop in their dtype leaves the nodes' values and
    gradients as the user had them. With ``boxes=True`` (default) every box is also checked
    on its own with the values recorded at fprop (:func:`check_box` with the Graph's
    ``needs``, forward-mode rules included), so a failure is traced to its box; with
    ``boxes=False`` that happens only when an end-to-end check fails.

    Parameters
    ----------
    graph
        A :class:`~flowgraph.Graph`.
    feed
        Maps the graph's Input nodes (or their names) to arrays, as for ``graph.fprop``.
    wrt
        Further nodes (an Input, for gradients with respect to the data) to check besides
        the parameters.
    output
        The scalar node whose gradient is checked; default the graph's first output.
    eps, rtol, atol, seed, max_elements, n_samples, n_directions
        As for :func:`check_box`.
    boxes
        Also check every box on its own (see above).
    jvp
        In each box's own check, its forward-mode rules too (see :func:`check_box`): a wrong
        rule fails the report and names its box, although the gradient does not use it.

    Returns
    -------
    GraphReport
        ``parameters`` (one :class:`InputCheck` each), ``boxes`` (the box-by-box reports),
        ``ok`` and ``first_failing_box`` (the first box in fprop order whose own check
        fails: its bprop, a path of bprop_needed or a forward-mode rule).

    Examples
    --------
    >>> import numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 8, 3], dtype=np.float64, seed=0)
    >>> X, y = fg.datasets.make_blobs(8, seed=0)
    >>> report = fg.check_graph(model.train_graph, {model.x: X, model.y: y})
    >>> report.ok, [c.name for c in report.parameters]
    (True, ['W1', 'b1', 'W2', 'b2'])
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out_node: Node = graph.resolve(output) if output is not None else graph.outputs[0]
    wrt_nodes = [graph.resolve(w) for w in wrt]
    originals = {p: p.value for p in graph.parameters}
    if not isinstance(feed, Mapping):
        raise FeedError(
            f"feed must map Input nodes (or their names) to arrays, got {type(feed).__name__}"
        )
    settings = Settings(eps, rtol, atol, max_elements, n_samples, n_directions)
    try:
        for p in graph.parameters:
            p.value = as_float64(p.value)
        run = _Run(graph, feed, out_node, wrt_nodes, rng)
        params = [_check_target(run, t, rng, settings) for t in run.targets]
        report = GraphReport(output=out_node.name, parameters=params)
        if boxes or not all(c.ok for c in params):
            report.boxes = _check_each_box(run, rng, settings, jvp)
        return report
    finally:
        _put_back(graph, originals, feed, out_node, wrt_nodes)


def _reached(output: Node) -> set[int]:
    """The ids of the nodes ``output`` depends on (itself included)."""
    reached: set[int] = set()
    stack = [output]
    while stack:
        n = stack.pop()
        if id(n) not in reached:
            reached.add(id(n))
            stack.extend(n.children)
    return reached


class _Run:
    """The graph run once in float64 (parameters already float64): fprop, a projection R of
    the output, bprop from it. Holds what the checks need: the ``targets`` (the parameters,
    then the Inputs of wrt), their ``analytic`` gradients, the children's values ``recorded``
    at each box, the ``needs`` the Graph's plan gave each box, the nodes ``reached`` from the
    output and ``loss()``, L = sum(R ⊙ output) at the current values."""

    def __init__(
        self,
        graph: Graph,
        feed: Mapping[Any, Any],
        out: Node,
        wrt: Sequence[Node],
        rng: np.random.Generator,
    ):
        self.graph, self.out = graph, out
        self.feed64 = {k: as_float64(np.asarray(v)) for k, v in feed.items()}
        extra = [w for w in wrt if w not in graph.parameters]
        self.targets = list(graph.parameters) + extra
        graph.fprop(self.feed64)
        self.R = projection(np.shape(out.value), rng)
        self.magnitude = float(np.vdot(np.abs(self.R), np.abs(np.asarray(out.value, np.float64))))
        graph.bprop(wrt=wrt, output=out, grad_output=self.R.copy())
        self.analytic = {t: np.array(t.grad, dtype=np.float64) for t in self.targets}
        self.recorded = {n: [c.value for c in n.children] for n in graph.order if n.box is not None}
        # the path the Graph took at each box: bprop_needed with these needs (same targets
        # as bprop's: the parameters, then the inputs of wrt)
        plan = graph.plan(out, tuple(graph.parameters) + tuple(extra))
        self.needs = {id(n): needs for n, needs in plan}
        # wrt inputs are perturbed in place, inside feed64's arrays
        self.inputs = {w: self.feed64[w if w in self.feed64 else w.name] for w in wrt}
        self.reached = _reached(out)

    def loss(self) -> float:
        self.graph.fprop(self.feed64, check_finite=False)  # a step out of the domain is no error
        return float(np.vdot(self.R, np.asarray(self.out.value, dtype=np.float64)))


def _check_target(run: _Run, t: Node, rng: np.random.Generator, settings: Settings) -> InputCheck:
    """One parameter's (or wrt Input's) gradient against the central differences of L."""
    x = t.value if t not in run.inputs else run.inputs[t]
    if run.analytic[t].shape != x.shape:  # broadcasting would hide it from compare
        note = f"gradient has shape {run.analytic[t].shape}, expected {x.shape}"
        return InputCheck(name=t.name, shape=tuple(x.shape), broken=True, note=note)
    c = compare(t.name, x, run.analytic[t], run.loss, rng, settings, run.magnitude)
    if id(t) not in run.reached:
        c.no_gradient = True
        c.note = f"no gradient: '{run.out.name}' does not depend on it"
    return c


def _check_each_box(
    run: _Run, rng: np.random.Generator, settings: Settings, jvp: bool
) -> dict[str, BoxReport]:
    """check_box for every box, in fprop order, at the values recorded there, with the
    Graph's needs (its paths checked only where bprop visits it, as it visits it)."""
    return {
        n.name: check_box(
            n.box,
            run.recorded[n],
            eps=settings.eps,
            rtol=settings.rtol,
            atol=settings.atol,
            seed=rng,
            max_elements=settings.max_elements,
            n_samples=settings.n_samples,
            n_directions=settings.n_directions,
            node=n.name,
            needs=run.needs.get(id(n)),
            paths=id(n) in run.needs,
            jvp=jvp,
        )
        for n in run.graph.order
        if n.box is not None
    }


def _put_back(
    graph: Graph,
    originals: Mapping[Node, Any],
    feed: Mapping[Any, Any],
    out: Node,
    wrt: Sequence[Node],
) -> None:
    """The parameters' own arrays back, and a last fprop/bprop in their dtype, so that the
    nodes' values and gradients are as the user had them."""
    for p, v in originals.items():
        p.value = v
    try:
        graph.fprop(feed)
        if np.size(out.value) == 1:
            graph.bprop(wrt=wrt, output=out)
    except Exception:  # the user's state is back; a failure here is not the checker's
        pass
