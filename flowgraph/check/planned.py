"""The step plan's paths through a box, held to the box's own, bit for bit.

A Graph's step plan (:mod:`flowgraph.step.plan`) calls a box in two ways the Graph does not:
at the first step of a signature with the plan's buffers (``fprop(..., out=)``,
``bprop(..., out=)``), and at every later step through the box's kernels (``fprop_kernel``,
``bprop_kernel``), which skip the checks of shapes and dtypes. Both promise fprop's and
bprop_needed's arithmetic, so the same bits. :func:`check_planned` runs each path the box
has at the inputs checked (and at a batch of one example), for every pattern of ``needs``
(or the Graph's own), and compares it with ``fprop`` and ``bprop_needed`` exactly; a kernel
runs a second time on other values of the same shapes (another grad_output), which it must
read rather than keep from the first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Box, Outer
from ..step.calls import bprop_kernel_of, bprop_method, fprop_kernel_of, kernels_of, takes_out
from .differences import is_float
from .paths import needs_patterns
from .report import PathCheck

__all__ = ["check_planned", "has_planned_paths"]


def _differs(got: Any, ref: Any) -> str:
    """What keeps ``got`` from being ``ref`` to the last bit ('' when nothing)."""
    if ref is None:
        return ""
    if got is None:
        return "None where the box's own path gives a gradient"
    got = got.materialize() if type(got) is Outer else got
    ref = ref.materialize() if type(ref) is Outer else ref
    g, r = np.asarray(got), np.asarray(ref)
    if g.shape != r.shape or g.dtype != r.dtype:
        return f"{g.shape} {g.dtype}, the box's own path gives {r.shape} {r.dtype}"
    if np.array_equal(g, r, equal_nan=g.dtype.kind in "fc"):
        return ""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = float(np.max(np.abs(g.astype(np.float64) - r.astype(np.float64))))
    return f"differs from the box's own path by up to {diff:.3g} (not the same bits)"


def _other(xs: Sequence[Any], rng: np.random.Generator) -> list[Any]:
    """Other values of the same shapes and dtypes: each float array moved by a relative 1e-3
    (signs and zeros kept, so that it stays in the box's domain); labels as they are."""
    return [
        (x * (1 + 1e-3 * rng.standard_normal(x.shape))).astype(x.dtype) if is_float(x) else x
        for x in xs
    ]


def _run(what: str, needs: tuple[bool, ...], n: int | None, names: Sequence[str],
         got: Any, ref: Sequence[Any], reference: str) -> PathCheck:  # fmt: skip
    check = PathCheck(needs=needs, n=n, path=what, reference=reference)
    if isinstance(got, Exception):
        check.problems.append(("(all)", f"raised {type(got).__name__}: {got}"))
        return check
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    if len(got) != len(ref):
        check.problems.append(("(all)", f"returned {len(got)} results for {len(ref)}"))
        return check
    for name, g, r in zip(names, got, ref):
        problem = _differs(g, r)
        if problem:
            check.problems.append((name, problem))
    return check


def _call(fn: Any, *args: Any, **kw: Any) -> Any:
    """fn's result, copied out of any buffer it wrote into (or the exception it raised)."""
    try:
        result = fn(*args, **kw)
    except Exception as e:  # the plan would stop here: a failure of this path
        return e
    if isinstance(result, (tuple, list)):
        return tuple(np.array(r, copy=True) if isinstance(r, np.ndarray) else r for r in result)
    return np.array(result, copy=True) if isinstance(result, np.ndarray) else result


def _buffers(xs: Sequence[Any], needs: Sequence[bool]) -> tuple[Any, ...]:
    """The plan's gradient buffers: one like each float input that needs a gradient."""
    return tuple(np.empty_like(x) if k and is_float(x) else None for x, k in zip(xs, needs))


def _fprop_checks(box: Box, xs: list[Any], n: int | None,
                  rng: np.random.Generator) -> list[PathCheck]:  # fmt: skip
    """fprop(out=) and fprop_kernel held to fprop."""
    out = box.fprop(*xs)
    checks = []
    buffer = np.empty_like(out) if type(out) is np.ndarray else None
    if takes_out(type(box).fprop) and buffer is not None:
        got = _call(box.fprop, *xs, out=buffer)
        checks.append(_run("fprop(out=)", (), n, ["output"], got, [out], "fprop"))
    kernel = fprop_kernel_of(box, xs, buffer, {})
    if kernel is not None:
        checks.append(_run("fprop_kernel", (), n, ["output"], _call(kernel, *xs), [out], "fprop"))
        other = _other(xs, rng)
        try:
            ref = box.fprop(*other)
        except Exception:  # (not valid there: the first comparison stands alone)
            return checks
        got = _call(kernel, *other)
        checks.append(_run("fprop_kernel", (), n, ["output (other values)"], got, [ref], "fprop"))
    return checks


def _bprop_checks(box: Box, xs: list[Any], n: int | None, needs: tuple[bool, ...],
                  rng: np.random.Generator) -> list[PathCheck]:  # fmt: skip
    """bprop(out=) (or bprop_needed's) and bprop_kernel held to bprop_needed."""
    names = [box.input_name(i) for i in range(len(xs))]
    out = box.fprop(*xs)
    G = rng.standard_normal(np.shape(out))
    G = G.astype(out.dtype) if is_float(out) else G
    method, with_needs, with_out = bprop_method(box)
    args = (needs,) if with_needs else ()
    ref = _call(method, list(xs), out, G, *args)
    if isinstance(ref, Exception):  # bprop itself fails: reported by the checks of bprop
        return []
    ref = tuple(r if k else None for r, k in zip(ref, needs))
    checks = []
    if with_out:
        got = _call(method, list(xs), out, G, *args, out=_buffers(xs, needs))
        got = got if isinstance(got, Exception) else tuple(
            g if k else None for g, k in zip(got, needs)
        )
        what = f"{method.__name__}(out=)"
        checks.append(_run(what, needs, n, names, got, ref, method.__name__))
    shared: dict = {}  # what the fprop kernel of the step leaves the bprop kernel (if any)
    forward = fprop_kernel_of(box, xs, np.empty_like(out) if type(out) is np.ndarray else None,
                              shared)  # fmt: skip
    if forward is not None:
        _call(forward, *xs)
    kernel = bprop_kernel_of(box, list(xs), out, G, needs, _buffers(xs, needs), shared)
    if kernel is None:
        return checks
    got = _call(kernel, list(xs), out, G)
    checks.append(_run("bprop_kernel", needs, n, names, got, ref, "bprop_needed"))
    G2 = rng.standard_normal(np.shape(out))
    G2 = G2.astype(out.dtype) if is_float(out) else G2
    ref2 = _call(method, list(xs), out, G2, *args)
    if not isinstance(ref2, Exception):
        ref2 = tuple(r if k else None for r, k in zip(ref2, needs))
        got = _call(kernel, list(xs), out, G2)
        other = [f"{name} (another grad_output)" for name in names]
        checks.append(_run("bprop_kernel", needs, n, other, got, ref2, "bprop_needed"))
    if shared and forward is not None:  # the next step: other values, through both kernels
        checks += _next_step(box, xs, needs, n, (forward, kernel), rng)
    return checks


def _next_step(box: Box, xs: list[Any], needs: tuple[bool, ...], n: int | None,
               kernels: tuple[Any, Any], rng: np.random.Generator) -> list[PathCheck]:  # fmt: skip
    """A bprop kernel that reads what its step's fprop kernel left (``shared=``), held to
    bprop_needed at other values of the same shapes, after the fprop kernel ran on them."""
    forward, kernel = kernels
    method, with_needs, _ = bprop_method(box)
    other = _other(xs, rng)
    try:
        out = box.fprop(*other)
    except Exception:  # (not valid there: the comparisons above stand alone)
        return []
    G = rng.standard_normal(np.shape(out))
    G = G.astype(out.dtype) if is_float(out) else G
    ref = _call(method, list(other), out, G, *((needs,) if with_needs else ()))
    if isinstance(ref, Exception):
        return []
    ref = tuple(r if k else None for r, k in zip(ref, needs))
    _call(forward, *other)
    got = _call(kernel, list(other), out, G)
    names = [f"{box.input_name(i)} (the next step's values)" for i in range(len(xs))]
    return [_run("bprop_kernel after fprop_kernel", needs, n, names, got, ref, "bprop_needed")]


def has_planned_paths(box: Box) -> bool:
    """Whether a step plan calls ``box`` otherwise than the Graph: with ``out=`` or through
    its kernels."""
    cls = type(box)
    return any(kernels_of(cls)) or takes_out(cls.fprop) or bprop_method(box)[2]


def check_planned(
    box: Box,
    samples: Sequence[list[Any]],
    rng: np.random.Generator,
    *,
    needs: Sequence[bool] | None,
    bprop: bool = True,
) -> list[PathCheck]:
    """The step plan's paths of ``box`` (its out= paths and its kernels, where it has
    them) at each list of inputs in ``samples``, held bit for bit to fprop and to
    bprop_needed with every pattern of ``needs`` (or the one given); ``bprop=False``: fprop's
    paths only (a box that bprop does not visit). Empty for a box with none of them."""
    if not has_planned_paths(box):
        return []
    checks: list[PathCheck] = []
    for xs in samples:
        xs = list(xs)
        n = xs[0].shape[0] if isinstance(xs[0], np.ndarray) and xs[0].ndim >= 1 else None
        try:
            checks += _fprop_checks(box, xs, n, rng)
        except Exception:  # fprop itself fails here: reported by the checks of fprop
            continue
        if not bprop or not box.differentiable:
            continue
        if needs is not None:
            patterns = [tuple(bool(k) for k in needs)]
        else:
            patterns = needs_patterns([is_float(x) for x in xs])
        for p in patterns:
            checks += _bprop_checks(box, xs, n, p, rng)
    return checks
