"""Second-order information: the Hessian grad^2_theta l, Newton's step, sharpness, saddles.

The lecture's Newton step minimises the local quadratic (Taylor) model of the loss,

    l(theta) ~ l(theta_t) + grad^T (theta - theta_t) + 0.5 (theta - theta_t)^T H (theta - theta_t)
    theta_{t+1} = theta_t - H^{-1} grad,          H = grad^2_theta l(f(x; theta_t), y),

"only practical with few parameters (so we can invert the Hessian) and locally convex (so the
Hessian is invertible)". Two independent ways to get H from the engine:

* ``method="exact"``: Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact multiplication
  by the Hessian"). After ``Graph.fprop`` and ``Graph.bprop``, a forward pass carries the
  directional derivative R{u} = d/dr u(theta + r v) |_{r=0} of every node value u along v,
  and a backward pass carries R{grad_u} for every gradient; R{grad_theta} = H v, exactly (to
  rounding). Each box carries its own two rules, next to its bprop: ``fprop_jvp`` (the
  derivative of its fprop) and ``bprop_jvp`` (of its bprop); where a box has none, the
  Hessian falls back on finite differences and warns (:class:`HessianFallbackWarning`).
* ``method="fd"``: central differences of the graph's exact gradients, column by column,
  H e_i ~ (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), error O(eps^2).

The eigenvalues of H at a critical point (grad = 0) tell a minimum (all > 0) from a saddle
point (some < 0). Dauphin et al. (NIPS 2014, "Identifying and attacking the saddle point
problem in high-dimensional non-convex optimization") show saddles, not local minima,
dominate high-dimensional loss surfaces, and that Newton's method is attracted to them. The
largest eigenvalue measures the sharpness of a minimum (Keskar et al., ICLR 2017).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import Graph, Input, Node
from ..core.forward import JVPError, boxes_without_jvp, forward_tangents
from ..models import Model
from .params import AnalysisError, Objective, is_mlp, loss_graph, objective, set_flat, to_float64

__all__ = [
    "hvp",
    "hessian",
    "newton_step",
    "NewtonStep",
    "top_eigenvalues",
    "spectrum",
    "Spectrum",
    "HessianFallbackWarning",
    "missing_jvp_rules",
    "count_eigenvalues",
    "saddle_free_newton",
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


def _choose_method(obj: Objective, method: str, what: str) -> str:
    """'exact' where every box on the way has forward-mode rules; else 'fd', with a warning."""
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


def _hvp_exact(obj: Objective, v: np.ndarray) -> np.ndarray:
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
    RG: dict[int, Any] = {id(obj.output): np.zeros(np.shape(obj.output.value))}
    for node in reversed(graph.order):
        if node.box is None or node.grad is None or id(node) not in RG:
            continue
        if id(node) not in R:  # does not depend on theta: nor do its children
            continue
        Rin = [R.get(id(c)) for c in node.children]
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
    parts = [np.ravel(RG[id(p)]) if id(p) in RG else np.zeros(p.value.size) for p in params]
    return np.concatenate(parts).astype(np.float64)


def _hvp(obj: Objective, v: np.ndarray, method: str, eps: float = 1e-5) -> np.ndarray:
    return _hvp_exact(obj, v) if method == "exact" else _hvp_fd(obj, v, eps)


def _hvp_fd(obj: Objective, v: np.ndarray, eps: float) -> np.ndarray:
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


def _prepare(
    model: Model | Graph, X: Any, y: Any, feed: Mapping[Any, Any] | None
) -> tuple[Objective, Model | Graph]:
    """The objective in float64: on a float64 copy of an MLP in lower precision, else on the
    model itself with its parameters cast to float64 until ``restore``/``finish``."""
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
    obj, _ = _prepare(model, X, y, feed)
    try:
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (obj.size,):
            raise AnalysisError(
                f"v must have shape ({obj.size},) (one entry per parameter), got {v.shape}"
            )
        return _hvp(obj, v, _choose_method(obj, method, "hvp"), eps)
    finally:
        obj.restore()


def _hessian_and_method(
    obj: Objective, method: str = "exact", eps: float = 1e-5, what: str = "hessian"
) -> tuple[np.ndarray, str]:
    """H, column by column, and the method used ('exact', or 'fd' where a box has no rules)."""
    used = _choose_method(obj, method, what)
    eps = eps or 1e-5
    n = obj.size
    H = np.empty((n, n))
    theta = obj.theta()
    try:
        if used == "exact":
            e = np.zeros(n)
            for i in range(n):
                e[i] = 1.0
                H[:, i] = _hvp_exact(obj, e)
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


def _hessian(obj: Objective, method: str, eps: float) -> np.ndarray:
    return _hessian_and_method(obj, method, eps)[0]


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
    obj, _ = _prepare(model, X, y, feed)
    try:
        if obj.size > max_params:
            raise AnalysisError(
                f"the model has {obj.size} parameters; a full Hessian needs {obj.size}^2 entries "
                f"and {obj.size} passes (raise max_params, or use hvp / top_eigenvalues instead)"
            )
        return _hessian(obj, method, eps)
    finally:
        obj.restore()


ZERO_TOL = 1e-10
"""Default relative tolerance of the eigenvalue counts: |lambda| <= ZERO_TOL * max |lambda|
counts as zero. The exact Hessian's rounding is about 1e-16 * P relative, so truly flat
directions (softmax's shift invariance, a dead unit) come out as ~1e-16 and count as zero."""
FD_ZERO_TOL = 1e-6
"""The same when finite differences built H (error O(eps^2) ~ 1e-10 relative, and more)."""


def count_eigenvalues(
    eigenvalues: Any, tol: float | None = None, damping: float = 0.0
) -> tuple[int, int, int]:
    """(negative, zero, positive) counts of the eigenvalues of H + damping I.

    mu_i = lambda_i + damping counts as zero when |mu_i| <= tol * max_j |mu_j| (relative to
    the largest magnitude, so the counts do not change with the scale of the loss), negative
    below -tol * max |mu|, positive above. ``tol`` defaults to :data:`ZERO_TOL`. Newton's step
    and the spectrum count with this one function, so they agree on the same matrix.
    """
    mu = np.asarray(eigenvalues, dtype=np.float64) + damping
    if mu.size == 0:
        return 0, 0, 0
    thr = (ZERO_TOL if tol is None else tol) * float(np.abs(mu).max())
    neg, pos = int(np.sum(mu < -thr)), int(np.sum(mu > thr))
    return neg, mu.size - neg - pos, pos


def _default_tol(tol: float | None, method: str) -> float:
    if tol is not None:
        return float(tol)
    return ZERO_TOL if method == "exact" else FD_ZERO_TOL


@dataclass
class NewtonStep:
    """What one Newton step found: the loss before, the loss at theta + step (whether or not the
    step was taken), the gradient norm, the Hessian's eigenvalues (ascending, of H itself),
    whether H + damping I was positive definite, and whether the step was taken.

    ``n_negative`` / ``n_zero`` / ``n_positive`` count the eigenvalues of the damped matrix
    H + damping I, with :func:`count_eigenvalues` (zero: within ``tol`` times the largest
    magnitude), exactly as :class:`Spectrum` counts; positive definite means all positive.
    ``method`` says how H was obtained ('exact', or 'fd' where a box has no forward-mode rules).
    """

    loss_before: float
    loss_after: float
    grad_norm: float
    eigenvalues: np.ndarray
    damping: float
    positive_definite: bool
    applied: bool
    step: np.ndarray = field(repr=False)
    tol: float = ZERO_TOL
    method: str = "exact"

    @property
    def counts(self) -> tuple[int, int, int]:
        return count_eigenvalues(self.eigenvalues, self.tol, self.damping)

    @property
    def n_negative(self) -> int:
        return self.counts[0]

    @property
    def n_zero(self) -> int:
        return self.counts[1]

    @property
    def n_positive(self) -> int:
        return self.counts[2]

    def __str__(self) -> str:
        ev = self.eigenvalues
        which = "H" if self.damping == 0 else f"H + {self.damping:g} I"
        how = "" if self.method == "exact" else " (H by finite differences)"
        head = (
            f"Newton step: loss {self.loss_before:.6g} -> {self.loss_after:.6g}, "
            f"|grad| = {self.grad_norm:.3g}, eigenvalues of H in [{ev.min():.3g}, {ev.max():.3g}]"
            f"{how}"
        )
        if self.positive_definite:
            return head + f" ({which} positive definite)"
        neg, zero, pos = self.counts
        return head + (
            f"; {which} is NOT positive definite ({neg} negative / {zero} zero / {pos} positive "
            "eigenvalues): the quadratic model has no unique minimum"
            + ("" if self.applied else ", step not taken")
        )


def newton_step(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    damping: float = 0.0,
    allow_indefinite: bool = False,
    apply: bool = True,
    tol: float | None = None,
) -> NewtonStep:
    """One (damped) Newton step theta <- theta - (H + damping I)^{-1} grad, in place.

    The lecture's update minimises the second-order Taylor model of the loss; it is only
    meaningful where the model is locally convex. The eigenvalues of H are computed first
    (exact Hessian): H + damping I is positive definite when every eigenvalue lambda + damping
    exceeds tol * max |lambda + damping| (:func:`count_eigenvalues`; ``tol`` defaults to
    :data:`ZERO_TOL`, or :data:`FD_ZERO_TOL` when a box without forward-mode rules made H come
    from finite differences). Otherwise the report says how many are negative and zero and,
    unless ``allow_indefinite``, the step is not taken (with ``allow_indefinite`` the step goes
    to the quadratic model's critical point — possibly a saddle or a maximum — using a
    least-squares solve if H is singular). For a quadratic objective with positive definite H,
    one step lands exactly on the minimum.
    """
    if damping < 0:
        raise AnalysisError(f"damping must be >= 0, got {damping}")
    obj, work = _prepare(model, X, y, feed)
    theta = obj.theta()
    try:
        g = obj.grad(theta)
        loss_before = float(obj.output.value)
        H, used = _hessian_and_method(obj, "exact", 1e-5, "newton_step")
    except BaseException:
        obj.restore()
        raise
    tol = _default_tol(tol, used)
    Hs = 0.5 * (H + H.T)
    eig = np.linalg.eigvalsh(Hs)
    A = Hs + damping * np.eye(len(theta))
    neg, zero, _ = count_eigenvalues(eig, tol, damping)
    pd = neg == 0 and zero == 0
    if pd:
        step = -np.linalg.solve(A, g)
    else:
        step = -np.linalg.lstsq(A, g, rcond=None)[0]
    applied = bool(apply and (pd or allow_indefinite))
    new_theta = theta + step if applied else theta
    loss_after = obj.loss(theta + step)
    obj.finish(new_theta)
    if applied and work is not model:  # a float64 copy did the work: write back
        set_flat(model, new_theta)
    return NewtonStep(
        loss_before=loss_before,
        loss_after=float(loss_after),
        grad_norm=float(np.linalg.norm(g)),
        eigenvalues=eig,
        damping=float(damping),
        positive_definite=pd,
        applied=applied,
        step=step,
        tol=tol,
        method=used,
    )


def saddle_free_newton(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    steps: int = 50,
    damping: float = 1e-6,
    grad_tol: float = 1e-10,
) -> list[float]:
    """Minimise by saddle-free Newton steps (Dauphin et al. 2014), in place; return the losses.

    With H = V diag(lambda) V^T, the step is delta = -V diag(1 / max(|lambda|, damping)) V^T
    grad: Newton's step with every curvature made positive, so a negative-curvature direction
    is descended instead of climbed (plain Newton is attracted to saddle points). The step is
    halved until the loss decreases. Stops when ||grad|| <= grad_tol.
    """
    obj, work = _prepare(model, X, y, feed)
    theta = obj.theta()
    losses = []
    try:
        for _ in range(steps):
            g = obj.grad(theta)
            loss = float(obj.output.value)
            losses.append(loss)
            if np.linalg.norm(g) <= grad_tol:
                break
            H = _hessian(obj, "exact", 1e-5)
            w, V = np.linalg.eigh(0.5 * (H + H.T))
            delta = -V @ ((V.T @ g) / np.maximum(np.abs(w), damping))
            t = 1.0
            while t > 1e-8 and obj.loss(theta + t * delta) >= loss:
                t *= 0.5
            if t <= 1e-8:
                break
            theta = theta + t * delta
    finally:
        obj.finish(theta)
    if work is not model:
        set_flat(model, theta)
    return losses


def top_eigenvalues(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    k: int = 1,
    *,
    feed: Mapping[Any, Any] | None = None,
    method: str = "lanczos",
    iters: int | None = None,
    tol: float = 1e-8,
    seed: int | np.random.Generator = 0,
    return_vectors: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The k largest eigenvalues of H (descending) from Hessian-vector products only.

    The largest, lambda_max, is the sharpness of a minimum: how fast the loss rises in the
    steepest direction (Keskar et al., ICLR 2017, "On Large-Batch Training for Deep Learning:
    Generalization Gap and Sharp Minima"). ``method="lanczos"``: Lanczos iteration with full
    reorthogonalisation (``iters`` steps, default min(P, 2k + 30)); the Ritz values of the
    tridiagonal matrix approximate the extreme eigenvalues. ``method="power"``: power iteration
    v <- H v / ||H v|| with deflation, shifted when the dominant eigenvalue is negative so the
    largest algebraic ones come out. ``return_vectors`` also returns the (P, k) eigenvectors.
    Each H v is exact (the R-operator), or by finite differences of gradients, with a
    :class:`HessianFallbackWarning`, where a box has no forward-mode rules.
    """
    if k < 1:
        raise AnalysisError(f"k must be >= 1, got {k}")
    if method not in ("lanczos", "power"):
        raise AnalysisError(f"unknown method {method!r}; choose 'lanczos' or 'power'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    obj, _ = _prepare(model, X, y, feed)
    n = obj.size
    try:
        if k > n:
            raise AnalysisError(f"k = {k} eigenvalues asked of a {n} x {n} Hessian")
        used = _choose_method(obj, "exact", "top_eigenvalues")

        def matvec(v: np.ndarray) -> np.ndarray:
            return _hvp(obj, v, used)

        if method == "lanczos":
            vals, vecs = _lanczos(matvec, n, k, iters, rng)
        else:
            vals, vecs = _power(matvec, n, k, iters or 500, tol, rng)
    finally:
        obj.restore()
    return (vals, vecs) if return_vectors else vals


def _lanczos(matvec, n, k, iters, rng):
    m = min(n, iters or (2 * k + 30))
    Q = np.zeros((n, m))
    alpha, beta = np.zeros(m), np.zeros(m)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    used = m
    for j in range(m):
        Q[:, j] = q
        w = matvec(q)
        alpha[j] = q @ w
        # full reorthogonalisation (twice is enough) keeps the basis orthonormal in floats
        for _ in range(2):
            w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        if j + 1 == m:
            break
        beta[j] = np.linalg.norm(w)
        if beta[j] < 1e-12:  # an invariant subspace: the Ritz values are exact
            used = j + 1
            break
        q = w / beta[j]
    T = np.diag(alpha[:used]) + np.diag(beta[: used - 1], 1) + np.diag(beta[: used - 1], -1)
    vals, S = np.linalg.eigh(T)
    order = np.argsort(vals)[::-1][:k]
    return vals[order], Q[:, :used] @ S[:, order]


def _power(matvec, n, k, iters, tol, rng):
    vals: list[float] = []
    vecs: list[np.ndarray] = []

    def deflated(v, shift):
        w = matvec(v) - shift * v
        for lam, u in zip(vals, vecs):
            w -= (lam - shift) * (u @ v) * u
        return w

    def iterate(shift):
        v = rng.standard_normal(n)
        v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(iters):
            w = deflated(v, shift)
            lam_new = float(v @ w)
            nw = np.linalg.norm(w)
            if nw == 0:
                return shift, v
            v = w / nw
            if abs(lam_new - lam) <= tol * max(1.0, abs(lam_new)):
                lam = lam_new
                break
            lam = lam_new
        return lam + shift, v

    for _ in range(k):
        lam, v = iterate(0.0)
        if lam < 0:  # dominant but negative: shift so the largest algebraic one dominates
            lam, v = iterate(lam)
        vals.append(lam)
        vecs.append(v)
    return np.array(vals), np.stack(vecs, axis=1)


@dataclass
class Spectrum:
    """The eigenvalues of H at a point (ascending), with counts: ``n_negative`` (descent
    directions), ``n_zero`` (flat directions, such as the softmax's invariance to adding a
    constant to every class), ``n_positive``; ``grad_norm`` says whether the point is critical;
    ``kind`` is minimum / saddle / maximum.

    The counts are those of H + damping I (``damping`` 0 by default), by
    :func:`count_eigenvalues`: an eigenvalue is zero when its magnitude is at most ``tol``
    times the largest magnitude. :class:`NewtonStep` counts the same way, so the two agree on
    the same matrix. ``method`` says how H was obtained ('exact' or 'fd')."""

    eigenvalues: np.ndarray
    grad_norm: float
    loss: float
    tol: float = ZERO_TOL
    damping: float = 0.0
    method: str = "exact"

    @property
    def counts(self) -> tuple[int, int, int]:
        return count_eigenvalues(self.eigenvalues, self.tol, self.damping)

    @property
    def n_negative(self) -> int:
        return self.counts[0]

    @property
    def n_positive(self) -> int:
        return self.counts[2]

    @property
    def n_zero(self) -> int:
        return self.counts[1]

    @property
    def index(self) -> float:
        """The fraction of negative eigenvalues among the non-zero ones (Dauphin et al.)."""
        nz = self.n_negative + self.n_positive
        return self.n_negative / nz if nz else 0.0

    @property
    def kind(self) -> str:
        if self.n_negative and self.n_positive:
            return "saddle point"
        if self.n_negative:
            return "maximum"
        return "minimum" if not self.n_zero else "minimum (degenerate: flat directions)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "grad_norm": self.grad_norm,
            "n_negative": self.n_negative,
            "n_zero": self.n_zero,
            "n_positive": self.n_positive,
            "index": self.index,
            "kind": self.kind,
            "tol": self.tol,
            "damping": self.damping,
            "method": self.method,
            "eigenvalues": self.eigenvalues.tolist(),
        }

    def is_critical(self, grad_tol: float = 1e-6) -> bool:
        """Whether ||grad|| <= grad_tol: only then does ``kind`` classify a critical point."""
        return self.grad_norm <= grad_tol

    def __str__(self) -> str:
        where = "" if self.is_critical() else " (not a critical point: the curvature only)"
        which = "" if self.damping == 0 else f" of H + {self.damping:g} I"
        how = "" if self.method == "exact" else " (H by finite differences)"
        return (
            f"{self.kind}{where}: loss {self.loss:.6g}, |grad| = {self.grad_norm:.2g}, "
            f"{self.n_negative} negative / {self.n_zero} zero / {self.n_positive} positive "
            f"eigenvalues{which} in [{self.eigenvalues.min():.3g}, "
            f"{self.eigenvalues.max():.3g}]{how}"
        )


def spectrum(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    tol: float | None = None,
    damping: float = 0.0,
    max_params: int = 5000,
) -> Spectrum:
    """Every eigenvalue of the exact Hessian at the current parameters, with the gradient norm.

    At a critical point (grad ~ 0) the signs classify it: all positive, a minimum; some
    negative, a saddle point with that many descent directions (Dauphin et al. 2014). For
    tiny networks: P fprop/bprop passes and an eigendecomposition of a P x P matrix. The
    counts are of H + damping I with a tolerance relative to the largest magnitude
    (:func:`count_eigenvalues`; ``tol`` defaults to :data:`ZERO_TOL`, :data:`FD_ZERO_TOL` when
    a box without forward-mode rules made H come from finite differences), as
    :func:`newton_step` counts.
    """
    if damping < 0:
        raise AnalysisError(f"damping must be >= 0, got {damping}")
    obj, _ = _prepare(model, X, y, feed)
    try:
        if obj.size > max_params:
            raise AnalysisError(
                f"{obj.size} parameters: too many for a full spectrum (max_params)"
            )
        g = obj.grad()
        loss = float(obj.output.value)
        H, used = _hessian_and_method(obj, "exact", 1e-5, "spectrum")
    finally:
        obj.restore()
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return Spectrum(
        eigenvalues=eig,
        grad_norm=float(np.linalg.norm(g)),
        loss=loss,
        tol=_default_tol(tol, used),
        damping=float(damping),
        method=used,
    )
