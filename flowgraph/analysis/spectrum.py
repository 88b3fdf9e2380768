"""The eigenvalues of the Hessian: the spectrum at a point, the largest few, and their counts.

The eigenvalues lambda_i of H = grad^2_theta l at a critical point (grad = 0) tell a minimum
(all > 0) from a saddle point (some < 0). Dauphin et al. (NIPS 2014, "Identifying and attacking
the saddle point problem in high-dimensional non-convex optimization") show saddles, not local
minima, dominate high-dimensional loss surfaces, and that the higher the loss of a critical
point, the more negative eigenvalues it has (its index). The largest eigenvalue lambda_max
measures the sharpness of a minimum (Keskar et al., ICLR 2017).

* :func:`spectrum`: every eigenvalue of the full H (tiny networks), with the counts of
  negative / zero / positive ones and the kind of point (:class:`Spectrum`).
* :func:`top_eigenvalues`: the k largest from Hessian-vector products only (Lanczos or power
  iteration): any size.
* :func:`count_eigenvalues`: the one rule deciding what counts as zero, shared with
  :func:`flowgraph.analysis.newton_step`, so both agree on the same matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import Graph
from ..model import Model
from .hessian import analysed_objective, choose_method, objective_hessian, objective_hvp
from .params import AnalysisError, as_generator

__all__ = [
    "ZERO_TOL",
    "FD_ZERO_TOL",
    "count_eigenvalues",
    "default_tol",
    "top_eigenvalues",
    "spectrum",
    "Spectrum",
]


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


def default_tol(tol: float | None, method: str) -> float:
    """``tol`` itself when given; else :data:`ZERO_TOL` for an exact H, :data:`FD_ZERO_TOL`
    for one from finite differences (``method``)."""
    if tol is not None:
        return float(tol)
    return ZERO_TOL if method == "exact" else FD_ZERO_TOL


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
    rng = as_generator(seed)
    obj, _ = analysed_objective(model, X, y, feed)
    n = obj.size
    try:
        if k > n:
            raise AnalysisError(f"k = {k} eigenvalues asked of a {n} x {n} Hessian")
        used = choose_method(obj, "exact", "top_eigenvalues")

        def matvec(v: np.ndarray) -> np.ndarray:
            return objective_hvp(obj, v, used)

        if method == "lanczos":
            vals, vecs = _lanczos(matvec, n, k, iters, rng)
        else:
            vals, vecs = _power(matvec, n, k, iters or 500, tol, rng)
    finally:
        obj.restore()
    return (vals, vecs) if return_vectors else vals


def _lanczos(matvec, n, k, iters, rng):
    """The k largest Ritz pairs of H after m Lanczos steps: an orthonormal basis Q of the
    Krylov space span{q, H q, ..., H^{m-1} q} in which Q^T H Q = T is tridiagonal (alpha on
    the diagonal, beta beside it); the eigenvalues of T approximate H's extreme ones, and
    Q S (S: T's eigenvectors) their eigenvectors."""
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
    """The k largest eigenpairs one at a time: v <- (H - s I) v / ||(H - s I) v|| with the
    pairs found so far deflated (H - sum_i lambda_i u_i u_i^T), until the Rayleigh quotient
    v^T (H - s I) v changes by less than tol; s = 0, or the dominant eigenvalue when that is
    negative, so that the largest algebraic one dominates."""
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
    obj, _ = analysed_objective(model, X, y, feed)
    try:
        if obj.size > max_params:
            raise AnalysisError(f"{obj.size} parameters: too many for a full spectrum (max_params)")
        g = obj.grad()
        loss = float(obj.output.value)
        H, used = objective_hessian(obj, "exact", 1e-5, "spectrum")
    finally:
        obj.restore()
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return Spectrum(
        eigenvalues=eig,
        grad_norm=float(np.linalg.norm(g)),
        loss=loss,
        tol=default_tol(tol, used),
        damping=float(damping),
        method=used,
    )
