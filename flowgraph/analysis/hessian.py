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
  rounding). Each box type has a small rule below (the derivative of its fprop and bprop).
* ``method="fd"``: central differences of the graph's exact gradients, column by column,
  H e_i ~ (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), error O(eps^2).

The eigenvalues of H at a critical point (grad = 0) tell a minimum (all > 0) from a saddle
point (some < 0). Dauphin et al. (NIPS 2014, "Identifying and attacking the saddle point
problem in high-dimensional non-convex optimization") show saddles, not local minima,
dominate high-dimensional loss surfaces, and that Newton's method is attracted to them. The
largest eigenvalue measures the sharpness of a minimum (Keskar et al., ICLR 2017).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..boxes import (
    Add,
    CrossEntropy,
    Identity,
    L1Penalty,
    L2Penalty,
    Linear,
    ReLU,
    Scale,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)
from ..boxes.base import Box
from ..boxes.losses import softmax
from ..graph import Graph, Input
from ..models import Model
from .params import AnalysisError, Objective, objective, set_flat, to_float64

__all__ = [
    "hvp",
    "hessian",
    "newton_step",
    "NewtonStep",
    "top_eigenvalues",
    "spectrum",
    "Spectrum",
    "R_RULES",
    "saddle_free_newton",
]

# -- the R-operator: one rule per box type ----------------------------------------------------
# forward(box, inputs, R_inputs, output) -> R{output}
# backward(box, inputs, R_inputs, output, R_output, grad_output, R_grad_output) -> R{grad input}
# R_inputs holds zeros (never None) for children that do not depend on theta.


def _softmax_R(f: np.ndarray, Ra: np.ndarray) -> np.ndarray:
    """R{f} for f = softmax(a): (diag(f) - f f^T) R{a}, row by row."""
    return f * (Ra - (f * Ra).sum(axis=-1, keepdims=True))


def _linear_fwd(box, inp, R, out):
    (h, W, _), (Rh, RW, Rb) = inp, R
    return Rh @ W.T + h @ RW.T + Rb  # R{a} = R{b} + R{W} h + W R{h}


def _linear_bwd(box, inp, R, out, Rout, g, Rg):
    (h, W, _), (Rh, RW, _) = inp, R
    # grad_h = grad_a W,  grad_W = grad_a^T h,  grad_b = sum_t grad_a: product rule on each
    return Rg @ W + g @ RW, Rg.T @ h + g.T @ Rh, Rg.sum(axis=0)


def _tanh_fwd(box, inp, R, h):
    return (1 - h * h) * R[0]


def _tanh_bwd(box, inp, R, h, Rh, g, Rg):
    return (Rg * (1 - h * h) - 2 * g * h * Rh,)  # d/dr [grad_h (1 - h^2)]


def _sigmoid_fwd(box, inp, R, h):
    return h * (1 - h) * R[0]


def _sigmoid_bwd(box, inp, R, h, Rh, g, Rg):
    return (Rg * h * (1 - h) + g * (1 - 2 * h) * Rh,)


def _relu_fwd(box, inp, R, h):
    return R[0] * (h > 0)


def _relu_bwd(box, inp, R, h, Rh, g, Rg):
    return (Rg * (h > 0),)  # g''(a) = 0 away from the kink


def _identity_fwd(box, inp, R, h):
    return R[0]


def _identity_bwd(box, inp, R, h, Rh, g, Rg):
    return (Rg,)


def _softmax_fwd(box, inp, R, f):
    return _softmax_R(f, R[0])


def _softmax_bwd(box, inp, R, f, Rf, g, Rg):
    s = (g * f).sum(axis=-1, keepdims=True)
    Rs = (Rg * f + g * Rf).sum(axis=-1, keepdims=True)
    return (Rf * (g - s) + f * (Rg - Rs),)  # d/dr [f (grad_f - <grad_f, f>)]


def _ce_fwd(box, inp, R, loss):
    f, y = inp
    n = f.shape[0]
    rows = np.arange(n)
    return np.asarray(-(R[0][rows, y] / f[rows, y]).mean())


def _ce_bwd(box, inp, R, loss, Rloss, g, Rg):
    f, y = inp
    n = f.shape[0]
    rows = np.arange(n)
    fy, Rfy = f[rows, y], R[0][rows, y]
    Rgrad_f = np.zeros_like(f)
    Rgrad_f[rows, y] = -Rg / (fy * n) + g * Rfy / (fy * fy * n)
    return Rgrad_f, None


def _sce_fwd(box, inp, R, loss):
    a, y = inp
    n = a.shape[0]
    f_minus_e = softmax(a)
    f_minus_e[np.arange(n), y] -= 1
    return np.asarray((f_minus_e * R[0]).sum() / n)  # <grad_a loss, R{a}>


def _sce_bwd(box, inp, R, loss, Rloss, g, Rg):
    a, y = inp
    n = a.shape[0]
    f = softmax(a)
    Rf = _softmax_R(f, R[0])
    f[np.arange(n), y] -= 1  # f - e(y)
    return Rf * (g / n) + f * (Rg / n), None  # d/dr [(f - e(y)) grad_l / N]


def _l2_fwd(box, inp, R, omega):
    return np.asarray(sum(2 * np.vdot(W, RW) for W, RW in zip(inp, R)))


def _l2_bwd(box, inp, R, omega, Romega, g, Rg):
    return tuple(2 * RW * g + 2 * W * Rg for W, RW in zip(inp, R))


def _l1_fwd(box, inp, R, omega):
    return np.asarray(sum(np.vdot(np.sign(W), RW) for W, RW in zip(inp, R)))


def _l1_bwd(box, inp, R, omega, Romega, g, Rg):
    return tuple(np.sign(W) * Rg for W in inp)  # |W|'' = 0 away from the kink at 0


def _add_fwd(box, inp, R, s):
    total = R[0]
    for r in R[1:]:
        total = total + r
    return total


def _add_bwd(box, inp, R, s, Rs, g, Rg):
    return tuple(Rg for _ in inp)


def _scale_fwd(box, inp, R, out):
    return box.c * R[0]


def _scale_bwd(box, inp, R, out, Rout, g, Rg):
    return (box.c * Rg,)


R_RULES: dict[type, tuple[Callable, Callable]] = {
    Linear: (_linear_fwd, _linear_bwd),
    Tanh: (_tanh_fwd, _tanh_bwd),
    Sigmoid: (_sigmoid_fwd, _sigmoid_bwd),
    ReLU: (_relu_fwd, _relu_bwd),
    Identity: (_identity_fwd, _identity_bwd),
    Softmax: (_softmax_fwd, _softmax_bwd),
    CrossEntropy: (_ce_fwd, _ce_bwd),
    SoftmaxCrossEntropy: (_sce_fwd, _sce_bwd),
    L2Penalty: (_l2_fwd, _l2_bwd),
    L1Penalty: (_l1_fwd, _l1_bwd),
    Add: (_add_fwd, _add_bwd),
    Scale: (_scale_fwd, _scale_bwd),
}
"""Second-order rules of the R-operator, by box type (a new box needs one for method="exact")."""


def _rule(box: Box) -> tuple[Callable, Callable]:
    for cls in type(box).__mro__:
        if cls in R_RULES:
            return R_RULES[cls]
    raise AnalysisError(
        f"no R-operator rule for box {type(box).__name__}: the exact Hessian-vector product "
        "does not know its second derivative; add one to flowgraph.analysis.hessian.R_RULES "
        "or use method='fd'"
    )


def _hvp_exact(obj: Objective, v: np.ndarray) -> np.ndarray:
    """H v by the R-operator (Pearlmutter 1994) through the engine's fprop and bprop values."""
    graph, params = obj.graph, obj.params
    obj.loss()
    graph.bprop(output=obj.output)
    R: dict[int, Any] = {}
    i = 0
    for p in params:
        R[id(p)] = v[i : i + p.value.size].reshape(p.value.shape)
        i += p.value.size
    # forward: R{u} for every node that depends on theta (None: does not)
    for node in graph.order:
        if node.box is None:
            continue
        Rin = [R.get(id(c)) for c in node.children]
        if all(r is None for r in Rin):
            continue
        Rin = [np.zeros(np.shape(c.value)) if r is None else r for c, r in zip(node.children, Rin)]
        fwd, _ = _rule(node.box)
        R[id(node)] = fwd(node.box, [c.value for c in node.children], Rin, node.value)
    # backward: R{grad u}, summed over parents like the gradients themselves
    RG: dict[int, Any] = {id(obj.output): np.zeros(np.shape(obj.output.value))}
    for node in reversed(graph.order):
        if node.box is None or node.grad is None or id(node) not in RG:
            continue
        Rin = [R.get(id(c)) for c in node.children]
        Rin = [np.zeros(np.shape(c.value)) if r is None else r for c, r in zip(node.children, Rin)]
        Rout = R.get(id(node))
        if Rout is None:
            Rout = np.zeros(np.shape(node.value))
        _, bwd = _rule(node.box)
        Rgrads = bwd(
            node.box,
            [c.value for c in node.children],
            Rin,
            node.value,
            Rout,
            node.grad,
            RG[id(node)],
        )
        for child, rg in zip(node.children, Rgrads):
            if rg is None or child.grad is None or isinstance(child, Input):
                continue
            RG[id(child)] = rg if id(child) not in RG else RG[id(child)] + rg
    parts = [np.ravel(RG[id(p)]) if id(p) in RG else np.zeros(p.value.size) for p in params]
    return np.concatenate(parts).astype(np.float64)


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
    """The objective, on a float64 copy when the Model is in lower precision."""
    if isinstance(model, Model) and model.dtype != np.float64:
        model = to_float64(model)
    return objective(model, X, y, feed=feed), model


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
    ``method="exact"``: Pearlmutter's R-operator (one extra forward and backward pass);
    ``method="fd"``: (grad(theta + h v) - grad(theta - h v)) / (2 h), h = eps / ||v||.
    The parameters are left as they were.
    """
    obj, _ = _prepare(model, X, y, feed)
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (obj.size,):
        raise AnalysisError(
            f"v must have shape ({obj.size},) (one entry per parameter), got {v.shape}"
        )
    try:
        if method == "exact":
            return _hvp_exact(obj, v)
        if method == "fd":
            return _hvp_fd(obj, v, eps)
    finally:
        obj.restore()
    raise AnalysisError(f"unknown method {method!r}; choose 'exact' or 'fd'")


def _hessian(obj: Objective, method: str, eps: float) -> np.ndarray:
    n = obj.size
    H = np.empty((n, n))
    theta = obj.theta()
    try:
        if method == "exact":
            e = np.zeros(n)
            for i in range(n):
                e[i] = 1.0
                H[:, i] = _hvp_exact(obj, e)
                e[i] = 0.0
        elif method == "fd":
            for i in range(n):
                t = theta.copy()
                t[i] += eps
                g_plus = obj.grad(t)
                t[i] -= 2 * eps
                g_minus = obj.grad(t)
                H[:, i] = (g_plus - g_minus) / (2 * eps)
            H = 0.5 * (H + H.T)
        else:
            raise AnalysisError(f"unknown method {method!r}; choose 'exact' or 'fd'")
    finally:
        obj.set(theta)
    return H


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
    rounding); ``method="fd"`` from central differences of the exact gradients
    (grad(theta + eps e_i) - grad(theta - eps e_i)) / (2 eps), then symmetrised
    (H + H^T) / 2. P fprop/bprop pairs (2P for "fd"): for small networks only (at most
    ``max_params``). The parameters are left as they were.
    """
    obj, _ = _prepare(model, X, y, feed)
    if obj.size > max_params:
        raise AnalysisError(
            f"the model has {obj.size} parameters; a full Hessian needs {obj.size}^2 entries and "
            f"{obj.size} passes (raise max_params, or use hvp / top_eigenvalues instead)"
        )
    return _hessian(obj, method, eps)


@dataclass
class NewtonStep:
    """What one Newton step found: the loss before, the loss at theta + step (whether or not the
    step was taken), the gradient norm, the Hessian's eigenvalues (ascending), whether
    H + damping I was positive definite, and whether the step was taken."""

    loss_before: float
    loss_after: float
    grad_norm: float
    eigenvalues: np.ndarray
    damping: float
    positive_definite: bool
    applied: bool
    step: np.ndarray = field(repr=False)

    @property
    def n_negative(self) -> int:
        return int(np.sum(self.eigenvalues < 0))

    def __str__(self) -> str:
        ev = self.eigenvalues
        head = (
            f"Newton step: loss {self.loss_before:.6g} -> {self.loss_after:.6g}, "
            f"|grad| = {self.grad_norm:.3g}, eigenvalues of H in [{ev.min():.3g}, {ev.max():.3g}]"
        )
        if self.positive_definite:
            return head + " (positive definite)"
        return head + (
            f"; H + {self.damping:g} I is NOT positive definite ({self.n_negative} negative "
            "eigenvalues): the quadratic model has no minimum"
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
    tol: float = 1e-10,
) -> NewtonStep:
    """One (damped) Newton step theta <- theta - (H + damping I)^{-1} grad, in place.

    The lecture's update minimises the second-order Taylor model of the loss; it is only
    meaningful where the model is locally convex. The eigenvalues of H are computed first
    (exact Hessian): when H + damping I is not positive definite (smallest eigenvalue <=
    tol * largest magnitude) the report says so and, unless ``allow_indefinite``, the step is
    not taken (with ``allow_indefinite`` the step goes to the quadratic model's critical point
    — possibly a saddle or a maximum — using a least-squares solve if H is singular). For a
    quadratic objective with positive definite H, one step lands exactly on the minimum.
    """
    if damping < 0:
        raise AnalysisError(f"damping must be >= 0, got {damping}")
    obj, work = _prepare(model, X, y, feed)
    theta = obj.theta()
    try:
        g = obj.grad(theta)
        loss_before = float(obj.output.value)
        H = _hessian(obj, "exact", 0.0)
    finally:
        obj.set(theta)
    Hs = 0.5 * (H + H.T)
    eig = np.linalg.eigvalsh(Hs)
    A = Hs + damping * np.eye(len(theta))
    scale = max(1.0, float(np.abs(eig).max()))
    pd = bool(eig.min() + damping > tol * scale)
    if pd:
        step = -np.linalg.solve(A, g)
    else:
        step = -np.linalg.lstsq(A, g, rcond=None)[0]
    applied = bool(apply and (pd or allow_indefinite))
    new_theta = theta + step if applied else theta
    loss_after = obj.loss(theta + step)
    obj.set(new_theta)
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
            H = _hessian(obj, "exact", 0.0)
            w, V = np.linalg.eigh(0.5 * (H + H.T))
            delta = -V @ ((V.T @ g) / np.maximum(np.abs(w), damping))
            t = 1.0
            while t > 1e-8 and obj.loss(theta + t * delta) >= loss:
                t *= 0.5
            if t <= 1e-8:
                break
            theta = theta + t * delta
    finally:
        obj.set(theta)
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
    """
    if k < 1:
        raise AnalysisError(f"k must be >= 1, got {k}")
    obj, _ = _prepare(model, X, y, feed)
    n = obj.size
    if k > n:
        raise AnalysisError(f"k = {k} eigenvalues asked of a {n} x {n} Hessian")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    try:
        if method == "lanczos":
            vals, vecs = _lanczos(lambda v: _hvp_exact(obj, v), n, k, iters, rng)
        elif method == "power":
            vals, vecs = _power(lambda v: _hvp_exact(obj, v), n, k, iters or 500, tol, rng)
        else:
            raise AnalysisError(f"unknown method {method!r}; choose 'lanczos' or 'power'")
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
    directions), ``n_zero`` (|lambda| <= tol * max |lambda|: flat directions such as the
    softmax's invariance to adding a constant to every class), ``n_positive``; ``grad_norm``
    says whether the point is critical; ``kind`` is minimum / saddle / maximum."""

    eigenvalues: np.ndarray
    grad_norm: float
    loss: float
    tol: float

    @property
    def _scale(self) -> float:
        return max(float(np.abs(self.eigenvalues).max()), 1e-300)

    @property
    def n_negative(self) -> int:
        return int(np.sum(self.eigenvalues < -self.tol * self._scale))

    @property
    def n_positive(self) -> int:
        return int(np.sum(self.eigenvalues > self.tol * self._scale))

    @property
    def n_zero(self) -> int:
        return len(self.eigenvalues) - self.n_negative - self.n_positive

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
            "eigenvalues": self.eigenvalues.tolist(),
        }

    def is_critical(self, grad_tol: float = 1e-6) -> bool:
        """Whether ||grad|| <= grad_tol: only then does ``kind`` classify a critical point."""
        return self.grad_norm <= grad_tol

    def __str__(self) -> str:
        where = "" if self.is_critical() else " (not a critical point: the curvature only)"
        return (
            f"{self.kind}{where}: loss {self.loss:.6g}, |grad| = {self.grad_norm:.2g}, "
            f"{self.n_negative} negative / {self.n_zero} zero / {self.n_positive} positive "
            f"eigenvalues in [{self.eigenvalues.min():.3g}, {self.eigenvalues.max():.3g}]"
        )


def spectrum(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    tol: float = 1e-7,
    max_params: int = 5000,
) -> Spectrum:
    """Every eigenvalue of the exact Hessian at the current parameters, with the gradient norm.

    At a critical point (grad ~ 0) the signs classify it: all positive, a minimum; some
    negative, a saddle point with that many descent directions (Dauphin et al. 2014). For
    tiny networks: P fprop/bprop passes and an eigendecomposition of a P x P matrix.
    """
    obj, _ = _prepare(model, X, y, feed)
    if obj.size > max_params:
        raise AnalysisError(f"{obj.size} parameters: too many for a full spectrum (max_params)")
    try:
        g = obj.grad()
        loss = float(obj.output.value)
        H = _hessian(obj, "exact", 0.0)
    finally:
        obj.restore()
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return Spectrum(eigenvalues=eig, grad_norm=float(np.linalg.norm(g)), loss=loss, tol=tol)
