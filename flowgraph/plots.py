"""Pictures and tables of a trained classifier: decision regions of a 2-D set, confusion matrix.

The decision regions colour every point x of a grid by the class the network predicts,
argmax_c f(x)_c with f(x) = softmax(a(L+1)(x)); the boundary is where two classes tie. The
confusion matrix counts, for each true class y (row) and predicted class (column), the
examples with that pair; its diagonal holds the correct predictions and

    error = 1 - trace(M) / sum(M).

matplotlib is imported inside the functions, which draw on :class:`matplotlib.figure.Figure`
objects and never touch pyplot or the backend: ``plt.show()`` in a notebook still works after
writing a picture.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["confusion_matrix", "format_confusion", "plot_confusion", "plot_decision_boundary"]

# Okabe-Ito hues: colour-blind safe, the palette of the other pictures
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """M[i, j] = the number of examples of true class i predicted as class j, shape (C, C)."""
    y_true, y_pred = np.asarray(y_true).astype(np.int64), np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and "
            f"{y_pred.shape}"
        )
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max())
                        >= n_classes):  # fmt: skip
        raise ValueError(f"labels must lie in [0, {n_classes})")
    M = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


def format_confusion(M: np.ndarray, labels: Sequence[str] | None = None) -> str:
    """The matrix as aligned text: rows are true classes, columns predicted ones, with each
    row's total and its per-class error 1 - M[i, i] / sum_j M[i, j]."""
    M = np.asarray(M)
    C = len(M)
    labels = [str(c) for c in range(C)] if labels is None else [str(s) for s in labels]
    w = max(3, max(len(s) for s in labels), len(str(int(M.max(initial=0)))))
    head = " " * (w + 1) + "predicted".center((w + 1) * C)
    cols = "true".ljust(w) + " " + " ".join(s.rjust(w) for s in labels) + "   total  error"
    lines = [head.rstrip(), cols]
    for i in range(C):
        total = int(M[i].sum())
        err = f"{1 - M[i, i] / total:6.3f}" if total else "     -"
        cells = " ".join(str(int(v)).rjust(w) for v in M[i])
        lines.append(f"{labels[i].ljust(w)} {cells}   {total:5d}  {err}")
    return "\n".join(lines)


def plot_confusion(
    M: np.ndarray, path: str | os.PathLike | None = None, *, labels: Sequence[str] | None = None,
    title: str | None = None,
):  # fmt: skip
    """The confusion matrix as a heat map with counts (a matplotlib Figure; PNG at ``path``)."""
    from matplotlib.figure import Figure  # not pyplot: the backend stays the user's

    M = np.asarray(M)
    C = len(M)
    labels = [str(c) for c in range(C)] if labels is None else list(labels)
    fig = Figure(figsize=(1.2 + 0.45 * C, 1.0 + 0.45 * C), layout="constrained")
    ax = fig.subplots()
    ax.imshow(M, cmap="Blues")
    ax.set(xticks=range(C), yticks=range(C), xticklabels=labels, yticklabels=labels)
    ax.set(xlabel="predicted class", ylabel="true class")
    top = M.max(initial=0)
    for i in range(C):
        for j in range(C):
            if M[i, j]:
                color = "white" if M[i, j] > 0.6 * top else "#222222"
                ax.text(j, i, str(int(M[i, j])), ha="center", va="center", fontsize=8, color=color)
    if title:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_decision_boundary(
    model,
    X: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    X_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    resolution: int = 300,
    title: str | None = None,
):
    """Decision regions of a classifier of 2-D inputs: each grid point coloured by
    argmax_c f(x)_c (lighter where the network is less sure, max_c f(x)_c near 1/C), the
    training points ``(X, y)`` as dots and test points as crosses.

    ``X`` is in the units to draw, those the model takes: a model with a ``preprocessing``
    applies it itself. ``transform`` maps such points to the inputs of a model without one
    that was trained on transformed data (a model with its own preprocessing refuses a
    ``transform``: it would be applied twice). Returns the matplotlib Figure, written to
    ``path`` (PNG) when given.
    """
    import matplotlib
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure  # not pyplot: the backend stays the user's

    if transform is not None and getattr(model, "preprocessing", None) is not None:
        raise ValueError(
            "plot_decision_boundary: the model applies its own preprocessing "
            f"({model.preprocessing!r}); pass the points raw, without transform="
        )
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision regions are drawn for 2-D inputs, got X of shape {X.shape}")
    points = X if X_test is None else np.concatenate([X, np.asarray(X_test, dtype=np.float64)])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-9)
    g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    G0, G1 = np.meshgrid(g0, g1)
    grid = np.column_stack([G0.ravel(), G1.ravel()])
    P = model.predict_proba(transform(grid) if transform is not None else grid)
    C = P.shape[1]
    colors = PALETTE[:C] if C <= len(PALETTE) else None
    cmap = ListedColormap(colors) if colors else matplotlib.colormaps["tab20"]
    cls = P.argmax(axis=1).reshape(G0.shape)
    sure = P.max(axis=1).reshape(G0.shape)

    fig = Figure(figsize=(5.6, 5.0), layout="constrained")
    ax = fig.subplots()
    ax.imshow(
        cls, origin="lower", extent=(g0[0], g0[-1], g1[0], g1[-1]), cmap=cmap, vmin=-0.5,
        vmax=C - 0.5, alpha=0.15 + 0.35 * (sure - 1 / C) / (1 - 1 / C), aspect="auto",
        interpolation="nearest",
    )  # fmt: skip
    ax.contour(G0, G1, cls, levels=np.arange(C) + 0.5, colors="0.25", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=C - 0.5, s=14,
               edgecolors="white", linewidths=0.4, label="training")  # fmt: skip
    if X_test is not None and y_test is not None:
        Xt = np.asarray(X_test, dtype=np.float64)
        ax.scatter(Xt[:, 0], Xt[:, 1], c=np.asarray(y_test), cmap=cmap, vmin=-0.5,
                   vmax=C - 0.5, s=22, marker="x", linewidths=1.1, label="test")  # fmt: skip
        ax.legend(loc="upper right", frameon=True, fontsize=8)
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    ax.set_title(title or "decision regions: argmax$_c$ f(x)$_c$")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
