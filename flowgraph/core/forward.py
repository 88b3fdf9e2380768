"""Forward mode: the directional derivative of a graph's outputs, and a checker for its rules.

A graph computes its outputs f(x; theta) from its leaves. Along a direction v of the leaves
(a tangent v_x for each Input, v_theta for each Parameter) the directional derivative

    R{f} = d/dr f(x + r v_x; theta + r v_theta) |_{r=0} = J v,      J = d f / d (x, theta)

is carried forward, box by box, in the same order as fprop: each box turns its children's
tangents R{u_i} into its output's, R{out} = sum_i (d out / d u_i) R{u_i} (its ``fprop_jvp``).
That is forward mode (Pearlmutter's R-operator, Wengert's tangents). bprop is reverse mode:
seeded with grad_f it carries grad_f^T J back to every leaf at once.

    forward mode  (jvp):   one pass ~ one fprop  ->  J v    for ONE direction v, ALL outputs
    reverse mode (bprop):  one pass ~ one fprop  ->  u^T J  for ONE output weighting u, ALL leaves

With P parameters and a scalar loss l, bprop gives the whole gradient grad_theta l in one pass
(P forward passes would be needed); forward mode wins when there are few input directions and
many outputs (the derivative of a whole batch of predictions f(x_t) along one direction of
theta, or of x), and as the inner pass of second-order methods: the directional derivative of
the gradient itself, R{grad_theta l} = H v, is a forward pass through fprop and bprop
(each box's ``bprop_jvp``; :func:`flowgraph.analysis.hvp`).

:func:`jvp` is the public entry; :func:`check_jvp` verifies a box's two rules against central
differences of its fprop and bprop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import FlowgraphError
from .box import Box
from .graph import Graph
from .node import Input, Node, Parameter

__all__ = ["jvp", "JVPResult", "JVPError", "check_jvp", "JVPReport", "JVPCheck"]


class JVPError(FlowgraphError, ValueError):
    """Forward mode cannot run: a box without forward-mode rules, a tangent of the wrong shape,
    or a tangent for a node that is not an Input or a Parameter of the graph."""


class JVPResult(NamedTuple):
    """The outputs' values and their tangents R{f} = J v (lists when the graph has several
    outputs, as ``Graph.fprop`` returns them): ``values, tangents = fg.jvp(...)``."""

    values: Any
    tangents: Any


# -- the forward pass of tangents ---------------------------------------------------------------
def _zeros_like(value: Any) -> np.ndarray:
    """A zero tangent for a value: its shape, its float dtype (float64 for labels)."""
    dt = getattr(value, "dtype", None)
    floating = dt is not None and np.issubdtype(dt, np.floating)
    return np.zeros(np.shape(value), dtype=dt if floating else np.float64)


def depends_on(graph: Graph, sources: Sequence[Node]) -> set[int]:
    """The ids of the nodes whose value depends on one of ``sources`` (the sources included)."""
    dep = {id(s) for s in sources}
    for node in graph.order:
        if any(id(c) in dep for c in node.children):
            dep.add(id(node))
    return dep


def boxes_without_jvp(
    graph: Graph, sources: Sequence[Node], outputs: Sequence[Node] | None = None
) -> list[Node]:
    """The box nodes that forward mode from ``sources`` to ``outputs`` (default: the graph's
    outputs) would need but whose box has no forward-mode rules (``not box.has_jvp()``)."""
    dep = depends_on(graph, sources)
    needed = {id(o) for o in (graph.outputs if outputs is None else outputs)}
    for node in reversed(graph.order):  # parents first: an ancestor of an output?
        if id(node) in needed:
            needed.update(id(c) for c in node.children)
    return [
        n
        for n in graph.order
        if n.box is not None and id(n) in dep and id(n) in needed and not n.box.has_jvp()
    ]


def _no_rules_message(nodes: Sequence[Node]) -> str:
    kinds = sorted({type(n.box).__name__ for n in nodes})
    where = ", ".join(n.describe() for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
    return (
        f"box {' / '.join(kinds)} defines no forward-mode rules (fprop_jvp and bprop_jvp), "
        f"needed at node(s) {where}: write them next to its bprop"
    )


def _check_rule_result(node: Node, what: str, value: Any, expected: tuple) -> np.ndarray:
    value = np.asarray(value)
    if value.shape != expected:
        raise JVPError(
            f"{what} of node {node.describe()} returned shape {value.shape}, but the node's "
            f"value has shape {expected}"
        )
    return value


def forward_tangents(graph: Graph, seeds: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """R{u} for every node that depends on a seeded leaf, after ``graph.fprop``.

    ``seeds`` maps ``id(leaf)`` to its tangent. Nodes that depend on no seed are left out
    (their tangent is zero); a child without a tangent is handed to ``fprop_jvp`` as zeros.
    """
    R: dict[int, np.ndarray] = dict(seeds)
    for node in graph.order:
        if node.box is None:
            continue
        Rin = [R.get(id(c)) for c in node.children]
        if all(r is None for r in Rin):
            continue
        if not node.box.has_jvp():
            raise JVPError(_no_rules_message([node]))
        Rin = [_zeros_like(c.value) if r is None else r for c, r in zip(node.children, Rin)]
        try:
            out = node.box.fprop_jvp([c.value for c in node.children], Rin, node.value)
        except FlowgraphError:
            raise
        except Exception as e:
            shapes = ", ".join(
                f"{node.box.input_name(i)}={np.shape(c.value)}"
                for i, c in enumerate(node.children)
            )
            msg = f"fprop_jvp of node {node.describe()} on inputs {shapes} failed: {e}"
            raise JVPError(msg) from e
        R[id(node)] = _check_rule_result(node, "fprop_jvp", out, np.shape(node.value))
    return R


def _resolve_leaf(graph: Graph, key: Any) -> Node:
    leaves = [n.name for n in graph.order if isinstance(n, (Input, Parameter))]
    if isinstance(key, str):
        node = graph.nodes.get(key)
        if node is None:
            raise JVPError(
                f"tangents name {key!r}, which is no node of this graph "
                f"(its Inputs and Parameters: {leaves})"
            )
    elif isinstance(key, Node):
        if key not in graph:
            raise JVPError(
                f"tangents hold node {key.describe()}, which is not in this graph "
                f"(its Inputs and Parameters: {leaves})"
            )
        node = key
    else:
        raise JVPError(
            f"tangents must map Inputs or Parameters (nodes or names) to arrays; got a key of "
            f"type {type(key).__name__}"
        )
    if not isinstance(node, (Input, Parameter)):
        raise JVPError(
            f"a tangent is given for {node.describe()}, a box's output: tangents are given for "
            f"the leaves only (Inputs and Parameters: {leaves}); its own tangent follows from them"
        )
    return node


def jvp(
    graph: Graph | Any,
    feed: Mapping[Any, Any],
    tangents: Mapping[Any, Any],
) -> JVPResult:
    """Forward-mode derivative of the graph's outputs along a direction of its leaves.

    ``graph``: a Graph (or anything with a ``.graph``, such as a Model). ``feed``: what
    ``Graph.fprop`` takes. ``tangents``: a dict from Input or Parameter nodes (or their names)
    to arrays of their values' shapes — the direction v = (v_x, v_theta); every other leaf does
    not move (tangent 0). Returns ``(values, tangents)``: the outputs f and their directional
    derivatives

        R{f} = d/dr f(x + r v_x; theta + r v_theta) |_{r=0} = J v

    (each an array of the output's shape; lists for several outputs). One call costs about one
    fprop more than fprop alone.

    Forward vs reverse mode. The graph's Jacobian J = d f / d (x, theta) is never built. Forward
    mode (this function) pushes one direction v from the leaves to the outputs, box by box in
    fprop's order (each box's ``fprop_jvp``: R{out} = sum_i (d out / d u_i) R{u_i}), and gives J v
    for every output at once. Reverse mode (``Graph.bprop``) pulls one output weighting
    grad_f from the outputs to the leaves, in the reverse order, and gives grad_f^T J for every
    leaf at once: for a scalar loss, the whole gradient grad_theta l in one pass, where forward
    mode would need P passes (one per parameter direction). Forward mode wins with few input
    directions and many outputs (how every prediction f(x_t) of a batch moves along one
    direction of theta or of x), and inside second-order methods: R{grad_theta l} = H v is the
    forward mode of fprop followed by bprop (``flowgraph.analysis.hvp``).

    Raises :class:`JVPError` for a box on the way without forward-mode rules (naming it), a
    tangent of the wrong shape, for an integer Input (labels), or for a node that is not a leaf
    of this graph.
    """
    g = graph if isinstance(graph, Graph) else getattr(graph, "graph", None)
    if not isinstance(g, Graph):
        raise JVPError(f"jvp needs a Graph (or a Model), got {type(graph).__name__}")
    if not isinstance(tangents, Mapping):
        raise JVPError(
            f"tangents must be a dict from Inputs/Parameters (or names) to arrays, "
            f"got {type(tangents).__name__}"
        )
    leaves: dict[int, tuple[Node, Any]] = {}
    for key, t in tangents.items():
        node = _resolve_leaf(g, key)
        if id(node) in leaves:
            raise JVPError(f"two tangents are given for {node.describe()} (by node and by name)")
        leaves[id(node)] = (node, t)
    missing = boxes_without_jvp(g, [n for n, _ in leaves.values()])
    if missing:
        raise JVPError(_no_rules_message(missing) + " (or differentiate by finite differences)")
    values = g.fprop(feed)
    seeds: dict[int, np.ndarray] = {}
    for node, t in leaves.values():
        value = node.value
        if not np.issubdtype(np.asarray(value).dtype, np.floating):
            raise JVPError(
                f"{node.describe()} holds {np.asarray(value).dtype} values (labels?): it has no "
                "tangent; give tangents for floating-point Inputs and Parameters only"
            )
        t = np.asarray(t)
        if not np.issubdtype(t.dtype, np.floating):
            t = t.astype(value.dtype)
        if t.shape != np.shape(value):
            raise JVPError(
                f"the tangent of {node.describe()} has shape {t.shape}, but its value has shape "
                f"{np.shape(value)}: a tangent has the shape of what it moves"
            )
        seeds[id(node)] = t
    R = forward_tangents(g, seeds)
    outs = [R[id(o)] if id(o) in R else _zeros_like(o.value) for o in g.outputs]
    if g.single_output:
        return JVPResult(values, outs[0])
    return JVPResult(values, outs)


# -- checking a box's rules ------------------------------------------------------------------------
MAX_REJUDGED = 1024  # elements of one rule re-examined with refined steps, worst first


@dataclass
class JVPCheck:
    """One comparison of a rule with central differences: ``what`` is ``"fprop_jvp"`` (R{out})
    or ``"bprop_jvp: grad_h"`` (R{grad_h}); errors are over every element (kinks excluded),
    ``worst`` is the index of the worst one with its ``analytic`` and ``numeric`` values.
    ``skipped``: not compared (bprop_jvp while bprop itself is wrong), says ``note``."""

    what: str
    shape: tuple[int, ...]
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    n_checked: int = 0
    n_failed: int = 0
    n_kinks: int = 0
    worst: tuple[int, ...] | None = None
    analytic: float = float("nan")
    numeric: float = float("nan")
    note: str = ""
    broken: bool = False
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.broken and self.n_failed == 0

    @property
    def status(self) -> str:
        if not self.ok:
            return "FAIL"
        if self.skipped:
            return "SKIP"
        return "KINK" if self.n_kinks else "PASS"

    def line(self, width: int = 22) -> str:
        """One row of the table (the columns of :meth:`flowgraph.gradcheck.InputCheck.line`)."""
        from ..gradcheck import _row

        return _row(self, self.what, width, counted=not self.skipped)


def rules_header(width: int = 22) -> str:
    """The header of the rows of :meth:`JVPCheck.line`."""
    from ..gradcheck import _header

    return _header("rule", width)


@dataclass
class JVPReport:
    """What :func:`check_jvp` found for a box: one row for fprop_jvp, one per differentiable
    input for bprop_jvp. ``print(report)`` shows the table, ``report.ok`` the verdict."""

    box: str
    checks: list[JVPCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> str:
        """'fail', 'kink' (passes except at non-differentiable points) or 'pass'."""
        if not self.ok:
            return "fail"
        return "kink" if any(c.n_kinks for c in self.checks) else "pass"

    @property
    def failing(self) -> list[str]:
        return [c.what for c in self.checks if not c.ok]

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.checks), default=0.0)

    def verdict(self) -> str:
        """``PASS``, ``KINK`` or ``FAIL (wrong: ...)``."""
        return self.status.upper() + (f" (wrong: {', '.join(self.failing)})" if not self.ok else "")

    def __str__(self) -> str:
        return "\n".join(
            [f"{self.box} forward-mode rules: {self.verdict()}", "  " + rules_header()]
            + ["  " + c.line() for c in self.checks]
        )

    def __bool__(self) -> bool:
        return self.ok


def _compare_arrays(
    what: str,
    analytic: Any,
    F: Callable[[float], np.ndarray],
    F0: Any,
    *,
    eps: float,
    rtol: float,
    atol: float,
) -> JVPCheck:
    """Hold ``analytic`` to the derivative at r = 0 of ``F`` (r -> an array; ``F0`` = F(0)).

    The central difference (F(eps) - F(-eps)) / (2 eps) judges every element at once; an
    element it fails (or cannot compute: a step out of the domain) is judged again by the
    gradient checker's own differentiation (Richardson's estimate, refined steps, kinks told
    apart: :func:`flowgraph.gradcheck._differentiate`), the worst ``MAX_REJUDGED`` first, on
    the same evaluations of F. So a kink (ReLU at 0) is reported apart and a steep point is
    judged with a smaller step, while a wrong rule still fails.
    """
    from ..gradcheck import _differentiate

    with np.errstate(all="ignore"):
        numeric = (F(eps) - F(-eps)) / (2 * eps)
    check = JVPCheck(what=what, shape=tuple(np.shape(numeric)))
    try:
        a = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError) as e:
        check.broken, check.note = True, f"not an array: {e}"
        return check
    if a.shape != numeric.shape:
        check.broken = True
        check.note = f"returned shape {a.shape}, expected {numeric.shape}"
        return check
    if not np.all(np.isfinite(a)):
        check.broken, check.note = True, "not finite"
        return check
    a_flat, n_flat = a.reshape(-1), numeric.reshape(-1).copy()
    allowance = np.zeros(a.size)
    kink = np.zeros(a.size, dtype=bool)

    def errors() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore"):
            abs_err = np.abs(a_flat - n_flat)
            scale = np.maximum(np.abs(a_flat), np.abs(n_flat))
        return abs_err, scale, atol + rtol * scale + allowance

    abs_err, scale, tol = errors()
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(abs_err <= tol))  # NaN (a step out of the domain) too
    if bad.size:
        with np.errstate(invalid="ignore"):
            score = np.where(np.isfinite(abs_err[bad]), abs_err[bad] / tol[bad], np.inf)
        bad = bad[np.argsort(-score, kind="stable")]
        f0 = np.asarray(F0, dtype=np.float64).reshape(-1)
        unresolved = ""
        for k in bad[:MAX_REJUDGED]:
            if not np.isfinite(f0[k]):
                n_flat[k] = np.nan
                unresolved = f"not finite at the point ({f0[k]})"
                continue
            v = _differentiate(lambda r, k=k: float(F(r).reshape(-1)[k]), f0[k], 0.0, eps, atol)
            if v.kind == "kink":
                kink[k] = True
            elif v.kind == "smooth":
                n_flat[k], allowance[k] = v.numeric, v.allowance
            else:
                n_flat[k], unresolved = np.nan, v.why
        if bad.size > MAX_REJUDGED:
            check.note = f"{bad.size - MAX_REJUDGED} elements failing at eps not re-examined"
        check.note = "; ".join(x for x in (unresolved, check.note) if x)
        abs_err, scale, tol = errors()
    judged = ~kink
    with np.errstate(invalid="ignore"):
        failed = judged & ~(abs_err <= tol)
    check.n_checked = int(a.size)
    check.n_failed = int(failed.sum())
    check.n_kinks = int(kink.sum())
    finite = judged & np.isfinite(abs_err)
    if finite.any():
        check.max_abs_err = float(abs_err[finite].max())
        rel = np.divide(abs_err, scale, out=np.zeros_like(abs_err), where=finite & (scale > 0))
        check.max_rel_err = float(rel.max())
    if judged.any():
        with np.errstate(invalid="ignore"):
            score = np.where(finite, abs_err / tol, np.inf)
        score[kink] = -1.0
        k = int(np.argmax(score))
        check.worst = tuple(int(i) for i in np.unravel_index(k, a.shape))
        check.analytic, check.numeric = float(a_flat[k]), float(n_flat[k])
    return check


def _float64(v: Any) -> Any:
    v = v if isinstance(v, np.ndarray) else np.asarray(v)
    if np.issubdtype(v.dtype, np.floating):
        return np.array(v, dtype=np.float64, copy=True)
    return v


def _cached(f: Callable[[float], Any]) -> Callable[[float], Any]:
    """f, evaluated once per step r (every element's refinement uses the same steps)."""
    seen: dict[float, Any] = {}

    def at(r: float) -> Any:
        if r not in seen:
            seen[r] = f(r)
        return seen[r]

    return at


def check_jvp(
    box: Box,
    inputs: Sequence[Any] | None = None,
    *,
    rng: int | np.random.Generator = 0,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    bprop_jvp: bool = True,
) -> JVPReport:
    """Compare a box's forward-mode rules with central differences, in float64.

    With inputs u (default ``box.sample_inputs(rng)``), a random tangent t (Gaussian for every
    floating input, 0 for labels), a random grad_out g and a random R{g}:

    * ``fprop_jvp(u, t, out)`` against (fprop(u + eps t) - fprop(u - eps t)) / (2 eps);
    * ``bprop_jvp(u, t, out, R{out}, g, R{g})`` (R{out} from fprop_jvp when that passed, else
      the central difference, so that each rule is judged on its own) against the same
      central difference of
      r -> bprop(u + r t, fprop(u + r t), g + r R{g}), input by input (an input whose bprop
      gives None, such as labels, must get None or zeros; an integer input that bprop gives a
      gradient, such as a constant, does not move but its gradient does).

    Elements fail where |analytic - numeric| > atol + rtol * max(|analytic|, |numeric|). An
    element that fails at eps is judged again as :func:`flowgraph.check_box` judges one: with
    Richardson's estimate and smaller steps where the function curves steeply or a step
    leaves its domain, and reported apart as a kink where it is not differentiable along t
    (ReLU at 0; bprop jumps there), never passed or failed. ``bprop_jvp=False`` checks
    fprop_jvp only (``check_box`` does so when bprop itself is wrong: bprop_jvp is the
    derivative of bprop, and has nothing right to be held to). ``rng`` is a seed or a
    Generator. Raises :class:`JVPError` when the box has no forward-mode rules.
    """
    kind = type(box).__name__
    if not box.has_jvp():
        raise JVPError(f"{kind} defines no forward-mode rules (fprop_jvp and bprop_jvp) to check")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if inputs is None:
        inputs = box.sample_inputs(rng)
    xs = [_float64(v) for v in inputs]
    box.check_arity(len(xs))
    floating = [np.issubdtype(x.dtype, np.floating) for x in xs]
    ts = [rng.standard_normal(x.shape) if f else np.zeros(x.shape) for x, f in zip(xs, floating)]
    out = np.asarray(box.fprop(*xs), dtype=np.float64)
    g = rng.standard_normal(out.shape)
    Rg = rng.standard_normal(out.shape)

    def moved(r: float) -> list[Any]:
        return [x + r * t if f else x for x, t, f in zip(xs, ts, floating)]

    @_cached
    def fprop_at(r: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(box.fprop(*moved(r)), dtype=np.float64)

    @_cached
    def bprop_at(r: float) -> list[Any]:
        u = moved(r)
        with np.errstate(all="ignore"):
            return list(box.bprop(u, np.asarray(box.fprop(*u)), g + r * Rg))

    report = JVPReport(kind)
    snapshot = [x.copy() for x in xs] + [t.copy() for t in ts]
    options = dict(eps=eps, rtol=rtol, atol=atol)
    try:
        Rout = box.fprop_jvp(xs, ts, out)
    except Exception as e:  # a broken rule is a finding of the report, not a crash
        Rout = None
        report.checks.append(
            JVPCheck("fprop_jvp", out.shape, broken=True, note=f"raised {type(e).__name__}: {e}")
        )
    else:
        report.checks.append(_compare_arrays("fprop_jvp", Rout, fprop_at, out, **options))
    if not report.checks[0].ok:  # reported above: bprop_jvp is judged on the right R{out}
        with np.errstate(all="ignore"):
            Rout = (fprop_at(eps) - fprop_at(-eps)) / (2 * eps)
    Rout = np.asarray(Rout, dtype=np.float64)
    if not bprop_jvp:
        note = "not checked: bprop is wrong, and bprop_jvp is its derivative"
        report.checks.append(JVPCheck("bprop_jvp", (), skipped=True, note=note))
        return report
    grads0 = box.bprop(xs, out, g)
    try:
        Rgrads = box.bprop_jvp(xs, ts, out, Rout, g.copy(), Rg.copy())
    except Exception as e:
        report.checks.append(
            JVPCheck("bprop_jvp", (), broken=True, note=f"raised {type(e).__name__}: {e}")
        )
        return report
    Rgrads = tuple(Rgrads) if isinstance(Rgrads, (tuple, list)) else (Rgrads,)
    if len(Rgrads) != len(xs):
        report.checks.append(
            JVPCheck(
                "bprop_jvp",
                (),
                broken=True,
                note=f"returned {len(Rgrads)} tangents for {len(xs)} inputs",
            )
        )
        return report
    for i, x in enumerate(xs):
        name = f"bprop_jvp: grad_{box.input_name(i)}"
        if grads0[i] is None:  # labels; an integer constant (Div's 2) may have a gradient
            if Rgrads[i] is not None and np.any(np.asarray(Rgrads[i]) != 0):
                report.checks.append(
                    JVPCheck(name, x.shape, broken=True, note="bprop gives None here, so must this")
                )
            continue
        if Rgrads[i] is None:
            report.checks.append(JVPCheck(name, x.shape, broken=True, note="returned None"))
            continue

        def grad_at(r: float, i: int = i) -> np.ndarray:
            return np.asarray(bprop_at(r)[i], dtype=np.float64)

        report.checks.append(_compare_arrays(name, Rgrads[i], grad_at, grads0[i], **options))
    if any(not np.array_equal(a, b) for a, b in zip(xs + ts, snapshot)):
        report.checks.append(
            JVPCheck("(arguments)", (), broken=True, note="a rule wrote into its arguments")
        )
    return report
