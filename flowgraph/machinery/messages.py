"""The engine's error sentences: which node failed, in which box, on which shapes.

A failure inside a box is re-raised naming the node, the box and its inputs' shapes; a wrong
gradient names the box, the child and both shapes; a non-finite value its first bad index
and whether the box's inputs were finite; a feed what it lacks or holds too much. The Graph
calls these in one line each, so that its loops read as the lecture's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import BoxError, FeedError, FlowgraphError, NonFiniteError

__all__ = ["augment", "wrong_shape", "wrong_gradients", "refuse_non_finite", "check_feed_keys",
           "missing_feed"]  # fmt: skip

Node: TypeAlias = Any  # a node of flowgraph.core, known by describe(), children, value, box


def shapes(values: Iterable[Any]) -> str:
    """``(4, 3) float64, None``: the shapes and dtypes of ``values``."""
    return ", ".join(
        f"{np.shape(v)} {getattr(v, 'dtype', type(v).__name__)}" if v is not None else "None"
        for v in values
    )


def augment(error: Exception, node: Node, stage: str, values: Sequence[Any]) -> Exception:
    """``error``, raised by ``stage`` ("fprop", "bprop") of ``node``'s box on ``values``, as
    the same kind of error (a BoxError for one that is not flowgraph's) naming the node, the
    box and the inputs' shapes."""
    names = [node.box.input_name(i) for i in range(len(values))] if node.box else []
    given = ", ".join(f"{n}={np.shape(v)}" for n, v in zip(names, values))
    msg = f"{stage} of node {node.describe()} on inputs {given} failed: {error}"
    return type(error)(msg) if isinstance(error, FlowgraphError) else BoxError(msg)


def wrong_shape(node: Node, child: Node, grad: Any) -> BoxError:
    """The error for a gradient ``grad`` that ``node``'s box returned for ``child`` in a shape
    other than the child's value's."""
    return BoxError(
        f"bprop of node {node.describe()} returned a gradient of shape {np.shape(grad)} for "
        f"its child {child.describe()}, whose value has shape {np.shape(child.value)}: a "
        "gradient has the shape of what it differentiates (sum it over the axes that fprop "
        "broadcast)"
    )


def wrong_gradients(node: Node, grads: Any) -> BoxError:
    """The error for a bprop that returned something else than one gradient per child."""
    n = len(node.children)
    sized = isinstance(grads, (tuple, list))
    what = f"{len(grads)} gradients" if sized else f"a {type(grads).__name__}"
    return BoxError(
        f"bprop of node {node.describe()} returned {what} for its {n} children: "
        "return a tuple with one gradient per child (None for a child without one)"
    )


def refuse_non_finite(node: Node, value: Any, what: str) -> None:
    """Raise a NonFiniteError naming ``node`` when ``value`` (its ``what``: its output, a
    gradient) holds NaN or inf: the first bad index, and whether its inputs were finite."""
    if np.all(np.isfinite(value)):
        return
    arr = np.asarray(value)
    bad = np.argwhere(~np.isfinite(arr))
    first = tuple(int(i) for i in bad[0]) if arr.ndim else ()
    children = [c.value for c in node.children]
    finite_in = all(np.all(np.isfinite(c)) for c in children if c is not None)
    cause = "its inputs are all finite" if finite_in else "one of its inputs is not finite"
    raise NonFiniteError(
        f"node {node.describe()}: {what} holds {len(bad)} non-finite value(s), first at "
        f"index {first} = {arr[first] if arr.ndim else arr}; {cause} "
        f"(input shapes: {shapes(children)})"
    )


def missing_feed(inputs: Sequence[Node], inp: Node, feed: Mapping[Any, Any]) -> FeedError:
    """The error for a feed without a value for the Input ``inp`` (one of ``inputs``)."""
    msg = f"no value fed for Input {inp.name!r}; the graph's inputs are {[i.name for i in inputs]}"
    if any(hasattr(k, "describe") and k is not inp and k.name == inp.name for k in feed):
        msg += (
            f" (the feed holds another node named {inp.name!r}: one from another graph? "
            "feed this graph's Input, or its name)"
        )
    return FeedError(msg)


def check_feed_keys(inputs: Sequence[Node], feed: Mapping[Any, Any]) -> None:
    """Refuse a feed that names something other than the Inputs (by node or by name)."""
    known = {i.name for i in inputs}
    for key in feed:
        if isinstance(key, str) and key not in known:
            raise FeedError(
                f"feed names {key!r}, which is not an Input of this graph "
                f"(inputs: {sorted(known)})"
            )
        if hasattr(key, "describe") and not any(key is i for i in inputs):
            raise FeedError(
                f"feed holds node {key.describe()}, which is not an Input of this graph "
                f"(inputs: {sorted(known)})"
            )
