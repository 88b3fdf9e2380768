"""Gradient checking by central finite differences, with a report that says where and why.

For an input x of a box (or a parameter of a graph) and a scalar function L of it, the
numerical derivative along a direction d is the lecture's central difference

    dL/dx . d  ~  (L(x + eps d) - L(x - eps d)) / (2 eps)

computed in float64. ``d`` runs over every element (d = e_i) of small tensors; for large ones
it runs over a few sampled elements and a few random Gaussian directions (not all-positive,
so errors of opposite sign cannot cancel). A box with a non-scalar output is reduced to a
scalar by a random non-uniform projection L = sum(R ⊙ output), whose gradient R is what
bprop receives.

The derivative is estimated by Richardson's extrapolation (4 c(eps/2) - c(eps)) / 3 of the
central differences c(h), exact to O(eps^4), and compared with the analytic value within
atol + rtol |value| plus the differences' round-off (which grows as 1/eps).

An element is a *kink*, reported apart and neither passed nor failed, only on evidence that
the function is not differentiable there (ReLU or |W| at 0): its one-sided slopes disagree
by an amount that does not shrink as the step does (eps, eps/16, ...), where a smooth
function's disagreement shrinks with the step. Where the function merely curves steeply
within eps (-log f for a probability f near eps), or x +- eps leaves its domain, the step is
refined until the derivative is resolved; what cannot be resolved is a failure, never a kink.

The Graph does not call ``bprop`` but ``bprop_needed`` (skipping inputs that need no gradient,
returning a rank-1 gradient as an ``Outer``): ``check_box`` holds every pattern of ``needs``
at the sample's batch and at a batch of one example to ``bprop``, and ``check_graph``
re-checks each box on the path the Graph took.

A box's forward-mode rules (``fprop_jvp``, ``bprop_jvp``: the directional derivatives of fprop
and bprop) are checked too, at the same inputs, by :func:`flowgraph.check_jvp`: one random
tangent, every element of R{out} and of each R{grad_x} against central differences, an element
that fails judged again by the same differentiation as above (kinks apart).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .core import Box, Outer
from .errors import FeedError

if TYPE_CHECKING:  # pragma: no cover
    from .core.forward import JVPReport

__all__ = [
    "InputCheck",
    "PathCheck",
    "BoxReport",
    "GraphReport",
    "check_box",
    "check_graph",
    "all_box_classes",
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
MAX_PATTERN_INPUTS = 6  # every pattern of needs for up to this many inputs (2^6 - 1 = 63)
PATH_RTOL = 1e-9  # a fast path equals bprop up to summation order: relative to its largest


@dataclass
class InputCheck:
    """The comparison for one input of a box, or one parameter of a graph.

    ``max_abs_err`` and ``max_rel_err`` are over the checked elements and directions, kinks
    excluded; ``worst`` names the worst one (an index tuple, or ``"direction k"``) with its
    ``analytic`` and ``numeric`` values. ``note`` says what else went wrong (a gradient of the
    wrong shape, no gradient at all, inputs overwritten).
    """

    name: str
    shape: tuple[int, ...]
    n_checked: int = 0
    n_failed: int = 0
    n_kinks: int = 0
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    worst: Any = None
    analytic: float = float("nan")
    numeric: float = float("nan")
    no_gradient: bool = False
    note: str = ""
    broken: bool = False  # wrong shape, missing or non-finite gradient: fails outright

    @property
    def ok(self) -> bool:
        return not self.broken and self.n_failed == 0

    @property
    def status(self) -> str:
        if not self.ok:
            return "FAIL"
        return "KINK" if self.n_kinks else "PASS"

    def line(self) -> str:
        return _row(self, self.name)


@dataclass
class PathCheck:
    """``bprop_needed(inputs, output, grad_output, needs)`` held to ``bprop`` for one pattern
    of ``needs`` at one batch size ``n`` (None: the inputs have no batch dimension).

    Where ``needs`` is True the path must give the gradient bprop gives (an :class:`Outer`
    is materialised first); only where it is False may it give None. ``problems`` lists
    (input name, what is wrong); empty when the path is right.
    """

    needs: tuple[bool, ...]
    n: int | None
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        pattern = "".join("T" if k else "F" for k in self.needs)
        where = "" if self.n is None else f" at N={self.n}"
        what = "; ".join(f"{name}: {msg}" for name, msg in self.problems) or "equals bprop"
        return f"bprop_needed(needs={pattern}){where}: {what}"


def _header(what: str = "input", width: int = 10) -> str:
    """The header of the rows :func:`_row` writes."""
    return f"{what:<{width}} {'shape':<12} {'max abs':>9} {'max rel':>9}  {'elements':<26} status"


def _row(check: Any, label: str, width: int = 10, *, counted: bool = True) -> str:
    """One row of a report's table, for an :class:`InputCheck` or a
    :class:`~flowgraph.core.forward.JVPCheck` (``counted=False``: a row without figures)."""
    note = f"  [{check.note}]" if check.note else ""
    if not counted:
        return f"{label:<{width}} {'':<12} {'':>9} {'':>9}  {'':<26} {check.status}{note}"
    worst = (
        ""
        if check.worst is None
        else f"  worst {check.worst}: analytic {check.analytic:.6g}, numeric {check.numeric:.6g}"
    )
    counts = f"{check.n_failed}/{check.n_checked} failed"
    if check.n_kinks:
        counts += f", {check.n_kinks} at kinks"
    return (
        f"{label:<{width}} {str(check.shape):<12} {check.max_abs_err:9.2e} "
        f"{check.max_rel_err:9.2e}  {counts:<26} {check.status}{worst}{note}"
    )


@dataclass
class BoxReport:
    """What ``check_box`` found for each differentiable input of one box, for each path of
    ``bprop_needed`` (``paths``) held to ``bprop``, and for its forward-mode rules (``jvp``,
    a :class:`~flowgraph.core.forward.JVPReport` from :func:`~flowgraph.check_jvp`; None when they
    were not checked, ``jvp_note`` then says why, or is empty when ``jvp=False`` said so)."""

    box: str
    inputs: list[InputCheck]
    node: str | None = None
    paths: list[PathCheck] = field(default_factory=list)
    jvp: JVPReport | None = None
    jvp_note: str = ""

    @property
    def ok(self) -> bool:
        return (
            all(c.ok for c in self.inputs)
            and all(p.ok for p in self.paths)
            and (self.jvp is None or self.jvp.ok)
        )

    @property
    def status(self) -> str:
        """'fail', 'kink' (passes except at non-differentiable points) or 'pass'."""
        if not self.ok:
            return "fail"
        kinks = any(c.n_kinks for c in self.inputs)
        return "kink" if kinks or (self.jvp is not None and self.jvp.status == "kink") else "pass"

    @property
    def max_rel_err(self) -> float:
        """The gradients' worst relative error (the rules' is ``jvp.max_rel_err``)."""
        return max((c.max_rel_err for c in self.inputs), default=0.0)

    @property
    def failing_inputs(self) -> list[str]:
        """Inputs with a wrong gradient, from bprop or from a path of bprop_needed."""
        names = [c.name for c in self.inputs if not c.ok]
        for p in self.paths:
            names += [name for name, _ in p.problems if name not in names]
        return names

    @property
    def failing_rules(self) -> list[str]:
        """Forward-mode rules that are wrong, as check_jvp names them (``'fprop_jvp'``,
        ``'bprop_jvp: grad_a'``)."""
        return [] if self.jvp is None else self.jvp.failing

    @property
    def failing(self) -> list[str]:
        """Everything wrong: the inputs with a wrong gradient, then the wrong forward-mode
        rules."""
        return self.failing_inputs + self.failing_rules

    @property
    def failing_paths(self) -> list[PathCheck]:
        return [p for p in self.paths if not p.ok]

    def title(self) -> str:
        where = f" at node '{self.node}'" if self.node else ""
        wrong = []
        if self.failing_inputs:
            wrong.append(f"wrong gradient for: {', '.join(self.failing_inputs)}")
        if self.failing_rules:
            wrong.append(f"wrong forward-mode rule: {', '.join(self.failing_rules)}")
        failing = f" ({'; '.join(wrong)})" if wrong else ""
        return f"{self.box}{where}: {self.status.upper()}{failing}"

    def jvp_lines(self) -> list[str]:
        """The forward-mode rules' part of the table: a title and one row per rule, or one
        line saying there are none; nothing when they were not asked for."""
        from .core.forward import rules_header

        if self.jvp is None:
            if not self.jvp_note:
                return []
            return [f"forward-mode rules (fprop_jvp, bprop_jvp): {self.jvp_note}"]
        return [
            f"forward-mode rules (fprop_jvp, bprop_jvp) along a random tangent: "
            f"{self.jvp.verdict()}",
            "  " + rules_header(),
        ] + ["  " + c.line() for c in self.jvp.checks]

    def __str__(self) -> str:
        if not self.inputs and not self.paths:
            return f"{self.title()}\n  no floating-point input: nothing was checked"
        lines = [self.title(), "  " + _header()] + ["  " + c.line() for c in self.inputs]
        if self.paths:
            bad = self.failing_paths
            sizes = sorted({p.n for p in self.paths if p.n is not None})
            at = f" at N = {', '.join(map(str, sizes))}" if sizes else ""
            lines.append(
                f"  paths the Graph takes (bprop_needed){at}: {len(self.paths) - len(bad)} of "
                f"{len(self.paths)} equal bprop"
            )
            lines += ["    " + p.line() for p in bad]
        lines += ["  " + line for line in self.jvp_lines()]
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class GraphReport:
    """What ``check_graph`` found: every parameter end to end, and every box on its own.

    ``first_failing_box`` names the first node in fprop order whose box fails its own check
    with the values recorded in the graph (its bprop, a path of bprop_needed, or one of its
    forward-mode rules): where to look first.
    """

    output: str
    parameters: list[InputCheck]
    boxes: dict[str, BoxReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.parameters) and all(b.ok for b in self.boxes.values())

    @property
    def first_failing_box(self) -> str | None:
        for name, rep in self.boxes.items():
            if not rep.ok:
                return name
        return None

    @property
    def no_gradient(self) -> list[str]:
        return [c.name for c in self.parameters if c.no_gradient]

    def __str__(self) -> str:
        lines = [
            f"gradient of '{self.output}' with respect to each parameter: "
            f"{'PASS' if all(c.ok for c in self.parameters) else 'FAIL'}",
            "  " + _header("parameter"),
        ]
        lines += ["  " + c.line() for c in self.parameters]
        if self.no_gradient:
            lines.append(f"  parameters that get no gradient at all: {', '.join(self.no_gradient)}")
        if self.boxes:
            lines.append("each box with the values recorded in the graph:")
            for name, rep in self.boxes.items():
                mark = rep.status.upper()
                extra = ""
                if rep.failing_inputs:
                    extra += f"  failing input(s): {', '.join(rep.failing_inputs)}"
                if rep.failing_rules:
                    extra += f"  wrong forward-mode rule(s): {', '.join(rep.failing_rules)}"
                lines.append(
                    f"  {name:<14} {rep.box:<20} {mark:<5} max rel {rep.max_rel_err:.2e}{extra}"
                )
            first = self.first_failing_box
            if first:
                lines.append(f"first failing box: '{first}' ({self.boxes[first].box})")
                lines.append(str(self.boxes[first]))
            elif not self.ok:
                lines.append(
                    "every box passes on its own, yet the end-to-end gradient is wrong: the "
                    "Graph's accumulation, or a parameter shared in an unexpected way"
                )
        return "\n".join(lines)

    def __bool__(self) -> bool:
        return self.ok


# -- the finite-difference core --------------------------------------------------------------


def _directions(shape, rng, max_elements, n_samples, n_directions):
    """Yield (label, direction) pairs: every element, or samples plus Gaussian directions."""
    size = int(np.prod(shape))
    if size <= max_elements:
        for flat in range(size):
            yield np.unravel_index(flat, shape), flat
    else:
        for flat in rng.choice(size, size=min(n_samples, size), replace=False):
            yield np.unravel_index(int(flat), shape), int(flat)
        for k in range(n_directions):
            # unit length, so that the step along it is eps whatever the tensor's size
            d = rng.standard_normal(shape)
            yield f"direction {k}", d / np.linalg.norm(d)


@dataclass
class _Verdict:
    """What the differences along one direction say: ``kind`` is 'smooth' (``numeric`` is
    then the derivative, known to within ``allowance``), 'kink' or 'unresolved'."""

    kind: str
    numeric: float = float("nan")
    allowance: float = 0.0
    step: float = 0.0
    why: str = ""


def _differentiate(
    f_at: Callable[[float], float], f0: float, magnitude: float, eps: float, atol: float
) -> _Verdict:
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
    # (evidence, numeric, h, noise, |f(h) - f(-h)|, slopes)
    prev: tuple[float, float, float, float, float, float] | None = None
    refinements = 0
    while refinements <= MAX_REFINE:
        fp, fm = f_at(h), f_at(-h)
        fp2, fm2 = f_at(h / 2), f_at(-h / 2)
        outside = not all(np.isfinite(v) for v in (fp, fm, fp2, fm2))
        # f(0) towering over all four neighbours: a pole (or a spike) lies within the step,
        # as -1/f does for f = 1e-21 and a step of 1e-6; no estimate exists at this step
        straddles = not outside and max(abs(fp), abs(fm), abs(fp2), abs(fm2)) < 0.1 * abs(f0)
        if outside or straddles:
            # out of the domain at this step (log f with f below it), or across a pole:
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
        c1, c2 = (fp - fm) / (2 * h), (fp2 - fm2) / h
        r = (fp - 2 * f0 + fm) / h - 2 * (fp2 - 2 * f0 + fm2) / (h / 2)
        numeric = (4 * c2 - c1) / 3
        slopes = max(max(abs(fp - f0), abs(f0 - fm)) / h, 2 * max(abs(fp2 - f0), abs(f0 - fm2)) / h)
        scale = max(abs(f0), abs(fp), abs(fm), magnitude)
        noise = ROUNDOFF * np.finfo(np.float64).eps * scale / h
        evidence = max(abs(c1 - c2), abs(r))
        if evidence <= KINK_RTOL * slopes + noise + atol:
            return _Verdict("smooth", numeric, noise + 1e-3 * evidence, h)
        gap = abs(fp - fm)
        if prev is not None:
            e_prev, n_prev, h_prev, noise_prev, gap_prev, slopes_prev = prev
            steady = gap_prev / 2 < gap < 2 * gap_prev  # neither shrinks nor grows (a pole)
            if evidence > e_prev / 8 and steady and gap > JUMP_ULPS * noise * h:
                return _Verdict("kink", step=h, why=f"the function jumps by {gap:.3g} here")
            if evidence > REFINE * e_prev:  # round-off took over: the coarser step was better
                if e_prev <= 1e-2 * slopes:
                    return _Verdict("smooth", n_prev, noise_prev + e_prev, h_prev)
                if evidence <= JUMP_ULPS * noise:
                    break
                # ...or, far above round-off, the steps still straddle a pole: refine on
                prev = (evidence, numeric, h, noise, gap, slopes)
                h /= REFINE
                continue
            # the slopes' disagreement does not shrink, and the slopes themselves stay (a
            # pole's change with the step): a jump of the slope
            if evidence > e_prev / 8 and slopes_prev / 4 <= slopes <= 4 * slopes_prev:
                return _Verdict("kink", step=h, why=f"one-sided slopes differ by {abs(r):.3g}")
        prev = (evidence, numeric, h, noise, gap, slopes)
        h /= REFINE
    return _Verdict(
        "unresolved",
        step=h,
        why="finite differences could not resolve the derivative here (the function leaves "
        "its domain or curves too steeply within the step); try a smaller eps",
    )


def _compare(
    name: str,
    x: np.ndarray,
    analytic: np.ndarray,
    f: Callable[[], float],
    rng: np.random.Generator,
    *,
    eps: float,
    rtol: float,
    atol: float,
    max_elements: int,
    n_samples: int,
    n_directions: int,
    magnitude: float = 0.0,
) -> InputCheck:
    """Perturb ``x`` in place (restoring it) and compare f's derivatives with ``analytic``.

    ``magnitude`` bounds the size of the terms f sums (for round-off), when |f| may be
    smaller than them by cancellation.
    """
    check = InputCheck(name=name, shape=tuple(x.shape))
    flat_x = x.reshape(-1)  # a view: x is float64 and contiguous (made so by the callers)
    loss = f

    def f() -> float:  # x +- eps may leave the domain (log of a tiny probability): no warning
        with np.errstate(all="ignore"):
            return loss()

    f0 = f()
    worst_score = -1.0
    unresolved = ""
    for label, d in _directions(x.shape, rng, max_elements, n_samples, n_directions):
        if isinstance(d, int):  # one element
            old = flat_x[d]

            def f_at(t: float, d=d, old=old) -> float:
                flat_x[d] = old + t
                try:
                    return f()
                finally:
                    flat_x[d] = old

            a = float(analytic.reshape(-1)[d])
        else:  # a random direction
            old = x.copy()

            def f_at(t: float, d=d, old=old) -> float:
                np.add(old, t * d, out=x)
                try:
                    return f()
                finally:
                    x[...] = old

            a = float(np.vdot(analytic, d))
        check.n_checked += 1
        if not np.isfinite(f0):
            v = _Verdict("unresolved", why=f"the function is not finite at the point ({f0})")
        else:
            v = _differentiate(f_at, f0, magnitude, eps, atol)
        if v.kind == "kink":
            check.n_kinks += 1
            continue
        if v.kind == "unresolved":
            check.n_failed += 1
            unresolved = v.why
            if check.worst is None:
                check.worst = tuple(int(i) for i in label) if isinstance(label, tuple) else label
                check.analytic, check.numeric = a, float("nan")
            continue
        n = v.numeric
        abs_err = abs(a - n)
        scale = max(abs(a), abs(n))
        rel_err = abs_err / scale if scale > 0 else 0.0
        tol = atol + rtol * scale + v.allowance
        failed = not np.isfinite(n) or abs_err > tol
        if failed:
            check.n_failed += 1
        score = abs_err / tol
        if score > worst_score:
            worst_score = score
            check.worst = tuple(int(i) for i in label) if isinstance(label, tuple) else label
            check.analytic, check.numeric = a, n
        check.max_abs_err = max(check.max_abs_err, abs_err)
        check.max_rel_err = max(check.max_rel_err, rel_err)
    if unresolved:
        check.note = unresolved
    return check


def _as_float64(v: Any) -> Any:
    if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating):
        return np.array(v, dtype=np.float64, copy=True, order="C")
    if isinstance(v, float):
        return np.array(v, dtype=np.float64)
    return v


def _is_float(v: Any) -> bool:
    return isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)


def _projection(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if shape == ():
        return np.array(1.0)
    # Gaussian weights: non-uniform and of both signs
    return rng.standard_normal(shape)


def _needs_patterns(differentiable: Sequence[bool]) -> list[tuple[bool, ...]]:
    """The patterns of ``needs`` the Graph may pass: a gradient wanted for any non-empty
    subset of the differentiable inputs (never for labels). Every subset for up to
    ``MAX_PATTERN_INPUTS`` of them; beyond, all, each alone and all but each."""
    idx = [i for i, d in enumerate(differentiable) if d]
    k = len(idx)
    subsets: list[tuple[int, ...]]
    if k <= MAX_PATTERN_INPUTS:
        subsets = [tuple(i for j, i in enumerate(idx) if mask >> j & 1) for mask in range(1, 2**k)]
    else:
        subsets = [tuple(idx)] + [(i,) for i in idx]
        subsets += [tuple(j for j in idx if j != i) for i in idx]
    patterns = []
    for s in subsets:
        p = tuple(i in s for i in range(len(differentiable)))
        if p not in patterns:
            patterns.append(p)
    return patterns


def _close(got: np.ndarray, ref: np.ndarray) -> tuple[bool, float]:
    """Equal up to the round-off of summing in another order; returns (ok, max abs diff)."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: not equal, no warning
        diff = float(np.max(np.abs(got - ref))) if got.size else 0.0
    bound = PATH_RTOL * (float(np.max(np.abs(ref))) if ref.size else 0.0)
    return bool(diff <= bound or np.array_equal(got, ref)), diff


def _check_path(
    box: Box,
    xs: list[Any],
    out: Any,
    G: np.ndarray,
    ref: Sequence[Any],
    needs: tuple[bool, ...],
    n: int | None,
) -> PathCheck:
    """Run ``bprop_needed`` with ``needs`` as the Graph would and compare it with ``ref``,
    bprop's gradients at the same inputs and output gradient."""
    check = PathCheck(needs=needs, n=n)
    snapshot = [np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in xs]
    try:
        got = box.bprop_needed(list(xs), out, G.copy(), needs)
    except Exception as e:  # the Graph would stop here: a failure of this path
        check.problems.append(("(all)", f"raised {type(e).__name__}: {e}"))
        return check
    for i, (x, s) in enumerate(zip(xs, snapshot)):
        if isinstance(x, np.ndarray) and not np.array_equal(x, s, equal_nan=True):
            check.problems.append((box.input_name(i), "bprop_needed wrote into this input"))
            x[...] = s
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    if len(got) != len(xs):
        check.problems.append(("(all)", f"returned {len(got)} gradients for {len(xs)} inputs"))
        return check
    for i, (x, g, r, need) in enumerate(zip(xs, got, ref, needs)):
        if not need or r is None:  # skipped, or no gradient in bprop either (labels)
            continue
        name = box.input_name(i)
        if g is None:
            check.problems.append((name, "None although needs is True (bprop gives one)"))
            continue
        if isinstance(g, Outer):
            if g.shape != np.shape(x):
                check.problems.append(
                    (name, f"Outer factors of shape {g.shape}, expected {np.shape(x)}")
                )
                continue
            g = g.materialize()
        g = np.asarray(g, dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if g.shape != r.shape:
            check.problems.append((name, f"gradient of shape {g.shape}, bprop's is {r.shape}"))
            continue
        ok, diff = _close(g, r)
        if not ok:
            rel = diff / max(float(np.max(np.abs(r))), np.finfo(np.float64).tiny)
            check.problems.append(
                (
                    name,
                    f"differs from bprop's by up to {diff:.3g} "
                    f"(relative to its largest: {rel:.2g})",
                )
            )
    return check


def _batch_of_one(box: Box, xs: list[Any], rng: np.random.Generator, sampled: bool) -> list | None:
    """Inputs with a batch of one example, for the N = 1 fast paths, or None when the inputs
    have no batch dimension (or already hold one example).

    A box whose ``sample_inputs`` takes ``n`` is asked for ``sample_inputs(rng, n=1)`` (when
    the inputs were sampled); else the first row is kept of every input whose leading
    dimension is the first input's N > 1, and that must make a valid input for fprop (with an
    output whose own leading N, if it had one, becomes 1).
    """
    first = next((x for x in xs if isinstance(x, np.ndarray) and x.ndim >= 1), None)
    if first is None or first.shape[0] <= 1:
        return None
    N = first.shape[0]
    if sampled:
        try:
            params = inspect.signature(box.sample_inputs).parameters
        except (TypeError, ValueError):  # pragma: no cover - builtins only
            params = {}
        if "n" in params:
            return [_as_float64(np.asarray(v)) for v in box.sample_inputs(rng, n=1)]
    one = [
        np.array(x[:1], copy=True)
        if isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[0] == N
        else x
        for x in xs
    ]
    try:
        with np.errstate(all="ignore"):
            out_n = np.shape(box.fprop(*xs))
            out_1 = np.shape(box.fprop(*one))
    except Exception:  # not batch-first after all: no N = 1 sample to make
        return None
    if out_n and out_n[0] == N and out_1[:1] != (1,):
        return None
    return one


def _check_paths(
    box: Box,
    samples: list[tuple[list[Any], Any, np.ndarray, Sequence[Any]]],
    needs: Sequence[bool] | None,
) -> list[PathCheck]:
    """Every pattern of needs (or the one given) at every sample (inputs, output, grad_output,
    bprop's gradients)."""
    checks = []
    for xs, out, G, ref in samples:
        n = xs[0].shape[0] if isinstance(xs[0], np.ndarray) and xs[0].ndim >= 1 else None
        if needs is not None:
            patterns = [tuple(bool(k) for k in needs)]
        else:
            patterns = _needs_patterns([_is_float(x) for x in xs])
        for p in patterns:
            checks.append(_check_path(box, xs, out, G, ref, p, n))
    return checks


def check_box(
    box: Box,
    inputs: Sequence[Any] | None = None,
    *,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    seed: int | np.random.Generator = 0,
    max_elements: int = MAX_ELEMENTS,
    n_samples: int = N_SAMPLES,
    n_directions: int = N_DIRECTIONS,
    node: str | None = None,
    needs: Sequence[bool] | None = None,
    paths: bool = True,
    jvp: bool = True,
) -> BoxReport:
    """Compare ``box.bprop`` with central differences of ``box.fprop``, input by input, hold
    every path the Graph may take, ``box.bprop_needed``, to ``bprop``, and check the box's
    forward-mode rules ``fprop_jvp`` and ``bprop_jvp`` when it has them.

    ``inputs`` default to ``box.sample_inputs(rng)``. Floating inputs are checked (in
    float64); integer inputs (labels) are held fixed. The paths checked are every pattern of
    ``needs`` over the floating inputs, on these inputs and on a batch of one example cut
    from them (or ``box.sample_inputs(rng, n=1)`` where the box takes ``n``); given
    ``needs`` (as ``check_graph`` does, with the Graph's own), only that pattern on these
    inputs; ``paths=False``: none. The forward-mode rules are checked at the same inputs by
    :func:`flowgraph.check_jvp` (along one random tangent, element by element, kinks apart),
    whenever ``box.has_jvp()``; bprop_jvp only when bprop is right, as it is bprop's
    derivative. Returns a :class:`BoxReport`; ``print(report)`` shows a table, ``report.ok``
    the verdict, ``report.failing`` what is wrong.

    Parameters
    ----------
    box
        Any :class:`~flowgraph.Box`, the package's or your own.
    inputs
        The children's values to check at; default ``box.sample_inputs(rng)``.
    eps
        The finite-difference step.
    rtol, atol
        An element passes when |analytic - numeric| <= atol + rtol |numeric|.
    seed
        Seed (or generator) of the sampled inputs, elements, directions and projection R.
    max_elements, n_samples, n_directions
        Inputs of at most ``max_elements`` elements are checked element by element; larger
        ones at ``n_samples`` sampled elements and along ``n_directions`` random directions.
    node
        The node's name, for the report's title (:func:`check_graph` sets it).
    needs
        Which inputs' gradients the Graph asks ``bprop_needed`` for (see above).
    paths
        Check the ``bprop_needed`` paths as well as ``bprop``.
    jvp
        Check the forward-mode rules (``fprop_jvp``, ``bprop_jvp``) against central
        differences of ``fprop`` and ``bprop`` when the box defines them (for a
        :class:`~flowgraph.Block`: when all its inner boxes do); a box without them is not
        a failure, its report says it has none. ``jvp=False``: skip them (``report.jvp`` is
        None).

    Returns
    -------
    BoxReport
        One :class:`InputCheck` per input (errors, the worst element, kinks), the paths,
        ``jvp`` (a :class:`~flowgraph.core.forward.JVPReport`, or None) and ``ok``.

    Examples
    --------
    >>> import numpy as np, flowgraph as fg
    >>> fg.check_box(fg.Tanh()).ok
    True
    >>> class BadTanh(fg.Tanh):  # forgets the factor 1 - h^2
    ...     def bprop(self, inputs, h, grad_h):
    ...         return (grad_h,)
    >>> report = fg.check_box(BadTanh(), [np.linspace(-1, 1, 6)])
    >>> report.ok, report.inputs[0].name
    (False, 'a')
    >>> class TwiceTanh(fg.Tanh):  # bprop is right, forward mode doubles R{h}
    ...     def fprop_jvp(self, inputs, tangents, h):
    ...         return 2 * (1 - h * h) * tangents[0]
    >>> report = fg.check_box(TwiceTanh())
    >>> report.ok, report.failing
    (False, ['fprop_jvp'])
    >>> print(report.title())
    TwiceTanh: FAIL (wrong forward-mode rule: fprop_jvp)
    >>> fg.check_box(TwiceTanh(), jvp=False).ok
    True
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    kind = type(box).__name__
    sampled = inputs is None
    if inputs is None:
        inputs = box.sample_inputs(rng)
    xs = [_as_float64(v if isinstance(v, np.ndarray) else np.asarray(v)) for v in inputs]
    box.check_arity(len(xs))
    if needs is not None and len(needs) != len(xs):
        raise ValueError(f"needs has {len(needs)} entries for the {len(xs)} inputs of {kind}")
    out = np.asarray(box.fprop(*xs))
    R = _projection(out.shape, rng)
    magnitude = float(np.vdot(np.abs(R), np.abs(out.astype(np.float64))))

    def L() -> float:
        return float(np.vdot(R, np.asarray(box.fprop(*xs), dtype=np.float64)))

    snapshot = [np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in xs]
    grads = box.bprop(xs, out, R.copy())
    notes_all = ""
    if any(
        isinstance(x, np.ndarray) and not np.array_equal(x, s, equal_nan=True)
        for x, s in zip(xs, snapshot)
    ):
        notes_all = "bprop wrote into its inputs"
        xs = [np.array(s, copy=True) if isinstance(s, np.ndarray) else s for s in snapshot]
    grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)

    checks: list[InputCheck] = []
    if len(grads) != len(xs):
        checks.append(
            InputCheck(
                name="(all)",
                shape=(),
                broken=True,
                note=f"bprop returned {len(grads)} gradients for {len(xs)} inputs",
            )
        )
        return BoxReport(kind, checks, node)
    path_checks: list[PathCheck] = []
    if paths:
        samples = [(xs, out, R, grads)]
        one = _batch_of_one(box, xs, rng, sampled) if needs is None else None
        failed_one = None
        if one is not None:
            out1 = np.asarray(box.fprop(*one))
            R1 = _projection(out1.shape, rng)
            try:
                grads1 = box.bprop(one, out1, R1.copy())
            except Exception as e:  # the Graph would stop on a batch of one: a failure
                failed_one = PathCheck(tuple(_is_float(x) for x in one), 1)
                failed_one.problems.append(("(all)", f"bprop raised {type(e).__name__}: {e}"))
            else:
                grads1 = tuple(grads1) if isinstance(grads1, (tuple, list)) else (grads1,)
                if len(grads1) == len(one):
                    samples.append((one, out1, R1, grads1))
        path_checks = _check_paths(box, samples, needs)
        if failed_one is not None:
            path_checks.append(failed_one)
    options = dict(
        eps=eps,
        rtol=rtol,
        atol=atol,
        max_elements=max_elements,
        n_samples=n_samples,
        n_directions=n_directions,
        magnitude=magnitude,
    )
    for i, (x, g) in enumerate(zip(xs, grads)):
        if not _is_float(x):
            continue
        name = box.input_name(i)
        if g is None:
            c = _compare(name, x, np.zeros_like(x), L, rng, **options)
            c.no_gradient = True
            c.note = "bprop returned None for a differentiable input"
            c.broken = c.n_failed > 0
            checks.append(c)
            continue
        g_arr = np.asarray(g, dtype=np.float64)
        if g_arr.shape != x.shape:
            checks.append(
                InputCheck(
                    name=name,
                    shape=tuple(x.shape),
                    broken=True,
                    note=f"gradient has shape {g_arr.shape}, expected {x.shape}",
                )
            )
            continue
        if not np.all(np.isfinite(g_arr)):
            checks.append(
                InputCheck(
                    name=name,
                    shape=tuple(x.shape),
                    broken=True,
                    note=f"gradient holds {int((~np.isfinite(g_arr)).sum())} non-finite values",
                )
            )
            continue
        c = _compare(name, x, g_arr, L, rng, **options)
        if notes_all:
            c.note, c.broken = notes_all, True
        checks.append(c)
    report = BoxReport(kind, checks, node, path_checks)
    if jvp and any(_is_float(x) for x in xs):
        bprop_ok = all(c.ok for c in checks)
        report.jvp, report.jvp_note = _check_rules(box, xs, rng, eps, rtol, atol, bprop_ok)
    return report


def _check_rules(
    box: Box,
    xs: list[Any],
    rng: np.random.Generator,
    eps: float,
    rtol: float,
    atol: float,
    bprop_ok: bool,
) -> tuple[JVPReport | None, str]:
    """check_jvp at the checker's inputs, or why not: (report, "") or (None, note)."""
    from .core.forward import JVPCheck, JVPReport, check_jvp

    if not box.has_jvp():
        return None, "none (optional: Hessian-vector products then use finite differences)"
    try:
        rules = check_jvp(box, xs, rng=rng, eps=eps, rtol=rtol, atol=atol, bprop_jvp=bprop_ok)
    except Exception as e:  # fprop or bprop failing off the point: a finding, not a crash
        broken = JVPCheck("(rules)", (), broken=True, note=f"raised {type(e).__name__}: {e}")
        rules = JVPReport(type(box).__name__, [broken])
    return rules, ""


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
    from .core import Node

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out_node: Node = graph.resolve(output) if output is not None else graph.outputs[0]
    wrt_nodes = [graph.resolve(w) for w in wrt]
    originals = {p: p.value for p in graph.parameters}
    if not isinstance(feed, Mapping):
        raise FeedError(
            f"feed must map Input nodes (or their names) to arrays, got {type(feed).__name__}"
        )
    feed64 = {k: _as_float64(np.asarray(v)) for k, v in feed.items()}
    targets = list(graph.parameters) + [w for w in wrt_nodes if w not in graph.parameters]
    try:
        for p in graph.parameters:
            p.value = _as_float64(p.value)
        graph.fprop(feed64)
        R = _projection(np.shape(out_node.value), rng)
        magnitude = float(np.vdot(np.abs(R), np.abs(np.asarray(out_node.value, np.float64))))
        graph.bprop(wrt=wrt_nodes, output=out_node, grad_output=R.copy())
        analytic = {t: np.array(t.grad, dtype=np.float64) for t in targets}
        recorded = {n: [c.value for c in n.children] for n in graph.order if n.box is not None}
        # the path the Graph took at each box: bprop_needed with these needs (same targets
        # as bprop's: the parameters, then the inputs of wrt)
        extra = tuple(w for w in wrt_nodes if w not in graph.parameters)
        plan = graph.plan(out_node, tuple(graph.parameters) + extra)
        graph_needs = {id(n): needs for n, needs in plan}

        def L() -> float:  # wrt inputs are perturbed in place, inside feed64's arrays
            graph.fprop(feed64, check_finite=False)  # a step out of the domain is no error
            return float(np.vdot(R, np.asarray(out_node.value, dtype=np.float64)))

        inp_values: dict[Any, np.ndarray] = {}
        for inp in wrt_nodes:
            key = inp if inp in feed64 else inp.name
            inp_values[inp] = feed64[key]

        reached: set[int] = set()  # nodes the output depends on
        stack = [out_node]
        while stack:
            n = stack.pop()
            if id(n) not in reached:
                reached.add(id(n))
                stack.extend(n.children)

        params: list[InputCheck] = []
        for t in targets:
            x = t.value if t not in inp_values else inp_values[t]
            if analytic[t].shape != x.shape:  # broadcasting would hide it from _compare
                params.append(
                    InputCheck(
                        name=t.name,
                        shape=tuple(x.shape),
                        broken=True,
                        note=f"gradient has shape {analytic[t].shape}, expected {x.shape}",
                    )
                )
                continue
            c = _compare(
                t.name,
                x,
                analytic[t],
                L,
                rng,
                eps=eps,
                rtol=rtol,
                atol=atol,
                max_elements=max_elements,
                n_samples=n_samples,
                n_directions=n_directions,
                magnitude=magnitude,
            )
            if id(t) not in reached:
                c.no_gradient = True
                c.note = f"no gradient: '{out_node.name}' does not depend on it"
            params.append(c)
        report = GraphReport(output=out_node.name, parameters=params)
        if boxes or not all(c.ok for c in params):
            for n in graph.order:
                if n.box is not None:
                    report.boxes[n.name] = check_box(
                        n.box,
                        recorded[n],
                        eps=eps,
                        rtol=rtol,
                        atol=atol,
                        seed=rng,
                        max_elements=max_elements,
                        n_samples=n_samples,
                        n_directions=n_directions,
                        node=n.name,
                        needs=graph_needs.get(id(n)),
                        paths=id(n) in graph_needs,  # boxes bprop visits, as it visits them
                        jvp=jvp,
                    )
        return report
    finally:
        for p, v in originals.items():
            p.value = v
        try:
            graph.fprop(feed)
            if np.size(out_node.value) == 1:
                graph.bprop(wrt=wrt_nodes, output=out_node)
        except Exception:  # the user's state is back; a failure here is not the checker's
            pass


def all_box_classes() -> list[type[Box]]:
    """Every concrete Box subclass defined in the flowgraph package, in a stable order."""
    import importlib
    import pkgutil

    from . import boxes

    # import every family file of flowgraph/boxes, even one its __init__ forgets
    for info in pkgutil.iter_modules(boxes.__path__, boxes.__name__ + "."):
        importlib.import_module(info.name)

    found: dict[str, type[Box]] = {}
    stack = list(Box.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("flowgraph.") and not inspect.isabstract(cls):
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]
