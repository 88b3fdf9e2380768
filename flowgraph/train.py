"""Empirical risk minimisation by stochastic gradient descent.

    argmin_theta  1/T sum_t l(f(x_t; theta), y_t) + lambda Omega(theta)

Each epoch visits the training set once in a fresh random order (drawn from ``seed``), in
mini-batches of ``batch_size`` (1 is the lecture's per-example SGD): fprop, bprop, one
optimizer step per batch. Early stopping watches the validation error and, after ``patience``
epochs without improvement (the look-ahead), stops and restores the best parameters.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import FlowgraphError
from .models import Model

__all__ = ["train", "History", "EarlyStopping", "Callback", "DivergenceError"]


class DivergenceError(FlowgraphError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """Per-epoch records of a training run, as lists (one entry per epoch).

    ``train_loss`` and ``train_error`` are averaged over the epoch's batches as they were
    processed (the running figures; call ``model.error`` for the error at the end).
    ``valid_error`` is measured after each epoch (NaN without a validation set), ``lr`` is the
    rate alpha_t at the end of the epoch, ``seconds`` the epoch's wall time.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    valid_error: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def best_valid_error(self) -> float:
        finite = [v for v in self.valid_error if not math.isnan(v)]
        return min(finite) if finite else float("nan")

    def records(self) -> list[dict[str, float]]:
        """One dict per epoch."""
        keys = ("epoch", "train_loss", "train_error", "valid_error", "lr", "seconds")
        return [dict(zip(keys, row)) for row in zip(*(getattr(self, k) for k in keys))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_error": self.train_error,
            "valid_error": self.valid_error,
            "lr": self.lr,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
        }

    def plot(self, path=None, *, title: str | None = None):
        """Training and validation error per epoch (and the loss), as a matplotlib Figure;
        written to ``path`` (PNG) when given."""
        from matplotlib.figure import Figure  # not pyplot: the backend stays the user's

        fig = Figure(figsize=(9, 3.6), layout="constrained")
        ax_err, ax_loss = fig.subplots(1, 2)
        ax_err.plot(self.epoch, self.train_error, label="training error", color="#0072B2")
        if any(not math.isnan(v) for v in self.valid_error):
            ax_err.plot(self.epoch, self.valid_error, label="validation error", color="#D55E00")
        if self.best_epoch is not None:
            ax_err.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
        ax_err.set(xlabel="epoch", ylabel="classification error", title="error")
        ax_err.set_ylim(bottom=0)
        ax_err.legend(frameon=False)
        ax_loss.plot(self.epoch, self.train_loss, color="#009E73")
        ax_loss.set(xlabel="epoch", ylabel="mean training loss", title="loss", yscale="log")
        if title:
            fig.suptitle(title)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


class Callback:
    """Hooks into ``train``. Override what you need; return True from ``on_epoch_end`` to stop.

    ``on_step_end`` runs after every update (keep it cheap); it is only called for callbacks
    that override it.
    """

    def on_train_begin(self, model: Model) -> None:  # noqa: B027
        pass

    def on_step_end(self, model: Model, step: int) -> None:  # noqa: B027
        pass

    def on_epoch_end(self, model: Model, history: History) -> bool | None:  # noqa: B027
        return None

    def on_train_end(self, model: Model, history: History) -> None:  # noqa: B027
        pass


class EarlyStopping:
    """Stop when the validation error has not improved for ``patience`` epochs (look-ahead);
    the best parameters seen are restored at the end.

    An epoch improves when its validation error is below the best so far by more than
    ``min_delta``.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        if patience < 1:
            raise ValueError(f"patience must be >= 1 epoch, got {patience}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0

    def update(self, model: Model, epoch: int, valid_error: float) -> bool:
        """Record an epoch; True when training should stop."""
        if valid_error < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = valid_error, epoch, 0
            self.best_state = model.state()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta})"


class _StopFlag:
    """Ctrl-C (SIGINT) or SIGTERM during training sets a flag read after each batch, instead of
    raising: the batch finishes and everything learnt so far is kept. A second one raises."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.set = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                try:
                    self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):  # not allowed here: leave that signal alone
                    pass
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)


def _check_data(model: Model, data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be an (X, y) tuple") from None
    X = np.ascontiguousarray(X, dtype=model.dtype)
    y = np.asarray(y)
    n_in = model.parameters[0].value.shape[1]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{what}: X must have shape (N, {n_in}) for this model, got {X.shape}")
    if y.shape != (len(X),):
        raise ValueError(f"{what}: y must have shape ({len(X)},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"{what}: labels y must be integers, got dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() >= model.n_classes):
        raise ValueError(
            f"{what}: labels must lie in [0, {model.n_classes}), found {y.min()}..{y.max()}"
        )
    return X, y.astype(np.int64, copy=False)


def train(
    model: Model,
    train: tuple[Any, Any],
    valid: tuple[Any, Any] | None = None,
    *,
    epochs: int,
    batch_size: int,
    optimizer,
    early_stopping: EarlyStopping | None = None,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``model`` with ``optimizer`` on ``train = (X, y)``; return the :class:`History`.

    The same seed, data and model give the same parameters, bit for bit. Ctrl-C stops at the
    end of the current batch (``history.interrupted``), keeping what was learnt (the best
    parameters when early stopping is on). A NaN or infinite loss raises
    :class:`DivergenceError`.

    Parameters
    ----------
    model
        The network to train (from :func:`flowgraph.mlp`), changed in place.
    train, valid
        ``(X, y)``: inputs of shape (N, H_0) and integer labels of shape (N,); ``valid`` is
        measured after every epoch (and needed by ``early_stopping``).
    epochs
        Passes over the training set (at most, with early stopping).
    batch_size
        Examples per update; 1 is the lecture's per-example SGD.
    optimizer
        Updates the parameters from their gradients, e.g. :class:`flowgraph.SGD`.
    early_stopping
        An :class:`EarlyStopping`: stop when the validation error has not improved for
        ``patience`` epochs and restore the best epoch's parameters.
    seed
        Seed (or generator) of the batch order.
    progress
        Show a tqdm progress bar.
    callbacks
        :class:`Callback` objects called at each step and epoch.

    Returns
    -------
    History
        The per-epoch training loss and error, validation error, the best epoch, and whether
        training stopped early or was interrupted.

    Examples
    --------
    >>> import flowgraph as fg
    >>> X, y = fg.datasets.make_blobs(200, seed=0)
    >>> model = fg.mlp([2, 8, 3], seed=0)
    >>> history = fg.train(model, (X[:150], y[:150]), (X[150:], y[150:]), epochs=20,
    ...                    batch_size=10, optimizer=fg.SGD(model.parameters, lr=0.1),
    ...                    early_stopping=fg.EarlyStopping(patience=3), progress=False)
    >>> history.stopped_early, model.error(X[150:], y[150:]) < 0.05
    (True, True)
    """
    X, y = _check_data(model, train, "train")
    if valid is not None:
        Xv, yv = _check_data(model, valid, "valid")
    if early_stopping is not None and valid is None:
        raise ValueError("early stopping watches the validation error: pass valid=(X, y)")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    epochs, batch_size = int(epochs), int(batch_size)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    if early_stopping is not None:
        early_stopping.reset()
    step_callbacks = [c for c in callbacks if type(c).on_step_end is not Callback.on_step_end]
    for c in callbacks:
        c.on_train_begin(model)

    history = History()
    graph, x_node, y_node, logits = model.train_graph, model.x, model.y, model.logits
    n = len(X)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=True)
    step = 0
    try:
        with _StopFlag() as stop:
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                perm = rng.permutation(n)
                Xs, ys = X[perm], y[perm]  # one copy per epoch; batches are views into it
                loss_sum, wrong = 0.0, 0
                seen = 0
                for i in range(0, n, batch_size):
                    xb, yb = Xs[i : i + batch_size], ys[i : i + batch_size]
                    loss = graph.fprop({x_node: xb, y_node: yb})
                    graph.bprop()
                    optimizer.step()
                    step += 1
                    m = len(yb)
                    loss_sum += float(loss) * m
                    wrong += int(np.count_nonzero(logits.value.argmax(axis=1) != yb))
                    seen += m
                    for c in step_callbacks:
                        c.on_step_end(model, step)
                    if stop.set or not math.isfinite(loss_sum):  # NaN: stop now, raise below
                        break
                if seen == 0:
                    break
                mean_loss = loss_sum / seen
                if not math.isfinite(mean_loss):
                    raise DivergenceError(
                        f"training diverged in epoch {epoch}: the mean training loss is "
                        f"{mean_loss}; lower the learning rate (alpha_t = {optimizer.lr:g})"
                    )
                v_err = model.error(Xv, yv) if valid is not None else float("nan")
                history.epoch.append(epoch)
                history.train_loss.append(mean_loss)
                history.train_error.append(wrong / seen)
                history.valid_error.append(v_err)
                history.lr.append(float(optimizer.lr))
                history.seconds.append(time.perf_counter() - start)
                halt = False
                if early_stopping is not None:
                    halt = early_stopping.update(model, epoch, v_err)
                for c in callbacks:
                    halt = bool(c.on_epoch_end(model, history)) or halt
                if bar is not None:
                    post = {"loss": f"{mean_loss:.4f}", "train err": f"{wrong / seen:.3f}"}
                    if valid is not None:
                        post["valid err"] = f"{v_err:.3f}"
                    bar.set_postfix(post, refresh=False)
                    bar.update(1)
                if stop.set:
                    history.interrupted = True
                    break
                if halt:
                    history.stopped_early = early_stopping is not None and (
                        early_stopping.wait >= early_stopping.patience
                    )
                    break
    finally:
        if bar is not None:
            bar.close()
    if early_stopping is not None and early_stopping.best_state is not None:
        history.best_epoch = early_stopping.best_epoch
        if early_stopping.restore_best:
            model.load_state(early_stopping.best_state)
    elif valid is not None and history.valid_error:
        history.best_epoch = int(np.nanargmin(history.valid_error)) + 1
    for c in callbacks:
        c.on_train_end(model, history)
    return history
