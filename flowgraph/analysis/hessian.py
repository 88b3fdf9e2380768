"""The Hessian grad^2_theta l and Hessian-vector products H v, exact or by finite differences.

The lecture's Newton step (:mod:`flowgraph.analysis.newton`) needs the Hessian of the loss,

    H = grad^2_theta l(f(x; theta), y),        H_ij = d^2 l / d theta_i d theta_j,

and the eigenvalues of H (:mod:`flowgraph.analysis.spectrum`) tell a minimum from a saddle.
Two independent ways to get H v (and so H, column by column, H e_i) from the engine:

* ``method="exact"``: Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact multiplication
  by the Hessian"). After ``Graph.fprop`` and ``Graph.bprop``, a forward pass carries the
  directional derivative R{u} = d/dr u(theta + r v) |_{r=0} of every node value u along v,
  and a backward pass carries R{grad_u} for every gradient; R{grad_theta} = H v, exactly (to
  rounding). Each box carries its own two rules, next to its bprop: ``fprop_jvp`` (the
  derivative of its fprop) and ``bprop_jvp`` (of its bprop); where a box has none, the
  Hessian falls back on finite differences and warns (:class:`HessianFallbackWarning`).
* ``method="fd"``: central differences of the graph's exact gradients, column by column,
  H e_i ~ (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), error O(eps^2).

The public functions take a Model (its training loss on X, y or a feed) or a Graph (its first
output on ``feed=``); the helpers below them (:func:`analysed_objective`,
:func:`choose_method`, :func:`objective_hvp`, :func:`objective_hessian`) work on one
:class:`~flowgraph.analysis.params.Objective`, and serve the spectrum, Newton's method and
the phenomena alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import Graph, Input, Node
from ..core.forward import JVPError, boxes_without_jvp, forward_tangents
from ..model import Model
from .params import AnalysisError, Objective, is_mlp, loss_graph, objective, to_float64

__all__ = [
    "hvp",
    "hessian",
    "HessianFallbackWarning",
    "missing_jvp_rules",
    "missing_rules",
    "analysed_objective",
    "choose_method",
    "objective_hvp",
    "objective_hessian",
    "hvp_exact",
    "hvp_fd",
    "backward_tangents",
]

# -- the R-operator: each box's own forward-mode rules --------------------------------------------


class HessianFallbackWarning(UserWarning):
    """The exact Hessian (the R-operator) was asked for, but a box on the way has no
    forward-mode rules: finite differences of gradients were used instead."""


def missing_rules(obj: Objective) -> list[Node]:
    """The box nodes between the parameters and the objective whose box has no
    forward-mode rules (``fprop_jvp``, ``bprop_jvp``): the R-operator cannot cross them."""
    return boxes_without_jvp(obj.graph, obj.params, [obj.output])


def missing_jvp_rules(model: Model | Graph) -> list[str]:
    """The nodes (``'name' (Box)``) on the way from the parameters to the loss (a Model's
    training loss, a Graph's first output) whose box has no forward-mode rules. Empty: the
    Hessian is exact (the R-operator); otherwise ``method="exact"`` uses finite differences."""
    if isinstance(model, Graph):
        graph, output = model, model.outputs[0]
    elif isinstance(model, Model):
        graph, output = loss_graph(model)
    else:
        raise AnalysisError(f"expected a Model or a Graph, got {type(model).__name__}")
    return [n.describe() for n in boxes_without_jvp(graph, graph.parameters, [output])]


def choose_method(obj: Objective, method: str, what: str) -> str:
    """The method that will compute H for ``obj``: ``method`` itself ('exact' or 'fd'), except
    that 'exact' becomes 'fd', with a :class:`HessianFallbackWarning` naming the box, where a
    box between the parameters and the objective has no forward-mode rules. ``what`` names
    the caller in the warning."""
    if method not in ("exact", "fd"):
        raise AnalysisError(f"unknown method {method!r}; choose 'exact' or 'fd'")
    if method == "fd":
        return "fd"
    missing = missing_rules(obj)
    if not missing:
        return "exact"
    kinds = sorted({type(n.box).__name__ for n in missing})
    warnings.warn(
        f"{what}: box {' / '.join(kinds)} (node {missing[0].describe()}) defines no "
        "forward-mode rules (fprop_jvp, bprop_jvp), so the exact R-operator cannot cross it; "
        "using central differences of gradients instead (method='fd', error O(eps^2))",
        HessianFallbackWarning,
        stacklevel=3,
    )
    return "fd"


def hvp_exact(obj: Objective, v: np.ndarray) -> np.ndarray:
    """H v by the R-operator (Pearlmutter 1994) through the engine's fprop and bprop values.

    Forward: R{u} for every node that depends on theta (each box's ``fprop_jvp``). Backward:
    R{grad_u}, summed over parents like the gradients themselves (each box's ``bprop_jvp``,
    the product rule on its bprop); R{grad_theta} = H v.
    """
    graph, params = obj.graph, obj.params
    obj.loss()
    graph.bprop(output=obj.output)
    seeds: dict[int, np.ndarray] = {}
    i = 0
    for p in params:
        seeds[id(p)] = v[i : i + p.value.size].reshape(p.value.shape)
        i += p.value.size
    try:
        R = forward_tangents(graph, seeds)
    except JVPError as e:
        raise AnalysisError(f"the exact Hessian-vector product: {e} (or use method='fd')") from e
    RG = backward_tangents(graph, obj.output, R)
    parts = [np.ravel(RG[id(p)]) if id(p) in RG else np.zeros(p.value.size) for p in params]
    return np.concatenate(parts).astype(np.float64)


def backward_tangents(graph: Graph, output: Node, R: Mapping[int, Any]) -> dict[int, Any]:
    """R{grad_u} for every node u, by id: bprop's loop, with each box's ``bprop_jvp``.

    Seeded with R{grad_output} = 0 (the output's gradient is the constant 1), in reverse
    order, each box turns (its inputs, their tangents R{u_i}, its output and tangent, its
    gradient and R{grad}) into one R{grad_u_i} per input, added into the child's as bprop
    adds gradients. ``R`` holds the forward tangents R{u} (``forward_tangents``); a node not
    in it does not depend on theta, nor do its children, so it is skipped."""
    RG: dict[int, Any] = {id(output): np.zeros(np.shape(output.value))}
    for node in reversed(graph.order):
        if node.box is None or node.grad is None or id(node) not in RG or id(node) not in R:
            continue
        Rin: list[Any] = [R.get(id(c)) for c in node.children]
        Rin = [np.zeros(np.shape(c.value)) if r is None else r for c, r in zip(node.children, Rin)]
        values = [c.value for c in node.children]
        try:
            Rgrads = node.box.bprop_jvp(
                values, Rin, node.value, R[id(node)], node.grad, RG[id(node)]
            )
        except Exception as e:
            shapes = ", ".join(
                f"{node.box.input_name(i)}={np.shape(v)}" for i, v in enumerate(values)
            )
            raise AnalysisError(
                f"bprop_jvp of node {node.describe()} on inputs {shapes} failed: {e}"
            ) from e
        for child, rg in zip(node.children, Rgrads):
            if rg is None or child.grad is None or isinstance(child, Input):
                continue
            RG[id(child)] = rg if id(child) not in RG else RG[id(child)] + rg
    return RG


def hvp_fd(obj: Objective, v: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """H v ~ (grad(theta + h v) - grad(theta - h v)) / (2 h), h = eps / ||v||; theta is put
    back afterwards."""
    theta = obj.theta()
    norm = float(np.linalg.norm(v))
    if norm == 0:
        return np.zeros_like(theta)
    h = eps / norm
    try:
        g_plus = obj.grad(theta + h * v)
        g_minus = obj.grad(theta - h * v)
    finally:
        obj.set(theta)
    return (g_plus - g_minus) / (2 * h)


def objective_hvp(obj: Objective, v: np.ndarray, method: str, eps: float = 1e-5) -> np.ndarray:
    """H v of one objective by the method :func:`choose_method` chose ('exact' or 'fd')."""
    return hvp_exact(obj, v) if method == "exact" else hvp_fd(obj, v, eps)


def analysed_objective(
    model: Model | Graph, X: Any, y: Any, feed: Mapping[Any, Any] | None
) -> tuple[Objective, Model | Graph]:
    """The objective in float64, and what it works on: a float64 copy of an MLP in lower
    precision (``to_float64``), else the model itself with its parameters cast to float64
    until the objective's ``restore``/``finish``. Second differences and eigenvalues need
    the precision."""
    if isinstance(model, Model) and is_mlp(model) and model.dtype != np.float64:
        model = to_float64(model)
    return objective(model, X, y, feed=feed, float64=True), model


def hvp(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    v: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    method: str = "exact",
    eps: float = 1e-5,
) -> np.ndarray:
    """The Hessian-vector product H v = grad^2_theta l(theta) v, without forming H.

    ``model`` is a Model (its training loss on X, y; a float32 Model is analysed through a
    float64 copy) or a Graph (its first output on ``feed``). ``v`` has one entry per parameter
    (the layout of :func:`flatten`).
    ``method="exact"``: Pearlmutter's R-operator (one extra forward and backward pass, through
    each box's ``fprop_jvp`` and ``bprop_jvp``); where a box on the way has none, it falls
    back on "fd" with a :class:`HessianFallbackWarning` naming the box (see
    :func:`missing_jvp_rules`). ``method="fd"``: (grad(theta + h v) - grad(theta - h v)) / (2 h),
    h = eps / ||v||. The parameters are left as they were.
    """
    obj, _ = analysed_objective(model, X, y, feed)
    try:
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (obj.size,):
            raise AnalysisError(
                f"v must have shape ({obj.size},) (one entry per parameter), got {v.shape}"
            )
        return objective_hvp(obj, v, choose_method(obj, method, "hvp"), eps)
    finally:
        obj.restore()


def objective_hessian(
    obj: Objective, method: str = "exact", eps: float = 1e-5, what: str = "hessian"
) -> tuple[np.ndarray, str]:
    """H of one objective, column by column, and the method used ('exact', or 'fd' where a box
    has no forward-mode rules; see :func:`choose_method`). 'exact': H e_i by the R-operator;
    'fd': (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), then (H + H^T) / 2.
    theta is put back afterwards."""
    used = choose_method(obj, method, what)
    eps = eps or 1e-5
    n = obj.size
    H = np.empty((n, n))
    theta = obj.theta()
    try:
        if used == "exact":
            e = np.zeros(n)
            for i in range(n):
                e[i] = 1.0
                H[:, i] = hvp_exact(obj, e)
                e[i] = 0.0
        else:
            for i in range(n):
                t = theta.copy()
                t[i] += eps
                g_plus = obj.grad(t)
                t[i] -= 2 * eps
                g_minus = obj.grad(t)
                H[:, i] = (g_plus - g_minus) / (2 * eps)
            H = 0.5 * (H + H.T)
    finally:
        obj.set(theta)
    return H, used


def hessian(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    method: str = "exact",
    eps: float = 1e-5,
    max_params: int = 5000,
) -> np.ndarray:
    """The full Hessian H_ij = d^2 l / d theta_i d theta_j, shape (P, P), in float64.

    ``method="exact"`` builds it column by column from the R-operator, H e_i (symmetric to
    rounding; finite differences, with a :class:`HessianFallbackWarning`, where a box has no
    forward-mode rules); ``method="fd"`` from central differences of the exact gradients
    (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), then symmetrised
    (H + H^T) / 2. P fprop/bprop pairs (2P for "fd"): for small networks only (at most
    ``max_params``). The parameters are left as they were.
    """
    obj, _ = analysed_objective(model, X, y, feed)
    try:
        if obj.size > max_params:
            raise AnalysisError(
                f"the model has {obj.size} parameters; a full Hessian needs {obj.size}^2 entries "
                f"and {obj.size} passes (raise max_params, or use hvp / top_eigenvalues instead)"
            )
        return objective_hessian(obj, method, eps)[0]
    finally:
        obj.restore()
