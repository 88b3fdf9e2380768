"""One epoch's mini-batches: the training feed in a fresh random order, cut into slices.

Each epoch draws a permutation pi of the N examples from the run's generator and visits
pi[0:B], pi[B:2B], ... (the last batch may be smaller): every example once per epoch, in an
order reproducible from the seed. The running training error counts the examples whose
scores' argmax is not their label: each step's predicted classes kept in one array, compared
with the epoch's labels once, at its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..boxes import Softmax
from ..core import Node

__all__ = ["Batches", "running_scores"]

GATHER_BYTES = 1 << 22  # data of 4 MiB or more (measured: benchmarks/, the 784-wide rows)...
GATHER_BATCH = 16  # ...in batches of 16 or more are gathered batch by batch (Batches.epoch)


def same_computation(a: Node, b: Node) -> bool:
    """True when nodes ``a`` and ``b`` compute the same value: the same node, or boxes of one
    type with equal settings on children that compute the same values (``x @ V.T`` built twice
    is two nodes, one computation). Leaves are the same only when they are one node."""
    if a is b:
        return True
    if a.box is None or b.box is None or type(a.box) is not type(b.box):
        return False
    if len(a.children) != len(b.children) or not equal_settings(a.box, b.box):
        return False
    return all(same_computation(c, d) for c, d in zip(a.children, b.children))


def equal_settings(p: Any, q: Any) -> bool:
    """Two boxes of one type hold equal attributes (their settings; arrays compared whole)."""
    u, v = getattr(p, "__dict__", {}), getattr(q, "__dict__", {})
    if u.keys() != v.keys():
        return False
    try:
        return all(np.array_equal(u[k], v[k]) if isinstance(u[k], np.ndarray) else
                   bool(u[k] == v[k]) for k in u)  # fmt: skip
    except (TypeError, ValueError):  # attributes that do not compare: not known to be equal
        return False


def running_scores(model: Any) -> Node | None:
    """The node of the training graph whose argmax is the predicted class (for the running
    training error): the output itself, or the scores a softmax output is computed from
    (argmax softmax(a) = argmax a), or a node of the training graph that computes the same
    value as one of these (the output's scores built a second time); None without a
    classification output or when the training graph computes no such node."""
    if not model.classifier or model.output is None:
        return None
    on_path = {id(n) for n in model.train_graph.order}
    out = model.output
    candidates = [getattr(model, "logits", None), out]
    if isinstance(out.box, Softmax) and out.children:
        candidates.append(out.children[0])
    candidates = [c for c in candidates if c is not None]
    found = next((c for c in candidates if id(c) in on_path), None)
    if found is not None:
        return found
    return next((n for c in candidates for n in model.train_graph.order
                 if n.box is not None and same_computation(c, n)), None)  # fmt: skip


class Batches:
    """The checked training ``feed`` ({Input: array}) of ``model``, in batches of ``batch_size``.

    >>> import flowgraph as fg
    >>> model = fg.mlp([2, 3], seed=0)
    >>> X, y = np.zeros((5, 2), np.float32), np.array([0, 1, 2, 0, 1])
    >>> b = Batches(model, model.as_feed((X, y)), batch_size=2)
    >>> [len(parts[0]) for _, parts in b.epoch(np.random.default_rng(0))]
    [2, 2, 1]
    """

    def __init__(self, model: Any, feed: Any, batch_size: int):
        self.nodes = list(feed)
        self.arrays = [np.ascontiguousarray(feed[k]) for k in self.nodes]
        self.n = len(self.arrays[0])
        self.batch_size = int(batch_size)
        self.scores = running_scores(model)
        self.labels_at = next((i for i, k in enumerate(self.nodes) if k is model.labels), None)
        # a classifier whose training graph computes no scores: its output, computed apart
        self.output = None
        if self.scores is None and model.classifier and model.output is not None:
            self.output = model.output
            self.predict = model.predict_graph
        if self.labels_at is None:
            self.scores = self.output = None
        # the running count of one epoch (count, wrong_in_epoch): the predicted classes of the
        # training graph's scores, one array per epoch, compared with the labels at its end
        labels = self.arrays[self.labels_at] if self.labels_at is not None else None
        self.vectorised = self.scores is not None and labels is not None and labels.ndim == 1
        self.predicted = np.empty(self.n, np.intp) if self.vectorised else None
        self.epoch_labels: np.ndarray | None = None  # this epoch's labels, in its order
        self.counted = 0  # the examples whose prediction is in `predicted` (from the first)
        self.wrong_apart = 0  # those counted batch by batch (after the array failed)
        # large data in batches of 16 or more: each batch gathered by itself (the same rows),
        # not a shuffled copy of the whole set per epoch, whose fresh pages cost more than
        # the gather (smaller batches: the copy, cut into views, is cheaper per step)
        large = sum(a.nbytes for a in self.arrays) >= GATHER_BYTES
        self.gather = large and self.batch_size >= GATHER_BATCH

    @property
    def counts_errors(self) -> bool:
        """True when the running training error is counted (a classifier with labels fed)."""
        return self.scores is not None or self.output is not None

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple[dict[Any, np.ndarray], list]]:
        """The batches of one epoch, ``(feed, parts)``, in an order drawn from ``rng``: views
        of one shuffled copy of the data, or (``gather``) each batch's rows gathered apart."""
        perm = rng.permutation(self.n)
        at, nodes, size = self.labels_at, self.nodes, self.batch_size
        self.counted = self.wrong_apart = 0
        if self.gather:  # each batch's rows gathered apart: no copy of the whole set
            labels = self.arrays[at] if self.vectorised and at is not None else None
            self.epoch_labels = labels[perm] if labels is not None else None
            for i in range(0, self.n, size):
                rows = perm[i : i + size]
                parts = [a[rows] for a in self.arrays]
                yield dict(zip(nodes, parts)), parts
            return
        shuffled = [a[perm] for a in self.arrays]  # one copy per epoch; batches are views
        self.epoch_labels = shuffled[at] if self.vectorised and at is not None else None
        if len(nodes) == 2:  # (x, y): the batch dict as a literal, the common case's fast path
            x, y = shuffled
            for i in range(0, self.n, size):
                parts = [x[i : i + size], y[i : i + size]]
                yield {nodes[0]: parts[0], nodes[1]: parts[1]}, parts
            return
        for i in range(0, self.n, size):
            parts = [a[i : i + size] for a in shuffled]
            yield dict(zip(nodes, parts)), parts

    def count(self, batch: dict, parts: list, start: int) -> None:
        """Count the batch just computed (the examples ``start`` to ``start + len``, in the
        epoch's order) into the epoch's training error (:meth:`wrong_in_epoch`): its predicted
        classes kept in one array, without a comparison per batch; batch by batch
        (:meth:`wrong`) where the scores' argmax is not one class per example."""
        predicted, scores = self.predicted, self.scores
        if self.counted == start and predicted is not None and scores is not None:  # (so far
            end = start + len(parts[0])  # every batch in the array)
            try:
                scores.value.argmax(1, predicted[start:end])  # (out=: of its shape, or raises)
                self.counted = end
                return
            except Exception:  # not (N, C) scores for N examples: compared batch by batch
                pass
        self.wrong_apart += self.wrong(batch, parts)

    def wrong_in_epoch(self) -> int:
        """The examples counted (:meth:`count`) in this epoch whose predicted class is not
        their label: the same number as :meth:`wrong` summed batch by batch."""
        n, labels, predicted = self.counted, self.epoch_labels, self.predicted
        if not n or labels is None or predicted is None:
            return self.wrong_apart
        return int(np.count_nonzero(predicted[:n] != labels[:n])) + self.wrong_apart

    def wrong(self, batch: dict, parts: list) -> int:
        """Examples of the batch just computed whose predicted class is not their label: the
        scores of the training graph's last fprop, or (when it computes none) the model's
        output on the batch, computed by the prediction graph (after the step)."""
        if self.scores is not None:
            scores = self.scores.value
        elif self.output is not None:
            self.predict.fprop({k: v for k, v in batch.items() if k in self.predict})
            scores = self.output.value
        else:
            return 0
        labels = parts[self.labels_at]  # type: ignore[index]
        return int(np.count_nonzero(scores.argmax(axis=1) != labels))
