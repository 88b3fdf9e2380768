"""Feeds: data as a model's graph reads it, checked in one place.

A *feed* is a dict from Input names (or Input nodes) to arrays whose first axis runs over the
examples t = 1 .. N, all of the same length N. ``(X, y)`` is short for ``{"x": X, "y": y}`` on
a model whose Inputs are named x and y (as :func:`flowgraph.mlp`'s are); one array X is short
for ``{"x": X}`` when the graph reads one Input. :func:`make_feed` turns any of these into a
:class:`Feed` ``{Input: array}``: every array checked (numbers, one length N > 0, no NaN or
inf, integer labels in [0, C)), in the model's dtype, with the model's preprocessing applied
to x, once (x -> x').

    >>> import numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 3], seed=0)
    >>> feed = model.as_feed((np.zeros((4, 2)), np.array([0, 1, 2, 0])))
    >>> sorted((node.name, a.shape) for node, a in feed.items())
    [('x', (4, 2)), ('y', (4,))]
    >>> model.as_feed(feed) is not feed and model.as_feed(feed)[model.x] is feed[model.x]
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import Graph, Input
from ..errors import DataError, FeedError, LabelError

if TYPE_CHECKING:  # the Model is built on feeds; feeds only name it in hints
    from .model import Model

__all__ = ["Feed", "check_labels", "first_bad", "make_feed", "named_arrays", "xy_names"]


class Feed(dict):
    """A feed as :meth:`Model.as_feed` returns it: ``{Input: array}`` as the graph reads it,
    checked, in the model's dtype, with the model's preprocessing already applied to x (x').

    Given back to the model that made it (to ``forward``, ``error``, ``evaluate``,
    ``fg.train``, ...), a Feed is taken as it is: the preprocessing is never applied twice. Any
    other dict, a plain copy of a Feed included, is data as the user has it (raw)."""

    __slots__ = ("model", "checked")

    def __init__(self, items: Any = (), *, model: Model | None = None, checked: bool = False):
        super().__init__(items)
        self.model, self.checked = model, checked


def first_bad(a: np.ndarray) -> tuple[int, ...]:
    """The index of the first NaN or inf of ``a`` (row-major), as a tuple."""
    flat = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
    return tuple(int(i) for i in np.unravel_index(flat, a.shape))


def check_labels(y: Any, n: int, n_classes: int | None, what: str, *, whole_floats: bool = False):
    """Class labels as an int64 array of shape (n,), or a LabelError saying what is wrong.

    Nothing is broadcast: a column (n, 1), another length, floats (unless ``whole_floats``
    and every value is a whole number), strings or booleans are refused, and so are labels
    outside [0, n_classes) when the class count is known."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        hint = " (a column: pass y.ravel())" if y.shape == (n, 1) else ""
        raise LabelError(f"{what}: labels y must have shape ({n},), got {y.shape}{hint}")
    if y.dtype.kind not in "iu":
        whole = y.dtype.kind == "f" and bool(np.all(np.isfinite(y))) and bool(np.all(y % 1 == 0))
        if not (whole_floats and whole):
            raise LabelError(
                f"{what}: labels y must be integers, got dtype {y.dtype}"
                + (" (convert with y.astype(int))" if whole else "")
            )
    if n and n_classes is not None and (y.min() < 0 or y.max() >= n_classes):
        raise LabelError(f"{what}: labels must lie in [0, {n_classes}), found {y.min()}..{y.max()}")
    return y.astype(np.int64, copy=False)


# -- from what the user gives to {name: array} --------------------------------------------------


def named_arrays(model: Model, data: Any, y: Any, what: str, target: Graph) -> dict[str, Any]:
    """``data`` (a feed dict keyed by names or Inputs, ``(X, y)``, ``X, y``, or one array X
    when ``target`` reads one Input) as ``{Input name: array}``; keys must name Inputs of
    ``model``."""
    if isinstance(data, Mapping):
        if y is not None:
            raise TypeError(f"{what}: pass either a feed dict or (X, y), not both")
        named: dict[str, Any] = {}
        known = {i.name for i in model.inputs}
        for key, value in data.items():
            name = key.name if isinstance(key, Input) else key
            if isinstance(key, Input) and not any(key is i for i in model.inputs):
                raise FeedError(
                    f"{what}: the feed holds Input {key.name!r} of another graph; this "
                    f"model's inputs are {sorted(known)}"
                )
            if not isinstance(name, str) or name not in known:
                raise FeedError(
                    f"{what}: the feed names {key!r}, which is not an Input of this model "
                    f"(inputs: {sorted(known)})"
                )
            named[name] = value
        return named
    if y is None and isinstance(data, tuple):
        if len(data) != 2:
            raise TypeError(f"{what} must be an (X, y) tuple or a feed dict")
        data, y = data
    if y is not None:
        x_name, y_name = xy_names(model, what)
        return {x_name: data, y_name: y}
    if isinstance(data, (np.ndarray, list)) and len(target.inputs) == 1:
        return {target.inputs[0].name: data}
    raise TypeError(
        f"{what} must be a feed {{input name: array}} or an (X, y) tuple, got {type(data).__name__}"
    )


def xy_names(model: Model, what: str) -> tuple[str, str]:
    """Where ``(X, y)`` goes: the Inputs named x and y, else the one Input the output reads
    and the one only the loss reads (the labels, for a classifier)."""
    names = {i.name for i in model.inputs}
    if {"x", "y"} <= names:
        return "x", "y"
    target = model.labels if model.labels is not None else (
        model.targets[0] if len(model.targets) == 1 else None
    )  # fmt: skip
    if len(model.features) == 1 and target is not None:
        return model.features[0].name, target.name  # type: ignore[return-value]
    raise TypeError(
        f"{what}: (X, y) is for models with one data Input and one target Input (x and y); "
        f"this one has {sorted(names)}: pass a feed dict {{name: array}}"
    )


# -- the feed of one graph ------------------------------------------------------------------


def make_feed(
    model: Model, data: Any, y: Any, target: Graph, *, graph: str, what: str, check: bool,
    preprocess: bool,
) -> Feed:  # fmt: skip
    """The :class:`Feed` of ``target`` (one of ``model``'s graphs, called ``graph`` in
    messages) from ``data``: see :meth:`Model.as_feed`. A Feed the model made is cut to what
    ``target`` reads, nothing applied again."""
    if isinstance(data, Feed) and data.model is model:  # made here: x' already
        if y is not None:
            raise TypeError(f"{what}: pass either a feed or (X, y), not both")
        return _refeed(model, data, target, graph, what, check)
    named = named_arrays(model, data, y, what, target)
    pre = model.preprocessing if preprocess else None
    feed = Feed(model=model, checked=check)
    for node in target.inputs:
        if node.name not in named:
            raise FeedError(
                f"{what}: no array for Input {node.name!r}; this {graph} graph reads "
                f"{[i.name for i in target.inputs]}, the data holds {sorted(named)}"
            )
        value = named[node.name]
        if pre is not None and node.name == "x":
            value = model.preprocess(node, value, what)
        feed[node] = model.prepare(node, value, what)
    if check:
        check_feed(model, feed, what)
    return feed


def _refeed(model: Model, feed: Feed, target: Graph, graph: str, what: str, check: bool) -> Feed:
    """The part of one of ``model``'s Feeds that ``target`` reads (nothing applied again)."""
    out = Feed(model=model, checked=feed.checked)
    for node in target.inputs:
        if node not in feed:
            raise FeedError(
                f"{what}: no array for Input {node.name!r}; this {graph} graph reads "
                f"{[i.name for i in target.inputs]}, the feed holds "
                f"{sorted(k.name for k in feed)}"
            )
        out[node] = feed[node]
    if check and not out.checked:
        check_feed(model, out, what)
        out.checked = True
    return out


def check_feed(model: Model, feed: dict[Input, np.ndarray], what: str) -> None:
    """Verify ``feed`` in place: numbers, a first axis of one length N > 0, integer labels in
    [0, C) (whole floats become integers), no NaN or inf; a DataError or LabelError names the
    array and, for a non-finite value, its first index."""
    lengths = {}
    for node, a in feed.items():
        if a.dtype.kind not in "biuf":
            raise DataError(
                f"{what}: array {node.name!r} has dtype {a.dtype}; feed numbers "
                "(floats for data, integers for labels)"
            )
        if a.ndim == 0:
            raise DataError(
                f"{what}: array {node.name!r} is a scalar; every fed array needs a first "
                "axis over the examples (shape (N, ...))"
            )
        lengths[node.name] = a.shape[0]
    labels = model.labels
    if labels is not None and labels in feed:
        n = next((lengths[k.name] for k in feed if k is not labels), None)
        if n is not None:
            feed[labels] = check_labels(feed[labels], n, model.n_classes, what, whole_floats=True)
    if len(set(lengths.values())) > 1:
        sizes = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise DataError(
            f"{what}: the arrays must have the same length along axis 0 (one row per "
            f"example): {sizes}"
        )
    if lengths and next(iter(lengths.values())) == 0:
        raise DataError(
            f"{what}: no examples (0 rows in {sorted(lengths)}); an empty batch or split "
            "has no loss and no error"
        )
    for node, a in feed.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            idx = first_bad(a)
            raise DataError(
                f"{what}: array {node.name!r} holds {a[idx]} at index {idx} ({bad} "
                "non-finite value(s) in all): bad data, not a training problem; remove or "
                "impute those rows first"
            )
