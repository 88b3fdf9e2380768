"""Central differences: the numerical derivative, its step, and where there is none.

For a scalar function L of an array x, the numerical derivative along a direction d is the
lecture's central difference

    dL/dx . d  ~  c(eps) = (L(x + eps d) - L(x - eps d)) / (2 eps)

computed in float64. ``d`` runs over every element (d = e_i) of small tensors; for large ones
over a few sampled elements and a few random Gaussian directions of unit length (not
all-positive, so errors of opposite sign cannot cancel): :func:`directions`.

The derivative is estimated by Richardson's extrapolation (4 c(eps/2) - c(eps)) / 3, exact to
O(eps^4), and compared with the analytic value within atol + rtol |value| plus the
differences' round-off (which grows as 1/eps): :func:`compare`.

An element is a *kink*, reported apart and neither passed nor failed, only on evidence that
the function is not differentiable there (ReLU or |W| at 0): its one-sided slopes disagree by
an amount that does not shrink as the step does (eps, eps/16, ...), where a smooth function's
disagreement shrinks with the step. Where the function merely curves steeply within eps
(-log f for a probability f near eps), or x +- eps leaves its domain, the step is refined
until the derivative is resolved; what cannot be resolved is a failure, never a kink:
:func:`differentiate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .report import InputCheck

__all__ = [
    "Settings",
    "Verdict",
    "directions",
    "differentiate",
    "compare",
    "as_float64",
    "is_float",
    "projection",
]

# Defaults suited to float64 central differences with eps = 1e-6: truncation error is
# O(eps^2) and round-off O(1e-16 / eps) relative, both far below rtol.
EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7
MAX_ELEMENTS = 128  # check every element of tensors up to this size
N_SAMPLES = 24  # else: this many sampled elements...
N_DIRECTIONS = 4  # ...and this many random Gaussian directions
KINK_RTOL = 1e-3  # evidence of non-smoothness (relative to the slopes) that refines the step
REFINE = 16  # ...dividing it by this...
MAX_REFINE = 8  # ...at most this many times (eps / 16^8 ~ 2e-10 eps)
DOMAIN_SHRINK = 1000.0  # a step leaving the function's domain is divided by this instead...
DOMAIN_FLOOR = 1e-280  # ...down to this (times the values' magnitude): then it is unresolved
ROUNDOFF = 16  # round-off of the estimate: this many ulps of |f| over the step (4x margin)
JUMP_ULPS = 1000  # f(h) - f(-h) this many times the round-off, not shrinking with h: a jump


@dataclass(frozen=True)
class Settings:
    """How to compare: the step ``eps``, the tolerance atol + rtol |value|, and how many
    elements and directions of a tensor (see :func:`directions`)."""

    eps: float = EPS
    rtol: float = RTOL
    atol: float = ATOL
    max_elements: int = MAX_ELEMENTS
    n_samples: int = N_SAMPLES
    n_directions: int = N_DIRECTIONS


def directions(
    shape: tuple[int, ...], rng: np.random.Generator, settings: Settings
) -> Iterator[tuple[Any, Any]]:
    """Yield (label, direction) pairs: every element (its index, its flat position), or
    ``n_samples`` sampled ones plus ``n_directions`` Gaussian directions of unit length
    (``"direction k"``, the array) when the tensor has more than ``max_elements``."""
    size = int(np.prod(shape))
    if size <= settings.max_elements:
        for flat in range(size):
            yield np.unravel_index(flat, shape), flat
    else:
        for flat in rng.choice(size, size=min(settings.n_samples, size), replace=False):
            yield np.unravel_index(int(flat), shape), int(flat)
        for k in range(settings.n_directions):
            # unit length, so that the step along it is eps whatever the tensor's size
            d = rng.standard_normal(shape)
            yield f"direction {k}", d / np.linalg.norm(d)


@dataclass
class Verdict:
    """What the differences along one direction say: ``kind`` is 'smooth' (``numeric`` is
    then the derivative, known to within ``allowance``), 'kink' or 'unresolved'."""

    kind: str
    numeric: float = float("nan")
    allowance: float = 0.0
    step: float = 0.0
    why: str = ""


def _unresolved(h: float) -> Verdict:
    return Verdict(
        "unresolved",
        step=h,
        why="finite differences could not resolve the derivative here (the function leaves "
        "its domain or curves too steeply within the step); try a smaller eps",
    )


@dataclass
class _Step:
    """The differences at one step h: Richardson's estimate ``numeric``, the ``evidence`` of
    non-smoothness max(|c(h) - c(h/2)|, |r|), the one-sided ``slopes``, the round-off
    ``noise`` and the ``gap`` |f(h) - f(-h)|."""

    h: float
    numeric: float
    evidence: float
    r: float
    slopes: float
    noise: float
    gap: float


def _step(
    h: float, f0: float, fp: float, fm: float, fp2: float, fm2: float, magnitude: float
) -> _Step:
    c1, c2 = (fp - fm) / (2 * h), (fp2 - fm2) / h
    r = (fp - 2 * f0 + fm) / h - 2 * (fp2 - 2 * f0 + fm2) / (h / 2)
    slopes = max(max(abs(fp - f0), abs(f0 - fm)) / h, 2 * max(abs(fp2 - f0), abs(f0 - fm2)) / h)
    scale = max(abs(f0), abs(fp), abs(fm), magnitude)
    noise = ROUNDOFF * np.finfo(np.float64).eps * scale / h
    evidence = max(abs(c1 - c2), abs(r))
    return _Step(h, (4 * c2 - c1) / 3, evidence, r, slopes, noise, abs(fp - fm))


def _off_the_domain(f0: float, values: tuple[float, ...]) -> bool:
    """A step out of the domain (a non-finite value: log f with f below the step), or across a
    pole: f(0) towering over all four neighbours (-1/f for f = 1e-21 and a step of 1e-6)."""
    if not all(np.isfinite(v) for v in values):
        return True
    return max(abs(v) for v in values) < 0.1 * abs(f0)


def _refined(prev: _Step, step: _Step) -> Verdict | None:
    """What a refined step says beside the coarser one: a verdict, or None to refine on."""
    steady = prev.gap / 2 < step.gap < 2 * prev.gap  # neither shrinks nor grows (a pole)
    if step.evidence > prev.evidence / 8 and steady and step.gap > JUMP_ULPS * step.noise * step.h:
        return Verdict("kink", step=step.h, why=f"the function jumps by {step.gap:.3g} here")
    if step.evidence > REFINE * prev.evidence:  # round-off took over: the coarser step was better
        if prev.evidence <= 1e-2 * step.slopes:
            return Verdict("smooth", prev.numeric, prev.noise + prev.evidence, prev.h)
        if step.evidence <= JUMP_ULPS * step.noise:
            return _unresolved(step.h)
        return None  # ...or, far above round-off, the steps still straddle a pole: refine on
    # the slopes' disagreement does not shrink, and the slopes themselves stay (a pole's
    # change with the step): a jump of the slope
    if step.evidence > prev.evidence / 8 and prev.slopes / 4 <= step.slopes <= 4 * prev.slopes:
        return Verdict("kink", step=step.h, why=f"one-sided slopes differ by {abs(step.r):.3g}")
    return None


def differentiate(
    f_at: Callable[[float], float], f0: float, magnitude: float, eps: float, atol: float
) -> Verdict:
    """The derivative of t -> f_at(t) at t = 0 (f_at(0) = f0), or why there is none.

    At each step h (eps, then eps/16, ...; at most ``MAX_REFINE`` times) four values
    f(±h), f(±h/2) give the central differences c(h), c(h/2) and the one-sided gaps
    d(t) = (f(t) - 2 f0 + f(-t)) / t. On a smooth function

        c(h) - c(h/2)     = h^2 f'''/8 + O(h^4)       (truncation of c(h), up to 3/4)
        r = d(h) - 2 d(h/2) = h^3 f''''/16 + O(h^5)

    both vanish quickly with h, and Richardson's (4 c(h/2) - c(h)) / 3 = f' + O(h^4) is the
    estimate. A kink (a jump J of the slope at the point) gives r = -J at every step, and a
    kink within (0, h) makes c(h) - c(h/2) up to J/4, until h is smaller than its distance.
    So: the evidence e = max(|c(h) - c(h/2)|, |r|) is compared with ``KINK_RTOL`` times the
    slopes (plus round-off, u |f| / h, and ``atol``); below it the function is smooth at
    this step; above it the step is refined, and a kink is declared only when e does not
    shrink while the slopes stay (a smooth function's evidence shrinks 256-fold per
    refinement, a jump's stays).

    A function that itself jumps by J at the point (bprop of ReLU at 0, as the forward-mode
    check differentiates it) keeps |f(h) - f(-h)| near J at every step, where a smooth one's
    shrinks with h, a pole's grows and round-off stays within a few ulps: that is a kink
    too. Evidence that grows far above round-off, or slopes that change with the step, mean
    a pole within the step (the gradient -1/f of -log f, for f below the step): the step is
    refined. Evidence that grows to round-off level as h shrinks: the previous step is used,
    its evidence counted in the allowance. A step that leaves the domain (a non-finite
    value) is refined too.
    """
    h = eps
    prev: _Step | None = None
    refinements = 0
    while refinements <= MAX_REFINE:
        values = (f_at(h), f_at(-h), f_at(h / 2), f_at(-h / 2))
        if all(np.isfinite(values)) and len(set(values)) == 1 and values[0] != f0:
            # the same value on both sides, another at the point itself: a point apart, as
            # where a tie is broken (max over equal values sends its gradient to the first)
            why = f"the value at the point ({f0:.3g}) is not its neighbours' ({values[0]:.3g})"
            return Verdict("kink", step=h, why=why)
        if _off_the_domain(f0, values):
            # smaller steps may stay on the point's side. The boundary may be far closer than
            # eps / 16^MAX_REFINE (a softmax probability of 1e-21), so these steps shrink
            # faster and are not counted, down to a step below which no difference of
            # float64 values means anything.
            prev = None
            if h < DOMAIN_FLOOR * max(1.0, magnitude):
                break
            h /= DOMAIN_SHRINK
            continue
        refinements += 1
        step = _step(h, f0, *values, magnitude)
        if step.evidence <= KINK_RTOL * step.slopes + step.noise + atol:
            return Verdict("smooth", step.numeric, step.noise + 1e-3 * step.evidence, h)
        verdict = None if prev is None else _refined(prev, step)
        if verdict is not None:
            return verdict
        prev = step
        h /= REFINE
    return _unresolved(h)


def _along(x: np.ndarray, d: Any, f: Callable[[], float]) -> Callable[[float], float]:
    """t -> f at x + t d (d an element's flat position, or a direction), x put back after."""
    if isinstance(d, int):  # one element
        flat_x = x.reshape(-1)  # a view: x is float64 and contiguous (made so by the callers)
        old = flat_x[d]

        def at_element(t: float) -> float:
            flat_x[d] = old + t
            try:
                return f()
            finally:
                flat_x[d] = old

        return at_element
    start = x.copy()

    def along_direction(t: float) -> float:
        np.add(start, t * d, out=x)
        try:
            return f()
        finally:
            x[...] = start

    return along_direction


def _label(label: Any) -> Any:
    return tuple(int(i) for i in label) if isinstance(label, tuple) else label


def _record(check: InputCheck, label: Any, a: float, v: Verdict, settings: Settings) -> float:
    """Count the verdict ``v`` on the analytic value ``a`` into ``check``; returns its error
    relative to its tolerance (-1 for a kink or an unresolved element)."""
    if v.kind == "kink":
        check.n_kinks += 1
        return -1.0
    if v.kind == "unresolved":
        check.n_failed += 1
        check.note = v.why
        if check.worst is None:
            check.worst, check.analytic, check.numeric = _label(label), a, float("nan")
        return -1.0
    n = v.numeric
    abs_err = abs(a - n)
    scale = max(abs(a), abs(n))
    rel_err = abs_err / scale if scale > 0 else 0.0
    tol = settings.atol + settings.rtol * scale + v.allowance
    if not np.isfinite(n) or abs_err > tol:
        check.n_failed += 1
    check.max_abs_err = max(check.max_abs_err, abs_err)
    check.max_rel_err = max(check.max_rel_err, rel_err)
    return abs_err / tol


def compare(
    name: str,
    x: np.ndarray,
    analytic: np.ndarray,
    f: Callable[[], float],
    rng: np.random.Generator,
    settings: Settings,
    magnitude: float = 0.0,
) -> InputCheck:
    """Perturb ``x`` in place (restoring it) and compare f's derivatives with ``analytic``,
    along each of :func:`directions`; the worst element is the one furthest out of its
    tolerance.

    ``magnitude`` bounds the size of the terms f sums (for round-off), when |f| may be
    smaller than them by cancellation.
    """
    check = InputCheck(name=name, shape=tuple(x.shape))

    def quiet() -> float:  # x +- eps may leave the domain (log of a tiny probability): no warning
        with np.errstate(all="ignore"):
            return f()

    f0 = quiet()
    worst_score = -1.0
    for label, d in directions(x.shape, rng, settings):
        if isinstance(d, int):
            a = float(analytic.reshape(-1)[d])
        else:
            a = float(np.vdot(analytic, d))
        check.n_checked += 1
        if not np.isfinite(f0):
            v = Verdict("unresolved", why=f"the function is not finite at the point ({f0})")
        else:
            v = differentiate(_along(x, d, quiet), f0, magnitude, settings.eps, settings.atol)
        score = _record(check, label, a, v, settings)
        if v.kind == "smooth" and score > worst_score:
            worst_score = score
            check.worst, check.analytic, check.numeric = _label(label), a, v.numeric
    return check


def as_float64(v: Any) -> Any:
    """A float64, C-contiguous copy of a floating array (or a Python float); anything else
    (integer labels, constants) as it is."""
    if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
        return np.array(v, dtype=np.float64, copy=True, order="C")
    if isinstance(v, float):
        return np.array(v, dtype=np.float64)
    return v


def is_float(v: Any) -> bool:
    """Whether ``v`` is a floating array: an input whose gradient is checked."""
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)


def projection(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """R, the weights of L = sum(R ⊙ output) that reduce a box's output to a scalar: 1 for a
    scalar output, else Gaussian (non-uniform and of both signs, so no error can hide)."""
    if shape == ():
        return np.array(1.0)
    return rng.standard_normal(shape)
