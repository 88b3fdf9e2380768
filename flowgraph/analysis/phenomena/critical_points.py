"""Critical points of a tiny network, and their index.

Newton's method on the gradient, grad(theta) = 0, finds critical points of every kind; Dauphin
et al. (NIPS 2014, "Identifying and attacking the saddle point problem in high-dimensional
non-convex optimization") observed that the higher the loss of a critical point, the more
negative eigenvalues it has (its index): saddles, not bad local minima, are what high
losses are made of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import Model
from ..hessian import objective_hessian
from ..params import objective, to_float64
from ..spectrum import spectrum

__all__ = ["critical_points"]


def critical_points(
    model: Model,
    X: Any,
    y: Any,
    starts: Sequence[Any],
    *,
    max_iter: int = 60,
    grad_tol: float = 1e-9,
) -> list[dict[str, Any]]:
    """Run Newton's method on grad(theta) = 0 from each start theta (a parameter vector); keep
    the critical points it converges to, with their Hessian spectrum.

    Step: delta = -H^+ grad (least squares: H may be singular), halved until ||grad||
    decreases (delta is a descent direction of ||grad||^2 / 2, whose gradient is H grad).
    Newton's method is attracted to critical points of every kind, saddles included (Dauphin
    et al. 2014): exactly what is needed to find them. Returns one dict per converged start:
    loss, grad_norm, n_negative, n_zero, n_positive, index, kind, eigenvalues, theta, start.
    """
    found = []
    if model.dtype != np.float64:
        model = to_float64(model)
    obj = objective(model, X, y)
    try:
        for s, theta0 in enumerate(starts):
            theta = np.asarray(theta0, dtype=np.float64).copy()
            g = obj.grad(theta)
            gn = float(np.linalg.norm(g))
            for _ in range(max_iter):
                if gn < grad_tol or not np.isfinite(gn):
                    break
                H, _ = objective_hessian(obj, "exact", 0.0, "critical_points")
                delta = -np.linalg.lstsq(H, g, rcond=1e-12)[0]
                t = 1.0
                while t > 1e-6:
                    g_new = obj.grad(theta + t * delta)
                    gn_new = float(np.linalg.norm(g_new))
                    if gn_new < gn:
                        break
                    t *= 0.5
                else:
                    break
                theta, g, gn = theta + t * delta, g_new, gn_new
            if gn < grad_tol * 100:
                obj.set(theta)
                spec = spectrum(model, X, y)
                d = spec.to_dict()
                d.update(theta=theta, start=s)
                found.append(d)
    finally:
        obj.restore()
    return found
