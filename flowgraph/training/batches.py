"""One epoch's mini-batches: the training feed in a fresh random order, cut into slices.

Each epoch draws a permutation pi of the N examples from the run's generator and visits
pi[0:B], pi[B:2B], ... (the last batch may be smaller): every example once per epoch, in an
order reproducible from the seed. The running training error counts, batch by batch, the
examples whose scores' argmax is not their label.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..boxes import Softmax
from ..core import Node

__all__ = ["Batches", "running_scores"]


def running_scores(model: Any) -> Node | None:
    """The node of the training graph whose argmax is the predicted class (for the running
    training error): the output itself, or the scores a softmax output is computed from
    (argmax softmax(a) = argmax a); None without a classification output on the loss path."""
    if not model.classifier or model.output is None:
        return None
    on_path = {id(n) for n in model.train_graph.order}
    out = model.output
    candidates = [getattr(model, "logits", None), out]
    if isinstance(out.box, Softmax) and out.children:
        candidates.append(out.children[0])
    return next((c for c in candidates if c is not None and id(c) in on_path), None)


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
        if self.labels_at is None:
            self.scores = None

    def epoch(self, rng: np.random.Generator) -> Iterator[tuple[dict[Any, np.ndarray], list]]:
        """The batches of one epoch, ``(feed, parts)``, in an order drawn from ``rng``."""
        perm = rng.permutation(self.n)
        shuffled = [a[perm] for a in self.arrays]  # one copy per epoch; batches are views
        nodes, size = self.nodes, self.batch_size
        if len(nodes) == 2:  # (x, y): the batch dict as a literal, the common case's fast path
            x, y = shuffled
            for i in range(0, self.n, size):
                parts = [x[i : i + size], y[i : i + size]]
                yield {nodes[0]: parts[0], nodes[1]: parts[1]}, parts
            return
        for i in range(0, self.n, size):
            parts = [a[i : i + size] for a in shuffled]
            yield dict(zip(nodes, parts)), parts

    def wrong(self, parts: list) -> int:
        """Examples of the batch just computed whose predicted class is not their label."""
        if self.scores is None:
            return 0
        labels = parts[self.labels_at]  # type: ignore[index]
        return int(np.count_nonzero(self.scores.value.argmax(axis=1) != labels))
