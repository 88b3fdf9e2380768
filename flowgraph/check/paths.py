"""The paths the Graph takes through a box, held to ``bprop``.

The Graph does not call ``bprop`` but ``bprop_needed(inputs, output, grad_output, needs)``,
skipping inputs that need no gradient and returning a rank-1 gradient as an
:class:`~flowgraph.core.box.Outer`. Where ``needs`` is True that path must give what bprop
gives (up to the order of summation: ``PATH_RTOL``); only where it is False may it give None.
:func:`check_paths` runs every pattern of ``needs`` (or the Graph's own) at the inputs checked
and at a batch of one example, where the rank-1 fast paths run.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Box, Outer
from .differences import as_float64, is_float, projection
from .report import PathCheck

__all__ = ["needs_patterns", "check_path", "batch_of_one", "check_paths"]

MAX_PATTERN_INPUTS = 6  # every pattern of needs for up to this many inputs (2^6 - 1 = 63)
PATH_RTOL = 1e-9  # a fast path equals bprop up to summation order: relative to its largest

# (inputs, output, grad_output, bprop's gradients) at which the paths are run
Sample = tuple[list[Any], Any, np.ndarray, Sequence[Any]]


def needs_patterns(differentiable: Sequence[bool]) -> list[tuple[bool, ...]]:
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


def _problem(x: Any, g: Any, r: Any) -> str:
    """What is wrong with the path's gradient ``g`` of input ``x`` beside bprop's ``r``
    ('' when nothing)."""
    if g is None:
        return "None although needs is True (bprop gives one)"
    if isinstance(g, Outer):
        if g.shape != np.shape(x):
            return f"Outer factors of shape {g.shape}, expected {np.shape(x)}"
        g = g.materialize()
    g = np.asarray(g, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if g.shape != r.shape:
        return f"gradient of shape {g.shape}, bprop's is {r.shape}"
    ok, diff = _close(g, r)
    if ok:
        return ""
    rel = diff / max(float(np.max(np.abs(r))), np.finfo(np.float64).tiny)
    return f"differs from bprop's by up to {diff:.3g} (relative to its largest: {rel:.2g})"


def check_path(
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
        problem = _problem(x, g, r)
        if problem:
            check.problems.append((box.input_name(i), problem))
    return check


def batch_of_one(box: Box, xs: list[Any], rng: np.random.Generator, sampled: bool) -> list | None:
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
            params = {}  # type: ignore[assignment]
        if "n" in params:
            return [as_float64(np.asarray(v)) for v in box.sample_inputs(rng, n=1)]  # type: ignore[call-arg]  # (this box takes n)
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


def _sample_of_one(
    box: Box, one: list[Any], rng: np.random.Generator
) -> tuple[Sample | None, PathCheck | None]:
    """bprop at a batch of one example, to hold the paths to: (the sample, None), or
    (None, a failed check) when bprop raises there, or (None, None) when it gives the wrong
    number of gradients (reported at the inputs checked)."""
    out1 = np.asarray(box.fprop(*one))
    R1 = projection(out1.shape, rng)
    try:
        grads1 = box.bprop(one, out1, R1.copy())
    except Exception as e:  # the Graph would stop on a batch of one: a failure
        failed = PathCheck(tuple(is_float(x) for x in one), 1)
        failed.problems.append(("(all)", f"bprop raised {type(e).__name__}: {e}"))
        return None, failed
    grads1 = tuple(grads1) if isinstance(grads1, (tuple, list)) else (grads1,)
    return ((one, out1, R1, grads1) if len(grads1) == len(one) else None), None


def check_paths(
    box: Box,
    sample: Sample,
    rng: np.random.Generator,
    *,
    sampled: bool,
    needs: Sequence[bool] | None,
) -> list[PathCheck]:
    """Every pattern of needs (or the one given) at ``sample`` (inputs, output, grad_output,
    bprop's gradients) and, when ``needs`` is not given, at a batch of one example
    (:func:`batch_of_one`; ``sampled``: the inputs came from ``box.sample_inputs``)."""
    samples = [sample]
    failed_one = None
    one = batch_of_one(box, sample[0], rng, sampled) if needs is None else None
    if one is not None:
        sample_one, failed_one = _sample_of_one(box, one, rng)
        samples += [sample_one] if sample_one is not None else []
    checks: list[PathCheck] = []
    for xs, out, G, ref in samples:
        n = xs[0].shape[0] if isinstance(xs[0], np.ndarray) and xs[0].ndim >= 1 else None
        if needs is not None:
            patterns = [tuple(bool(k) for k in needs)]
        else:
            patterns = needs_patterns([is_float(x) for x in xs])
        checks += [check_path(box, xs, out, G, ref, p, n) for p in patterns]
    return checks + ([failed_one] if failed_one is not None else [])
