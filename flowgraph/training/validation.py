"""The figures measured on the validation set after each epoch.

    valid_loss  = 1/N sum_t l(f(x_t), y_t) + lambda Omega(theta)   (the training graph's loss)
    valid_error = 1/N #{t : argmax f(x_t) != y_t}                  (classifiers only)

The loss is computed in batches of at most 4096 examples weighted by their size: the loss is a
mean over its batch, and the weighted mean of the batch means is the mean over all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["valid_loss", "valid_figures"]


def valid_loss(model: Any, feed: dict[Any, np.ndarray], n: int, batch_size: int = 4096) -> float:
    """The mean loss over the ``n`` validation examples of ``feed``."""
    if n <= batch_size:
        return float(model.train_graph.fprop(feed))
    total = 0.0
    for i in range(0, n, batch_size):
        part = {k: v[i : i + batch_size] for k, v in feed.items()}
        total += float(model.train_graph.fprop(part)) * min(batch_size, n - i)
    return total / n


def valid_figures(model: Any, feed: Any) -> tuple[float, float]:
    """``(valid_loss, valid_error)`` of ``model`` on a checked feed (NaN, NaN without one; the
    error is NaN for a model without a classification output)."""
    if feed is None:
        return float("nan"), float("nan")
    n = len(next(iter(feed.values())))
    with model.evaluating():  # dropout off, running statistics
        loss = valid_loss(model, feed, n)
    error = model.error(feed) if model.classifier else float("nan")  # a Feed: x' already
    return loss, error
