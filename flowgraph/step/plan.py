"""The step plan: a Graph's training step with its memory owned by the Graph.

``Graph.fprop`` and ``Graph.bprop`` allocate every value and every gradient afresh, so that
nothing a user reads is ever overwritten. A :class:`StepPlan` (``fg.step_plan(graph)``) runs the
same boxes in the same order with the same arithmetic, but writes each value and each gradient
into a buffer it allocated at the first step of these shapes and reuses at every later step of
the same shapes:

    fprop:  node.value = box.fprop(*children's values, out=buffer of node)
    bprop:  grads = box.bprop(children's values, node.value, node.grad,
                              out=(buffer of each child's gradient, ...))
            child.grad += grad                       (in place, into the child's buffer)

A box takes ``out=`` where it pays (Linear, Tanh, ReLU, Sigmoid, SoftmaxCrossEntropy, Add,
MatMul, L2Penalty); the math stays in the box, the buffers in the plan (a box never keeps
one). Every other box runs as under ``Graph.fprop``. The results are the same to the last
bit (the same operations in the same order, only into other memory); a gradient that two
parents give is summed in place, also bit for bit as ``Graph.bprop`` sums it.

From the second step of a signature (the shapes and dtypes of the inputs and of every leaf)
on, a box that defines kernels (``fprop_kernel``, ``bprop_kernel``, :mod:`.calls`: its own
arithmetic with its buffers bound, the checks of shapes and dtypes done at the first step)
runs them instead of fprop and bprop, and the plan runs its bprop from lists fixed at the
first step (which gradient is set, which added): the same operations, so the same bits,
with less Python around them (unrolled into straight-line code, :mod:`.straight`; a box's
two kernels may share what fprop computed and bprop needs again, ``shared=``,
:func:`.calls.takes_shared`). A changed signature goes back to the checked boxes; what
depends on the values (labels in range) is checked at every step; a kernel that fails is
explained by its box's checked fprop. The checker holds every kernel to its box
(:func:`flowgraph.check_box`). A bprop whose values are not those of the plan's own last fprop
(the graph's unplanned fprop ran since) is the graph's own bprop: kernels read what their
fprop left.

What a user gives up: after the next planned step the node values and gradients of this one
are overwritten (they live in the plan's buffers): copy what you keep. ``print(plan)`` shows
the step as the straight-line code it runs (fprop lines, then bprop lines in reverse order,
as the lecture's backprop slide reads).

The name: ``Graph.plan(output, targets)`` already is the list of boxes bprop visits (with
which children need a gradient), which the checker and the pictures read; the plan of a whole
training step, its memory included, is ``fg.step_plan(graph)``.

Plain SGD may be folded into the weight-gradient product (opt-in, ``SGD(..., fold=True)``
with ``fg.train``, or :meth:`StepPlan.fold`): for a weight W read by one Linear box only,

    W <- W - alpha grad_a^T h          one BLAS gemm with beta = 1 (SciPy), in place

during bprop, after grad_h = grad_a W is taken. Such a W then has no ``grad`` after bprop
(None) and SGD's step leaves it alone; its arithmetic differs from the unfolded step by
rounding only (alpha is multiplied inside the product).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

import numpy as np

from ..core.node import Input, Node, Parameter
from ..core.rank1 import Outer
from ..errors import BoxError, FlowgraphError, NonFiniteError
from .calls import bprop_kernel_of, bprop_method, fprop_kernel_of, kernels_of, takes_out
from .fold import fold_sgd_update, foldable_weights
from .straight import straight_backward, straight_fprop

__all__ = ["StepPlan", "bprop_method", "fold_sgd_update", "kernels_of", "takes_out"]

SMALL = 256  # without a kernel, values of fewer elements are made afresh: out= costs more
_value = attrgetter("value")
_shape_dtype = attrgetter("shape", "dtype")
_ndarray = np.ndarray


class _Kernels:
    """The bprop of one signature with kernels only, its bookkeeping fixed at the first
    step. ``steps``: per box (node, kernel, children, ``sets``: (index, child, whether it
    is a Parameter) for each child whose gradient it gives first, ``adds``:
    (index, child) for each child it gives a second one, the folded SGD or None); ``clear``:
    the nodes whose gradient is None after bprop; ``zeros``: the targets that get zeros;
    ``seed``: the dtype of the output's gradient."""

    def __init__(self, steps: list[tuple], clear: list[Node], zeros: tuple[Node, ...],
                 seed: Any) -> None:  # fmt: skip
        self.steps, self.clear, self.zeros, self.seed = steps, clear, zeros, seed
        self.run: Any = None  # the steps as straight-line code (straight_backward)


class _Buffers:
    """The memory of steps of one signature (the shapes and dtypes of the inputs and the
    leaves): one buffer per value and per gradient, allocated at the first step."""

    def __init__(self) -> None:
        self.fsteps: list[tuple] | None = None  # (node, kernel or fprop (out= bound), children)
        self.fprop: Any = None  # fsteps as straight-line code (straight_fprop)
        self.buffered: set[int] = set()  # the nodes whose value lives in a buffer
        self.grad: dict[int, np.ndarray] = {}  # id(node) -> its gradient's (summed) buffer
        self.out: dict[tuple[int, int], Any] = {}  # (parent, child) -> a gradient's buffer
        self.bsteps: list[tuple] | None = None  # StepPlan.compile_bprop's, for these buffers
        self.kernels: _Kernels | None = None  # the bprop of later steps (all boxes kernels)
        self.folded: frozenset[int] = frozenset()  # the weights folded when compiled
        self.shared: dict[int, dict] = {}  # id(node) -> what its fprop kernel leaves its bprop's


class StepPlan:
    """The step of ``graph`` for ``output`` (default its first) with its memory planned.

    ``fprop(feed)`` and ``bprop(grad_output=None)`` are ``graph.fprop`` and ``graph.bprop()``
    with the values and gradients written into reused buffers; ``print(plan)`` shows the code.
    Made by :func:`flowgraph.step_plan` (which keeps one per output in the graph).

    >>> import numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 3, 2], seed=0)
    >>> plan = fg.step_plan(model.train_graph)
    >>> X, y = np.ones((4, 2), np.float32), np.array([0, 1, 1, 0])
    >>> loss = plan.fprop({"x": X, "y": y}); plan.bprop()
    >>> model.parameters[0].grad.shape
    (3, 2)
    """

    small = SMALL  # (boxes without kernels) fewer elements: not buffered (0: all are)
    kernels = True  # False: the checked boxes at every step (with their buffers)
    straight = True  # False: the later steps run the loops, not their straight-line code

    def __init__(self, graph: Any, output: Node | None = None):
        self.graph = graph
        self.output: Node = output if output is not None else graph.outputs[0]
        self.nodes: list[Node] = graph.box_nodes
        self.inputs: list[Node] = graph.inputs
        # the leaves whose shapes and dtypes make the signature, besides the inputs
        self.params: list[Node] = list(graph.parameters)
        self.constants: list[Node] = [
            n for n in graph.order if n.box is None and not isinstance(n, (Input, Parameter))
        ]
        self.bplan, self.targets, self.unreached = graph.bprop_plan(self.output, None)
        self.fprop_out = [takes_out(type(n.box).fprop) for n in self.nodes]
        self.bprop_calls = [bprop_method(n.box) for n, _ in self.bplan]
        self.memory: dict[tuple, _Buffers] = {}
        self.folded: dict[int, Any] = {}  # id(W) -> the SGD folded into its gradient
        self.folded_ids: frozenset[int] = frozenset()
        self.buffers: _Buffers | None = None  # of the last step
        self.signature: tuple | None = None
        self.stamp: object | None = None  # of this plan's last fprop

    # -- fprop -----------------------------------------------------------------------------
    def signature_of(self, values: list[Any]) -> tuple:
        """The shapes and dtypes of the inputs' ``values`` and of the leaves' values."""
        sig: tuple[Any, ...] = (*map(_shape_dtype, values),
                                *map(_shape_dtype, map(_value, self.params)))  # fmt: skip
        if self.constants:
            sig += tuple((type(v), np.shape(v), getattr(v, "dtype", None))
                         for v in map(_value, self.constants))  # fmt: skip
        return sig

    def fprop(self, feed: Mapping[Any, Any]) -> Any:
        """Every node's value, into the plan's buffers; returns the output's value (a scalar
        output as a fresh 0-d array: it outlives the step)."""
        graph, inputs = self.graph, self.inputs
        try:  # the common case: the feed keyed by this graph's Input nodes, with arrays
            values = list(map(feed.__getitem__, inputs))
            fast = len(feed) == len(inputs) and list(map(type, values)).count(_ndarray) == len(
                values
            )
        except (KeyError, TypeError, AttributeError):
            fast = False
        if not fast:
            graph.give_inputs(feed, None)  # checked as Graph.fprop checks it (raising as it)
            values = [i.value for i in inputs]
        sig = self.signature_of(values)
        if sig != self.signature:
            self.signature = sig
            self.buffers = self.memory.setdefault(sig, _Buffers())
        bufs = self.buffers
        assert bufs is not None  # (set above for every signature)
        stamp = object()
        graph.accept_fprop(None)
        for i, v in zip(inputs, values):
            i.value = v
            i.fprop_stamp = stamp
        if bufs.fsteps is None:  # the first step of these shapes: buffers made from it
            self.first_fprop(bufs, stamp)
        elif self.straight:
            bufs.fprop(stamp)  # the later steps: the loop of planned_fprop, unrolled
        else:
            self.planned_fprop(bufs.fsteps, stamp)
        graph.accept_fprop(stamp)
        self.stamp = stamp
        out = self.output.value
        return np.array(out) if type(out) is _ndarray and out.ndim == 0 else out

    def first_fprop(self, bufs: _Buffers, stamp: object) -> None:
        """The boxes as ``Graph.fprop`` runs them; then for later calls, each box's kernel
        with a buffer for its value, else its fprop with a buffer bound (``out=``) where it
        takes one and the value is not small, else its fprop as it is."""
        steps = []
        node = None
        try:
            for node, with_out in zip(self.nodes, self.fprop_out):
                box: Any = node.box  # (the plan holds box nodes; out=: the hot boxes)
                values = list(map(_value, node.children))
                value = box.fprop(*values)
                node.value = value
                node.fprop_stamp = stamp
                call = None
                if self.kernels:  # (a new buffer like the value, where it is an array)
                    out = np.empty_like(value) if type(value) is _ndarray else None
                    call = fprop_kernel_of(box, values, out, bufs.shared.setdefault(id(node), {}))
                if call is not None:
                    bufs.buffered.add(id(node))
                elif with_out and type(value) is _ndarray and value.size >= self.small:
                    call = functools.partial(box.fprop, out=np.empty_like(value))
                    bufs.buffered.add(id(node))
                else:
                    call = box.fprop
                steps.append((node, call, node.children))
        except Exception as e:
            raise _failed(e, node, "fprop") from e
        bufs.fsteps = steps
        bufs.fprop = straight_fprop(steps, lambda e, j: self.explained(e, *steps[j][:2]))

    def planned_fprop(self, steps: list[tuple], stamp: object) -> None:
        node = call = None
        try:
            for node, call, children in steps:
                node.value = call(*map(_value, children))
                node.fprop_stamp = stamp
        except Exception as e:
            raise self.explained(e, node, call) from e

    @staticmethod
    def explained(error: Exception, node: Node | None, call: Any) -> Exception:
        """The error of a planned fprop at ``node``: a kernel's, explained by the box's own
        (checked) fprop on the same values where that raises (a changed shape slipped past
        the signature)."""
        if node is not None and call is not None and not isinstance(error, FlowgraphError):
            box: Any = node.box
            if call != box.fprop and not isinstance(call, functools.partial):  # a kernel
                try:
                    box.fprop(*map(_value, node.children))
                except Exception as checked:
                    return _failed(checked, node, "fprop")
        return _failed(error, node, "fprop")

    # -- bprop -----------------------------------------------------------------------------
    def bprop(self, grad_output: Any = None) -> None:
        """Every parameter's gradient, into the plan's buffers (as ``graph.bprop()``, whose
        checks it shares: values of this graph's last fprop, gradients of their shapes)."""
        graph, out = self.graph, self.output
        graph.check_fresh(out)
        if out.fprop_stamp is not self.stamp:  # values of another fprop (the graph's own)
            self.unplanned_bprop(grad_output)
            return
        bufs = self.buffers
        if bufs is None or bufs.fsteps is None:
            raise FlowgraphError("StepPlan.bprop before StepPlan.fprop")
        if bufs.folded != self.folded_ids:  # folded or unfolded since: compiled again
            bufs.bsteps = bufs.kernels = None
            bufs.folded = self.folded_ids
        seed = graph.seed(out, grad_output)
        kernels = bufs.kernels
        if kernels is not None and getattr(seed, "dtype", None) == kernels.seed:
            out.grad = seed
            if self.straight:  # kernel_backward's loop, unrolled (flowgraph.step.straight)
                kernels.run(bufs)
                if kernels.zeros:
                    self.zero_unreached(kernels)
            else:
                self.kernel_backward(bufs, kernels)
            return
        for n in graph.order:
            n.grad = None
        out.grad = seed
        complete = self.backward(bufs)
        for t in self.unreached if complete else self.targets:  # a zero gradient, not None
            if id(t) in self.folded:
                continue
            if getattr(t, "grad_outer", None) is None and t.grad is None:
                t.grad = np.zeros_like(t.value)

    def unplanned_bprop(self, grad_output: Any) -> None:
        """``graph.bprop`` itself, when the values are not those of this plan's last fprop
        (the graph's own fprop, or another plan's, ran since): its kernels would read what
        this plan's fprop left (``shared=``, the buffers), not those values."""
        graph, planned = self.graph, self.graph.planned
        graph.planned = None
        try:
            graph.bprop(output=self.output, grad_output=grad_output)
        finally:
            graph.planned = planned

    def backward(self, bufs: _Buffers) -> bool:
        """The lecture's loop over the plan's boxes, in reverse order; False when a box gave
        no gradient for a child that needs one. Where every box has a bprop kernel, they
        are made on the way for the later steps of these buffers (:meth:`link`)."""
        if bufs.bsteps is None:
            bufs.bsteps = self.compile_bprop(bufs)
        complete = True
        checked = self.graph.checked_gradient
        made: list[tuple] | None = [] if self.kernels and bufs.kernels is None else None
        for node, call, children, wants, fold, needs, kout in bufs.bsteps:
            grad = node.grad
            if grad is None:  # its parents gave it no gradient
                complete = False
                continue
            values = list(map(_value, children))
            try:
                grads = call(values, node.value, grad)
            except NonFiniteError:
                raise
            except Exception as e:
                raise _failed(e, node, "bprop") from e
            if type(grads) is not tuple or len(grads) != len(children):
                grads = self.graph.gradient_tuple(node, grads)
            if made is not None:
                kernel = None
                if kout is not None:  # (a box with a kernel, asked before W moves)
                    kernel = bprop_kernel_of(node.box, values, node.value, grad, needs, kout,
                                             bufs.shared.setdefault(id(node), {}))  # fmt: skip
                if kernel is None:
                    made = None
                else:
                    made.append((node, kernel, children, wants, fold))
            if fold is not None:  # W <- W - alpha grad_a^T h, now that grad_h is taken
                fold_sgd_update(values[1], fold.lr, grad, values[0])
            for i, child in wants:
                g = grads[i]
                if g is None:
                    complete = False
                    continue
                if type(g) is not _ndarray or g.shape != child.value.shape:
                    g = checked(node, child, g)
                if child.grad is None:
                    child.grad = g
                else:
                    self.accumulate(bufs, child, g)
        if made is not None and complete:
            bufs.kernels = self.link(made)
        return complete

    def compile_bprop(self, bufs: _Buffers) -> list[tuple]:
        """The bprop steps of these buffers: (node, the box's method with its needs and
        buffers bound, children, (index, child) per child that needs a gradient, the folded
        SGD or None, the needs, the buffers its kernel writes into or None). A gradient's
        buffer is made like the value it differentiates."""
        steps = []
        for (node, needs), (method, takes_needs, wants_out) in zip(self.bplan, self.bprop_calls):
            fold, needs = self.fold_of(node, needs) if self.folded else (None, needs)
            kernel = self.kernels and kernels_of(type(node.box))[1]
            kout = None
            if kernel:  # a buffer for every gradient, whatever its size
                kout = tuple(
                    self.gradient_buffer(bufs, node, c, 1) if k else None
                    for c, k in zip(node.children, needs)
                )
            kw = {}
            if wants_out:
                kw["out"] = kout if kout is not None else tuple(
                    self.gradient_buffer(bufs, node, c, self.small) if k else None
                    for c, k in zip(node.children, needs)
                )
            call = _bind(method, (needs,) if takes_needs else (), kw)
            wants = tuple((i, c) for i, (c, k) in enumerate(zip(node.children, needs)) if k)
            steps.append((node, call, node.children, wants, fold, needs, kout))
        return steps

    def link(self, made: list[tuple]) -> _Kernels:
        """The kernel steps of a complete first bprop, with which gradient each sets (its
        child's first, in this order) and which it adds (a second parent's)."""
        out = self.output
        seen = {id(out)}
        steps = []
        for node, kernel, children, wants, fold in made:
            sets, adds = [], []
            for i, child in wants:
                if id(child) in seen:
                    adds.append((i, child))
                else:
                    seen.add(id(child))
                    sets.append((i, child, isinstance(child, Parameter)))
            steps.append((node, kernel, children, tuple(sets), tuple(adds), fold))
        clear = [n for n in self.graph.order if id(n) not in seen]
        kernels = _Kernels(steps, clear, self.unreached, getattr(out.grad, "dtype", None))
        kernels.run = straight_backward(steps, clear, self.accumulate,
                                        lambda e, j: _failed(e, steps[j][0], "bprop"))  # fmt: skip
        return kernels

    def kernel_backward(self, bufs: _Buffers, kernels: _Kernels) -> None:
        """The loop of :meth:`backward` with kernels, its bookkeeping fixed: a box's first
        gradient of a child is set, a second one added in place (as backward does)."""
        for n in kernels.clear:
            n.grad = None
        accumulate = self.accumulate
        node = None
        try:
            for node, kernel, children, sets, adds, fold in kernels.steps:
                values = list(map(_value, children))
                grad = node.grad
                grads = kernel(values, node.value, grad)
                if fold is not None:  # W <- W - alpha grad_a^T h, now that grad_h is taken
                    fold_sgd_update(values[1], fold.lr, grad, values[0])
                for i, child, parameter in sets:
                    g = grads[i]
                    # a Parameter's setter keeps factors u v^T for SGD's ger; elsewhere they
                    # become the array
                    child.grad = g if parameter or type(g) is not Outer else g.materialize()
                for i, child in adds:
                    g = grads[i]
                    accumulate(bufs, child, g if type(g) is not Outer else g.materialize())
        except NonFiniteError:
            raise
        except Exception as e:
            raise _failed(e, node, "bprop") from e
        self.zero_unreached(kernels)

    def zero_unreached(self, kernels: _Kernels) -> None:
        for t in kernels.zeros:  # reached by no box: a zero gradient (as Graph.bprop)
            if id(t) not in self.folded:
                t.grad = np.zeros_like(t.value)

    def gradient_buffer(self, bufs: _Buffers, node: Node, child: Node,
                        small: int) -> np.ndarray | None:  # fmt: skip
        """The buffer ``node``'s box writes ``child``'s gradient into (None for a child that
        is not a float array, or one of fewer than ``small`` elements: the box then returns
        a fresh one)."""
        key = (id(node), id(child))
        buf = bufs.out.get(key)
        if buf is None:
            v = child.value
            ok = type(v) is _ndarray and v.size >= max(small, 1) and v.dtype.kind == "f"
            buf = bufs.out[key] = np.empty_like(v) if ok else None
        return buf

    @staticmethod
    def accumulate(bufs: _Buffers, child: Node, g: Any) -> None:
        """child.grad += g, in place into the child's own buffer (never into an array that
        a box returned as it was given: Add and Identity pass gradients through)."""
        current = child.grad
        own = bufs.grad.get(id(child))
        if own is None or own.shape != np.shape(current):
            own = bufs.grad[id(child)] = np.empty(np.shape(current), np.result_type(current, g))
        if current is own:
            own += g
        else:
            child.grad = np.add(current, g, out=own)

    # -- the opt-in SGD fold ---------------------------------------------------------------
    def fold(self, optimizer: Any) -> list[Parameter]:
        """Fold plain SGD (``optimizer``: momentum 0, no weight decay, not maximising) into
        the weight-gradient products: each weight read by one plain Linear box only is
        updated during bprop and gets no ``grad``; the optimiser's step skips it. Returns
        the folded weights (none when the optimiser is not plain SGD; ``fold(None)`` undoes
        the fold)."""
        return foldable_weights(self, optimizer)

    def fold_of(self, node: Node, needs: tuple) -> tuple[Any, tuple]:
        """(the folded SGD of this Linear's W, or None; the needs without W when folded)."""
        if len(node.children) == 3:
            opt = self.folded.get(id(node.children[1]))
            if opt is not None and needs[1]:
                return opt, (needs[0], False, needs[2])
        return None, needs

    def release(self) -> None:
        """Let go of every buffer (they are made again at the next step): one set is kept per
        signature seen (the full batch, the last smaller one, a float64 check...)."""
        self.memory.clear()
        self.buffers = self.signature = None

    # -- the plan as code --------------------------------------------------------------------
    def __str__(self) -> str:
        from .code import plan_code  # (printing only)

        return plan_code(self)

    def __repr__(self) -> str:
        n = len(self.memory)
        return (f"<StepPlan of {self.output.describe()}: {len(self.nodes)} boxes forward, "
                f"{len(self.bplan)} backward, buffers for {n} shape(s)>")  # fmt: skip


def _bind(method: Any, args: tuple, kw: dict) -> Any:
    """``method(inputs, output, grad_output, *args, **kw)`` as a function of the first three."""
    if not args and not kw:
        return method
    if not kw:
        return lambda inputs, output, grad, _m=method, _a=args: _m(inputs, output, grad, *_a)
    return lambda inputs, output, grad, _m=method, _a=args, _k=kw: _m(
        inputs, output, grad, *_a, **_k
    )


def _failed(error: Exception, node: Node | None, stage: str) -> Exception:
    """The error of a box in the plan, naming its node, box and input shapes."""
    if isinstance(error, NonFiniteError) or node is None:
        return error
    box: Any = node.box
    shapes = ", ".join(
        f"{box.input_name(i)}={np.shape(c.value)}" for i, c in enumerate(node.children)
    )
    msg = f"{stage} of node {node.describe()} (step plan) on inputs {shapes} failed: {error}"
    return type(error)(msg) if isinstance(error, FlowgraphError) else BoxError(msg)
