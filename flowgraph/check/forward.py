"""``check_jvp``: a box's forward-mode rules against central differences of fprop and bprop.

A box's ``fprop_jvp`` gives R{out}, the directional derivative of its output along a tangent
t of its inputs u; its ``bprop_jvp`` gives R{grad_u}, the directional derivative of bprop's
gradients when the inputs move along t and the output gradient g along R{g} (the rules
:func:`flowgraph.jvp` and Hessian-vector products are built of). Both are held, element by
element, to the central difference along that line,

    R{F} ~ (F(u + eps t) - F(u - eps t)) / (2 eps)

and an element that fails is judged again as :func:`~flowgraph.check_box` judges one
(:func:`~flowgraph.check.differences.differentiate`: Richardson's estimate, smaller steps
where the function curves steeply, kinks reported apart).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import Box, JVPError
from .differences import ATOL, EPS, RTOL, as_float64, differentiate
from .report import JVPCheck, JVPReport

__all__ = ["check_jvp", "compare_arrays"]

MAX_REJUDGED = 1024  # elements of one rule re-examined with refined steps, worst first


class _Elements:
    """Every element of a rule's result (flat): ``a`` analytic, ``n`` numeric, the
    ``allowance`` a refined estimate brings, and whether it sits at a ``kink``."""

    def __init__(self, a: np.ndarray, n: np.ndarray, rtol: float, atol: float):
        self.a, self.n, self.rtol, self.atol = a, n, rtol, atol
        self.allowance = np.zeros(a.size)
        self.kink = np.zeros(a.size, dtype=bool)

    def errors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(|a - n|, max(|a|, |n|), the tolerance atol + rtol max(|a|, |n|) + allowance)."""
        with np.errstate(invalid="ignore"):
            abs_err = np.abs(self.a - self.n)
            scale = np.maximum(np.abs(self.a), np.abs(self.n))
        return abs_err, scale, self.atol + self.rtol * scale + self.allowance

    def failing_worst_first(self) -> np.ndarray:
        """The elements out of their tolerance (NaN, a step out of the domain, too), the
        furthest out first."""
        abs_err, _, tol = self.errors()
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~(abs_err <= tol))
            score = np.where(np.isfinite(abs_err[bad]), abs_err[bad] / tol[bad], np.inf)
        return bad[np.argsort(-score, kind="stable")]

    def rejudge(
        self, bad: np.ndarray, F: Callable[[float], np.ndarray], F0: Any, eps: float
    ) -> str:
        """Judge each of ``bad`` (the first ``MAX_REJUDGED``) again by
        :func:`~flowgraph.check.differences.differentiate` on the same evaluations of F: a
        kink, a refined estimate, or unresolved. Returns the note of what was left."""
        f0 = np.asarray(F0, dtype=np.float64).reshape(-1)
        unresolved = ""
        for k in bad[:MAX_REJUDGED]:
            if not np.isfinite(f0[k]):
                self.n[k] = np.nan
                unresolved = f"not finite at the point ({f0[k]})"
                continue
            v = differentiate(lambda r, k=k: float(F(r).reshape(-1)[k]), f0[k], 0.0, eps, self.atol)  # type: ignore[misc]
            if v.kind == "kink":
                self.kink[k] = True
            elif v.kind == "smooth":
                self.n[k], self.allowance[k] = v.numeric, v.allowance
            else:
                self.n[k], unresolved = np.nan, v.why
        left = ""
        if bad.size > MAX_REJUDGED:
            left = f"{bad.size - MAX_REJUDGED} elements failing at eps not re-examined"
        return "; ".join(x for x in (unresolved, left) if x)

    def summarise(self, check: JVPCheck, shape: tuple[int, ...]) -> None:
        """Counts, largest errors and the worst element (kinks apart) into ``check``."""
        abs_err, scale, tol = self.errors()
        judged = ~self.kink
        with np.errstate(invalid="ignore"):
            failed = judged & ~(abs_err <= tol)
        check.n_checked = int(self.a.size)
        check.n_failed = int(failed.sum())
        check.n_kinks = int(self.kink.sum())
        finite = judged & np.isfinite(abs_err)
        if finite.any():
            check.max_abs_err = float(abs_err[finite].max())
            rel = np.divide(abs_err, scale, out=np.zeros_like(abs_err), where=finite & (scale > 0))
            check.max_rel_err = float(rel.max())
        if judged.any():
            with np.errstate(invalid="ignore"):
                score = np.where(finite, abs_err / tol, np.inf)
            score[self.kink] = -1.0
            k = int(np.argmax(score))
            check.worst = tuple(int(i) for i in np.unravel_index(k, shape))
            check.analytic, check.numeric = float(self.a[k]), float(self.n[k])


def compare_arrays(
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
    apart: :func:`~flowgraph.check.differences.differentiate`), the worst ``MAX_REJUDGED``
    first, on the same evaluations of F. So a kink (ReLU at 0) is reported apart and a steep
    point is judged with a smaller step, while a wrong rule still fails.
    """
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
    elements = _Elements(a.reshape(-1), numeric.reshape(-1).copy(), rtol, atol)
    bad = elements.failing_worst_first()
    if bad.size:
        check.note = elements.rejudge(bad, F, F0, eps)
    elements.summarise(check, a.shape)
    return check


def _cached(f: Callable[[float], Any]) -> Callable[[float], Any]:
    """f, evaluated once per step r (every element's refinement uses the same steps)."""
    seen: dict[float, Any] = {}

    def at(r: float) -> Any:
        if r not in seen:
            seen[r] = f(r)
        return seen[r]

    return at


class _Line:
    """fprop and bprop along the line u + r t of the inputs (labels fixed) and g + r R{g} of
    the output gradient, each evaluated once per r."""

    def __init__(self, box: Box, xs: list[np.ndarray], rng: np.random.Generator):
        self.box, self.xs = box, xs
        self.floating = [np.issubdtype(x.dtype, np.floating) for x in xs]
        self.ts = [
            rng.standard_normal(x.shape) if f else np.zeros(x.shape)
            for x, f in zip(xs, self.floating)
        ]
        self.out = np.asarray(box.fprop(*xs), dtype=np.float64)
        self.g = rng.standard_normal(self.out.shape)
        self.Rg = rng.standard_normal(self.out.shape)
        self.fprop_at = _cached(self._fprop)
        self.bprop_at = _cached(self._bprop)

    def moved(self, r: float) -> list[Any]:
        return [x + r * t if f else x for x, t, f in zip(self.xs, self.ts, self.floating)]

    def _fprop(self, r: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.box.fprop(*self.moved(r)), dtype=np.float64)

    def _bprop(self, r: float) -> list[Any]:
        u = self.moved(r)
        with np.errstate(all="ignore"):
            return list(self.box.bprop(u, np.asarray(self.box.fprop(*u)), self.g + r * self.Rg))

    def central_difference(self, eps: float) -> np.ndarray:
        """(fprop(u + eps t) - fprop(u - eps t)) / (2 eps), the numerical R{out}."""
        with np.errstate(all="ignore"):
            return (self.fprop_at(eps) - self.fprop_at(-eps)) / (2 * eps)


def _check_fprop_jvp(line: _Line, **options: float) -> tuple[JVPCheck, np.ndarray]:
    """fprop_jvp against the central difference of fprop: (its check, the R{out} to judge
    bprop_jvp with: its own where it passed, else the central difference)."""
    box, out = line.box, line.out
    try:
        Rout = box.fprop_jvp(line.xs, line.ts, out)
    except Exception as e:  # a broken rule is a finding of the report, not a crash
        note = f"raised {type(e).__name__}: {e}"
        check = JVPCheck("fprop_jvp", out.shape, broken=True, note=note)
    else:
        check = compare_arrays("fprop_jvp", Rout, line.fprop_at, out, **options)
    if not check.ok:  # reported: bprop_jvp is judged on the right R{out}
        Rout = line.central_difference(options["eps"])
    return check, np.asarray(Rout, dtype=np.float64)


def _bprop_jvp(line: _Line, Rout: np.ndarray) -> tuple[Sequence[Any], JVPCheck | None]:
    """bprop_jvp's tangents, one per input, or a broken check (it raised, or gave the wrong
    number)."""
    xs = line.xs
    try:
        Rgrads = line.box.bprop_jvp(xs, line.ts, line.out, Rout, line.g.copy(), line.Rg.copy())
    except Exception as e:
        return (), JVPCheck("bprop_jvp", (), broken=True, note=f"raised {type(e).__name__}: {e}")
    Rgrads = tuple(Rgrads) if isinstance(Rgrads, (tuple, list)) else (Rgrads,)
    if len(Rgrads) != len(xs):
        note = f"returned {len(Rgrads)} tangents for {len(xs)} inputs"
        return (), JVPCheck("bprop_jvp", (), broken=True, note=note)
    return Rgrads, None


def _check_tangents(
    line: _Line, grads0: Sequence[Any], Rgrads: Sequence[Any], **options: float
) -> list[JVPCheck]:
    """Each input's R{grad_u} against the central difference of its gradient from bprop
    (``grads0`` at the point)."""
    box, xs = line.box, line.xs
    checks: list[JVPCheck] = []
    for i, x in enumerate(xs):
        name = f"bprop_jvp: grad_{box.input_name(i)}"
        if grads0[i] is None:  # labels; an integer constant (Div's 2) may have a gradient
            if Rgrads[i] is not None and np.any(np.asarray(Rgrads[i]) != 0):
                note = "bprop gives None here, so must this"
                checks.append(JVPCheck(name, x.shape, broken=True, note=note))
            continue
        if Rgrads[i] is None:
            checks.append(JVPCheck(name, x.shape, broken=True, note="returned None"))
            continue

        def grad_at(r: float, i: int = i) -> np.ndarray:
            return np.asarray(line.bprop_at(r)[i], dtype=np.float64)

        checks.append(compare_arrays(name, Rgrads[i], grad_at, grads0[i], **options))
    return checks


def check_jvp(
    box: Box,
    inputs: Sequence[Any] | None = None,
    *,
    rng: int | np.random.Generator = 0,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
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
    Generator. Raises :class:`~flowgraph.JVPError` when the box has no forward-mode rules.
    """
    kind = type(box).__name__
    if not box.has_jvp():
        raise JVPError(f"{kind} defines no forward-mode rules (fprop_jvp and bprop_jvp) to check")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    xs = [as_float64(np.asarray(v)) for v in (box.sample_inputs(rng) if inputs is None else inputs)]
    box.check_arity(len(xs))
    line = _Line(box, xs, rng)
    snapshot = [x.copy() for x in xs] + [t.copy() for t in line.ts]
    options = dict(eps=eps, rtol=rtol, atol=atol)
    fprop_check, Rout = _check_fprop_jvp(line, **options)
    report = JVPReport(kind, [fprop_check])
    if not bprop_jvp:
        note = "not checked: bprop is wrong, and bprop_jvp is its derivative"
        report.checks.append(JVPCheck("bprop_jvp", (), skipped=True, note=note))
        return report
    grads0 = box.bprop(xs, line.out, line.g)
    Rgrads, broken = _bprop_jvp(line, Rout)
    if broken is not None:
        report.checks.append(broken)
        return report
    report.checks += _check_tangents(line, grads0, Rgrads, **options)
    if any(not np.array_equal(a, b) for a, b in zip(xs + line.ts, snapshot)):
        note = "a rule wrote into its arguments"
        report.checks.append(JVPCheck("(arguments)", (), broken=True, note=note))
    return report
