"""``check_box``: one box's every derivative against central differences.

For each floating input x of a box, with the box's output reduced to a scalar by a random
non-uniform projection L = sum(R ⊙ output) (R is what bprop receives as grad_output), bprop's
gradient is held to the central differences of L (:mod:`flowgraph.check.differences`):
element by element, kinks reported apart. The Graph does not call ``bprop`` but
``bprop_needed``: every pattern of ``needs`` is held to ``bprop``, at the sample's batch and
at a batch of one example (:mod:`flowgraph.check.paths`). The box's forward-mode rules
(``fprop_jvp``, ``bprop_jvp``) are checked at the same inputs by
:func:`~flowgraph.check.forward.check_jvp`.

:func:`all_box_classes` finds every Box of the package, for the test suite and
``flowgraph gradcheck`` to check them all.

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

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import boxes
from ..core import Box
from .differences import (
    ATOL,
    EPS,
    MAX_ELEMENTS,
    N_DIRECTIONS,
    N_SAMPLES,
    RTOL,
    Settings,
    as_float64,
    compare,
    is_float,
    projection,
)
from .forward import check_jvp
from .paths import batch_of_one, check_paths
from .planned import check_planned, has_planned_paths
from .report import BoxReport, InputCheck, JVPCheck, JVPReport, PathCheck

__all__ = ["check_box", "all_box_classes"]


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
    planned: bool = True,
) -> BoxReport:
    """Compare ``box.bprop`` with central differences of ``box.fprop``, input by input, hold
    every path the Graph may take, ``box.bprop_needed``, to ``bprop``, and check the box's
    forward-mode rules ``fprop_jvp`` and ``bprop_jvp`` when it has them. ``print(report)``
    shows a table, ``report.ok`` the verdict, ``report.failing`` what is wrong.

    Parameters
    ----------
    box
        Any :class:`~flowgraph.Box`, the package's or your own.
    inputs
        The children's values to check at; default ``box.sample_inputs(rng)``. Floating
        inputs are checked (in float64); integer inputs (labels) are held fixed.
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
        Which inputs' gradients the Graph asks ``bprop_needed`` for: only that pattern is
        checked, on these inputs (``check_graph`` passes the Graph's own). Default: every
        pattern over the floating inputs, on these inputs and on a batch of one example cut
        from them (or ``box.sample_inputs(rng, n=1)`` where the box takes ``n``).
    paths
        Check the ``bprop_needed`` paths as well as ``bprop`` (``paths=False``: none).
    planned
        Check the step plan's paths where the box has them (``out=``, the kernels), bit for
        bit against fprop and bprop_needed (:mod:`flowgraph.check.planned`).
    jvp
        Check the forward-mode rules (:func:`flowgraph.check_jvp`) when the box defines them;
        bprop_jvp only when bprop is right. A box without them is not a failure.
        ``jvp=False``: skip them (``report.jvp`` is None).

    Returns
    -------
    BoxReport
        One :class:`InputCheck` per input, the paths, ``jvp`` and ``ok``. Examples: the
        module's.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    kind = type(box).__name__
    sampled = inputs is None
    xs = [as_float64(np.asarray(v)) for v in (box.sample_inputs(rng) if inputs is None else inputs)]
    box.check_arity(len(xs))
    if needs is not None and len(needs) != len(xs):
        raise ValueError(f"needs has {len(needs)} entries for the {len(xs)} inputs of {kind}")
    out = np.asarray(box.fprop(*xs))
    R = projection(out.shape, rng)
    grads, xs, wrote = _bprop(box, xs, out, R)
    if len(grads) != len(xs):
        note = f"bprop returned {len(grads)} gradients for {len(xs)} inputs"
        return BoxReport(kind, [InputCheck(name="(all)", shape=(), broken=True, note=note)], node)
    sample = (xs, out, R, grads)
    path_checks = check_paths(box, sample, rng, sampled=sampled, needs=needs) if paths else []
    plan_checks = _planned(box, xs, sampled, needs, paths) if planned else []
    settings = Settings(eps, rtol, atol, max_elements, n_samples, n_directions)
    checks = _check_inputs(box, xs, grads, out, R, rng, settings, wrote)
    report = BoxReport(kind, checks, node, path_checks, planned=plan_checks)
    if jvp and any(is_float(x) for x in xs):
        bprop_ok = all(c.ok for c in checks)
        report.jvp, report.jvp_note = _check_rules(box, xs, rng, settings, bprop_ok)
    return report


def _planned(box: Box, xs: list[Any], sampled: bool, needs: Sequence[bool] | None,
             paths: bool) -> list[PathCheck]:  # fmt: skip
    """The step plan's paths at ``xs`` and (without ``needs``) at a batch of one example,
    drawn from a generator of their own (the checks of bprop draw what they drew before)."""
    if not has_planned_paths(box):
        return []
    rng = np.random.default_rng(0)
    samples = [xs]
    one = batch_of_one(box, xs, rng, sampled) if needs is None else None
    if one is not None:
        samples.append(one)
    return check_planned(box, samples, rng, needs=needs, bprop=paths)


def _bprop(
    box: Box, xs: list[Any], out: np.ndarray, R: np.ndarray
) -> tuple[tuple[Any, ...], list[Any], str]:
    """bprop at ``xs`` with grad_output R: (its gradients, the inputs, a note). A bprop that
    wrote into its inputs is noted, and the inputs as they were are given back."""
    snapshot = [np.array(x, copy=True) if isinstance(x, np.ndarray) else x for x in xs]
    grads = box.bprop(xs, out, R.copy())
    wrote = ""
    if any(
        isinstance(x, np.ndarray) and not np.array_equal(x, s, equal_nan=True)
        for x, s in zip(xs, snapshot)
    ):
        wrote = "bprop wrote into its inputs"
        xs = [np.array(s, copy=True) if isinstance(s, np.ndarray) else s for s in snapshot]
    return (tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)), xs, wrote


def _check_inputs(
    box: Box,
    xs: list[Any],
    grads: Sequence[Any],
    out: np.ndarray,
    R: np.ndarray,
    rng: np.random.Generator,
    settings: Settings,
    wrote: str,
) -> list[InputCheck]:
    """bprop's gradient of each floating input against the central differences of
    L = sum(R ⊙ fprop(xs)) (``out`` = fprop(xs)); ``wrote``: bprop wrote into its inputs."""
    magnitude = float(np.vdot(np.abs(R), np.abs(out.astype(np.float64))))

    def L() -> float:
        return float(np.vdot(R, np.asarray(box.fprop(*xs), dtype=np.float64)))

    if not getattr(box, "differentiable", True):
        return [_by_design(box.input_name(i), x, g) for i, (x, g) in enumerate(zip(xs, grads))
                if is_float(x)]
    return [
        _check_input(box.input_name(i), x, g, L, rng, settings, magnitude, wrote)
        for i, (x, g) in enumerate(zip(xs, grads))
        if is_float(x)
    ]


def _by_design(name: str, x: np.ndarray, g: Any) -> InputCheck:
    """An input of a box that is not differentiable (``differentiable = False``: a mask, an
    index, random draws, a stopped gradient): its bprop must give None, nothing else."""
    if g is not None:
        note = "the box says differentiable = False, but bprop returned a gradient"
        return InputCheck(name=name, shape=tuple(x.shape), broken=True, note=note)
    note = "no gradient, by design (differentiable = False)"
    return InputCheck(name=name, shape=tuple(x.shape), no_gradient=True, note=note)


def _check_input(
    name: str,
    x: np.ndarray,
    g: Any,
    L: Callable[[], float],
    rng: np.random.Generator,
    settings: Settings,
    magnitude: float,
    wrote: str,
) -> InputCheck:
    """One input's gradient ``g`` against the central differences of L: None (bprop gave
    none) passes only where the true gradient is 0; a gradient of the wrong shape or not
    finite fails outright, and so does any when bprop wrote into its inputs (``wrote``)."""
    if g is None:
        c = compare(name, x, np.zeros_like(x), L, rng, settings, magnitude)
        c.no_gradient = True
        c.note = "bprop returned None for a differentiable input"
        c.broken = c.n_failed > 0
        return c
    g_arr = np.asarray(g, dtype=np.float64)
    if g_arr.shape != x.shape:
        note = f"gradient has shape {g_arr.shape}, expected {x.shape}"
        return InputCheck(name=name, shape=tuple(x.shape), broken=True, note=note)
    if not np.all(np.isfinite(g_arr)):
        note = f"gradient holds {int((~np.isfinite(g_arr)).sum())} non-finite values"
        return InputCheck(name=name, shape=tuple(x.shape), broken=True, note=note)
    c = compare(name, x, g_arr, L, rng, settings, magnitude)
    if wrote:
        c.note, c.broken = wrote, True
    return c


def _check_rules(
    box: Box, xs: list[Any], rng: np.random.Generator, settings: Settings, bprop_ok: bool
) -> tuple[JVPReport | None, str]:
    """check_jvp at the checker's inputs, or why not: (report, "") or (None, note)."""
    if not box.has_jvp():
        return None, "none (optional: Hessian-vector products then use finite differences)"
    eps, rtol, atol = settings.eps, settings.rtol, settings.atol
    try:
        rules = check_jvp(box, xs, rng=rng, eps=eps, rtol=rtol, atol=atol, bprop_jvp=bprop_ok)
    except Exception as e:  # fprop or bprop failing off the point: a finding, not a crash
        broken = JVPCheck("(rules)", (), broken=True, note=f"raised {type(e).__name__}: {e}")
        rules = JVPReport(type(box).__name__, [broken])
    return rules, ""


def _defined_in_module(cls: type) -> bool:
    """Whether ``cls`` is what its module's name ``cls.__qualname__`` holds."""
    obj: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def all_box_classes() -> list[type[Box]]:
    """Every concrete Box subclass defined in the flowgraph package, in a stable order."""
    # import every family file of flowgraph/boxes, even one its __init__ forgets
    for info in pkgutil.iter_modules(boxes.__path__, boxes.__name__ + "."):
        importlib.import_module(info.name)

    found: dict[str, type[Box]] = {}
    stack = list(Box.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("flowgraph.") and not inspect.isabstract(cls):
            if _defined_in_module(cls):  # (not a class of a doctest, still held in a cache)
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]
