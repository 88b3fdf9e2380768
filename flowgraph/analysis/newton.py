"""Newton's method: the lecture's (damped) Newton step, and the saddle-free Newton step.

The lecture's Newton step minimises the local quadratic (Taylor) model of the loss,

    l(theta) ~ l(theta_t) + grad^T (theta - theta_t) + 0.5 (theta - theta_t)^T H (theta - theta_t)
    theta_{t+1} = theta_t - H^{-1} grad,          H = grad^2_theta l(f(x; theta_t), y),

"only practical with few parameters (so we can invert the Hessian) and locally convex (so the
Hessian is invertible)". :func:`newton_step` checks that second condition first, with the
eigenvalues of H (:func:`flowgraph.analysis.count_eigenvalues`), and says why when it does
not hold. Newton's method is attracted to saddle points (Dauphin et al., NIPS 2014);
:func:`saddle_free_newton` divides by |lambda| instead of lambda, so it descends along
negative curvature instead of climbing to the saddle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import Graph
from ..model import Model
from .hessian import analysed_objective, objective_hessian
from .params import AnalysisError, set_flat
from .spectrum import ZERO_TOL, count_eigenvalues, default_tol

__all__ = ["NewtonStep", "newton_step", "saddle_free_newton"]


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
    obj, work = analysed_objective(model, X, y, feed)
    theta = obj.theta()
    try:
        g = obj.grad(theta)
        loss_before = float(obj.output.value)
        H, used = objective_hessian(obj, "exact", 1e-5, "newton_step")
    except BaseException:
        obj.restore()
        raise
    tol = default_tol(tol, used)
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
    obj, work = analysed_objective(model, X, y, feed)
    theta = obj.theta()
    losses = []
    try:
        for _ in range(steps):
            g = obj.grad(theta)
            loss = float(obj.output.value)
            losses.append(loss)
            if np.linalg.norm(g) <= grad_tol:
                break
            H, _ = objective_hessian(obj, "exact", 1e-5, "saddle_free_newton")
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
