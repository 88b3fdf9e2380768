"""Gradient checking by central finite differences, with a report that says where and why.

For an input x of a box (or a parameter of a graph) and a scalar function L of it, the
numerical derivative along a direction d is the lecture's central difference

    dL/dx . d  ~  (L(x + eps d) - L(x - eps d)) / (2 eps)

computed in float64. ``d`` runs over every element (d = e_i) of small tensors; for large ones
it runs over a few sampled elements and a few random Gaussian directions (not all-positive,
so errors of opposite sign cannot cancel). A box with a non-scalar output is reduced to a
scalar by a random non-uniform projection L = sum(R ⊙ output), whose gradient R is what
bprop receives.

An element is a *kink*, reported apart and neither passed nor failed, when the one-sided
differences (L(x+eps)-L(x))/eps and (L(x)-L(x-eps))/eps disagree: the function is not
differentiable there (ReLU or |W| at 0), or so curved within eps (-log f for a probability f
near eps) that finite differences cannot judge it; likewise when x +- eps leaves the domain.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boxes.base import Box
from .errors import FeedError

__all__ = [
    "InputCheck",
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
KINK_TOL = 1e-3  # one-sided slopes differing by this (relative) mark a kink
KINK_FLOOR = 1e-2  # ...relative to at least this slope, so flat points are no kinks


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
        worst = (
            ""
            if self.worst is None
            else (f"  worst {self.worst}: analytic {self.analytic:.6g}, numeric {self.numeric:.6g}")
        )
        counts = f"{self.n_failed}/{self.n_checked} failed"
        if self.n_kinks:
            counts += f", {self.n_kinks} at kinks"
        note = f"  [{self.note}]" if self.note else ""
        return (
            f"{self.name:<10} {str(self.shape):<12} {self.max_abs_err:9.2e} {self.max_rel_err:9.2e}"
            f"  {counts:<26} {self.status}{worst}{note}"
        )


def _header(what: str = "input") -> str:
    return f"{what:<10} {'shape':<12} {'max abs':>9} {'max rel':>9}  {'elements':<26} status"


@dataclass
class BoxReport:
    """What ``check_box`` found for each differentiable input of one box."""

    box: str
    inputs: list[InputCheck]
    node: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.inputs)

    @property
    def status(self) -> str:
        """'fail', 'kink' (passes except at non-differentiable points) or 'pass'."""
        if not self.ok:
            return "fail"
        return "kink" if any(c.n_kinks for c in self.inputs) else "pass"

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.inputs), default=0.0)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.inputs if not c.ok]

    def title(self) -> str:
        where = f" at node '{self.node}'" if self.node else ""
        failing = f" (wrong gradient for: {', '.join(self.failing)})" if self.failing else ""
        return f"{self.box}{where}: {self.status.upper()}{failing}"

    def __str__(self) -> str:
        if not self.inputs:
            return f"{self.title()}\n  no floating-point input: nothing was checked"
        return "\n".join([self.title(), "  " + _header()] + ["  " + c.line() for c in self.inputs])

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class GraphReport:
    """What ``check_graph`` found: every parameter end to end, and every box on its own.

    ``first_failing_box`` names the first node in fprop order whose box fails its own check
    with the values recorded in the graph: where to look first.
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
                extra = "" if rep.ok else f"  failing input(s): {', '.join(rep.failing)}"
                lines.append(
                    f"  {name:<14} {rep.box:<20} {mark:<5} max rel {rep.max_rel_err:.2e}{extra}"
                )
            first = self.first_failing_box
            if first:
                lines.append(f"first failing box: '{first}' ({self.boxes[first].box})")
                lines.append(str(self.boxes[first]))
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
            # unit length: the one-sided slopes of a smooth function then differ by
            # eps * d^T H d, tiny, whatever the tensor's size (no false kinks)
            d = rng.standard_normal(shape)
            yield f"direction {k}", d / np.linalg.norm(d)


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
) -> InputCheck:
    """Perturb ``x`` in place (restoring it) and compare f's differences with ``analytic``."""
    check = InputCheck(name=name, shape=tuple(x.shape))
    flat_x = x.reshape(-1)  # a view: x is float64 and contiguous (made so by the callers)
    loss = f

    def f() -> float:  # x +- eps may leave the domain (log of a tiny probability): no warning
        with np.errstate(all="ignore"):
            return loss()

    f0 = f()
    worst_score = -1.0
    for label, d in _directions(x.shape, rng, max_elements, n_samples, n_directions):
        if isinstance(d, int):  # one element
            old = flat_x[d]
            flat_x[d] = old + eps
            f_plus = f()
            flat_x[d] = old - eps
            f_minus = f()
            flat_x[d] = old
            a = float(analytic.reshape(-1)[d])
            step = eps
        else:  # a random direction
            old = x.copy()
            x += eps * d
            f_plus = f()
            x[...] = old - eps * d
            f_minus = f()
            x[...] = old
            a = float(np.vdot(analytic, d))
            step = eps
        n = (f_plus - f_minus) / (2 * step)
        check.n_checked += 1
        # one-sided slopes: on a smooth function they differ by eps * f'' only; at a kink
        # (ReLU or |W| at 0 within eps) by the jump of the derivative, and no single
        # analytic value can be right (nor wrong)
        fwd, bwd = (f_plus - f0) / step, (f0 - f_minus) / step
        if abs(fwd - bwd) > KINK_TOL * max(KINK_FLOOR, abs(fwd), abs(bwd)):
            check.n_kinks += 1
            continue
        if np.isfinite(f0) and not (np.isfinite(f_plus) and np.isfinite(f_minus)):
            # within eps of the edge of the domain (log of a probability below eps): as
            # for a kink, finite differences cannot judge the gradient here
            check.n_kinks += 1
            continue
        abs_err = abs(a - n)
        scale = max(abs(a), abs(n))
        rel_err = abs_err / scale if scale > 0 else 0.0
        failed = not np.isfinite(n) or abs_err > atol + rtol * scale
        if failed:
            check.n_failed += 1
        score = abs_err / (atol + rtol * scale)
        if score > worst_score:
            worst_score = score
            check.worst = tuple(int(i) for i in label) if isinstance(label, tuple) else label
            check.analytic, check.numeric = a, n
        check.max_abs_err = max(check.max_abs_err, abs_err)
        check.max_rel_err = max(check.max_rel_err, rel_err)
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
) -> BoxReport:
    """Compare ``box.bprop`` with central differences of ``box.fprop``, input by input.

    ``inputs`` default to ``box.sample_inputs(rng)``. Floating inputs are checked (in
    float64); integer inputs (labels) are held fixed. Returns a :class:`BoxReport`;
    ``print(report)`` shows a table, ``report.ok`` the verdict.

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

    Returns
    -------
    BoxReport
        One :class:`InputCheck` per input (errors, the worst element, kinks) and ``ok``.

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
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    kind = type(box).__name__
    if inputs is None:
        inputs = box.sample_inputs(rng)
    xs = [_as_float64(v if isinstance(v, np.ndarray) else np.asarray(v)) for v in inputs]
    box.check_arity(len(xs))
    out = np.asarray(box.fprop(*xs))
    R = _projection(out.shape, rng)

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
    for i, (x, g) in enumerate(zip(xs, grads)):
        if not _is_float(x):
            continue
        name = box.input_name(i)
        if g is None:
            g_arr = np.zeros_like(x)
            c = _compare(
                name,
                x,
                g_arr,
                L,
                rng,
                eps=eps,
                rtol=rtol,
                atol=atol,
                max_elements=max_elements,
                n_samples=n_samples,
                n_directions=n_directions,
            )
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
        c = _compare(
            name,
            x,
            g_arr,
            L,
            rng,
            eps=eps,
            rtol=rtol,
            atol=atol,
            max_elements=max_elements,
            n_samples=n_samples,
            n_directions=n_directions,
        )
        if notes_all:
            c.note, c.broken = notes_all, True
        checks.append(c)
    return BoxReport(kind, checks, node)


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
) -> GraphReport:
    """Check the graph's gradient of ``output`` (default its first) for every parameter.

    Runs in float64 on copies of the parameters; the parameters' own arrays are put back
    (dtype and all) and a last fprop/bprop in their dtype leaves the nodes' values and
    gradients as the user had them. With ``boxes=True`` (default) every box is also checked
    on its own with the values recorded at fprop, so a failure is traced to its box; with
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

    Returns
    -------
    GraphReport
        ``parameters`` (one :class:`InputCheck` each), ``boxes`` (the box-by-box reports),
        ``ok`` and ``first_failing_box`` (the first box in fprop order whose bprop is wrong).

    Examples
    --------
    >>> import numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 8, 3], dtype=np.float64, seed=0)
    >>> X, y = fg.datasets.make_blobs(8, seed=0)
    >>> report = fg.check_graph(model.train_graph, {model.x: X, model.y: y})
    >>> report.ok, [c.name for c in report.parameters]
    (True, ['W1', 'b1', 'W2', 'b2'])
    """
    from .graph import Node

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out_node: Node = graph._resolve(output) if output is not None else graph.outputs[0]
    wrt_nodes = [graph._resolve(w) for w in wrt]
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
        graph.bprop(wrt=wrt_nodes, output=out_node, grad_output=R.copy())
        analytic = {t: np.array(t.grad, dtype=np.float64) for t in targets}
        recorded = {n: [c.value for c in n.children] for n in graph.order if n.box is not None}

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
