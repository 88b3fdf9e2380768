"""What a box offers a step plan: which method gives its gradients, whether it takes
``out=``, and whether the plan may ask it for kernels (:mod:`flowgraph.step.plan`).

A box may define two optional methods for the plan, in its own file beside its fprop and
bprop (:class:`~flowgraph.core.box.Box` does not define them; the checker holds both to the
box's own methods, bit for bit, :func:`flowgraph.check_box`):

``fprop_kernel(inputs, out) -> kernel or None``
    A function ``kernel(*inputs) -> output`` that the plan calls instead of ``fprop`` at the
    later steps of the shapes and dtypes of ``inputs``, values that ``fprop`` has just
    accepted: fprop's operations in fprop's order (so the same bits), written into ``out``
    (the plan's buffer of the output's shape and dtype), without the checks that depend on
    shapes and dtypes only. What depends on the values themselves (labels in range) is still
    checked, and raises as fprop raises. None: the plan calls ``fprop``. A kernel keeps no
    state beyond ``out``, what its signature fixes and ``shared`` (below).

``bprop_kernel(inputs, output, grad_output, needs, out) -> kernel or None``
    Likewise for ``bprop_needed(inputs, output, grad_output, needs)``: a function
    ``kernel(inputs, output, grad_output) -> tuple`` with one gradient per input (None where
    ``needs`` is False), each in its input's shape and dtype, written into ``out`` (one
    buffer or None per input) with the operations of ``bprop_needed``. None: the plan calls
    ``bprop_needed``.

Either may also take ``shared=`` (:func:`takes_shared`): a dict the plan keeps per node and
signature and hands to both, in which the fprop kernel leaves what its step's bprop kernel
reads again instead of computing it twice; a bprop kernel that finds nothing there returns
None, and the checker runs the two in that order, at two steps' values.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ..core.box import Box

__all__ = ["takes_out", "takes_shared", "bprop_method", "kernels_of", "fprop_kernel_of",
           "bprop_kernel_of"]


@functools.cache
def takes_out(fn: Any, name: str = "out") -> bool:
    """Whether the method ``fn`` (of a box class) takes an ``out=`` argument (or ``name``)."""
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin or an odd callable: no
        return False


def takes_shared(fn: Any) -> bool:
    """Whether the kernel maker ``fn`` (``fprop_kernel``, ``bprop_kernel`` of a box class)
    takes ``shared=``: a dict the plan keeps per node and signature and hands to both, in
    which the fprop kernel may leave what its step's bprop kernel reads again (the same
    numbers, not recomputed: SoftmaxCrossEntropy's exp(a - m)). A bprop kernel that reads it
    returns None where the fprop kernel left nothing; the checker runs them in that order."""
    return takes_out(fn, "shared")


def bprop_method(box: Box) -> tuple[Any, bool, bool]:
    """(the bound method the plan calls for ``box``'s gradients, whether it takes ``needs``,
    whether it takes ``out``): ``bprop_needed`` where the box defines a fast path, else
    ``bprop``, as ``Graph.bprop`` calls them."""
    cls = type(box)
    if cls.bprop_needed is not Box.bprop_needed:
        return box.bprop_needed, True, takes_out(cls.bprop_needed)
    return box.bprop, False, takes_out(cls.bprop)


def _owner(cls: type, name: str) -> type:
    """The class of ``cls``'s MRO that defines the method ``name``."""
    return next(c for c in cls.__mro__ if name in c.__dict__)


def kernels_of(cls: Any) -> tuple[bool, bool]:
    """(whether the plan may ask ``cls`` for an fprop kernel, for a bprop kernel): where the
    class defines one at or below the class whose fprop (bprop and bprop_needed) it mirrors,
    so that a subclass that redefines the math without its kernels gets none."""
    return _kernel_flags(cls)  # (typed here: mypy takes a class for no Hashable)


@functools.cache
def _kernel_flags(cls: Any) -> tuple[bool, bool]:
    f = hasattr(cls, "fprop_kernel") and issubclass(
        _owner(cls, "fprop_kernel"), _owner(cls, "fprop")
    )
    b = hasattr(cls, "bprop_kernel")
    if b:
        own = _owner(cls, "bprop_kernel")
        b = issubclass(own, _owner(cls, "bprop")) and issubclass(own, _owner(cls, "bprop_needed"))
    return f, b


def fprop_kernel_of(box: Any, inputs: list[Any], out: Any, shared: dict) -> Any:
    """``box.fprop_kernel(inputs, out)`` (with ``shared=`` where it takes it), or None where
    the plan may not ask this box for one."""
    cls = type(box)
    if not kernels_of(cls)[0]:
        return None
    if takes_shared(cls.fprop_kernel):
        return box.fprop_kernel(inputs, out, shared=shared)
    return box.fprop_kernel(inputs, out)


def bprop_kernel_of(box: Any, inputs: list[Any], output: Any, grad: Any, needs: tuple,
                    out: tuple, shared: dict) -> Any:  # fmt: skip
    """``box.bprop_kernel(inputs, output, grad, needs, out)`` (with ``shared=`` where it takes
    it), or None where the plan may not ask this box for one."""
    cls = type(box)
    if not kernels_of(cls)[1]:
        return None
    if takes_shared(cls.bprop_kernel):
        return box.bprop_kernel(inputs, output, grad, needs, out, shared=shared)
    return box.bprop_kernel(inputs, output, grad, needs, out)
