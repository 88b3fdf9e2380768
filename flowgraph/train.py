"""Empirical risk minimisation by stochastic gradient descent.

    argmin_theta  1/T sum_t l(f(x_t; theta), y_t) + lambda Omega(theta)

Each epoch visits the training set once in a fresh random order (drawn from ``seed``), in
mini-batches of ``batch_size`` (1 is the lecture's per-example SGD): fprop, bprop, one
optimizer step per batch. Any :class:`~flowgraph.Model` trains: the data is a feed, a dict
from Input names to arrays of one length N along axis 0, shuffled and batched together
(``(X, y)`` for models with Inputs x and y). Early stopping watches the validation loss or,
for a classifier, the validation error and, after ``patience`` epochs without improvement
(the look-ahead), stops and restores the best parameters.
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

from .boxes import Softmax
from .core import Node
from .errors import FlowgraphError
from .models import Model

__all__ = ["train", "History", "EarlyStopping", "Callback", "DivergenceError", "TrainState"]


class DivergenceError(FlowgraphError):
    """The training loss became NaN or infinite. ``history`` holds the epochs trained before
    (``history.diverged`` is True); the model keeps the best parameters seen (early stopping)
    or those of the last epoch whose loss was finite, never the broken ones."""

    def __init__(self, message: str, history: History | None = None):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """Per-epoch records of a training run, as lists (one entry per epoch).

    ``train_loss`` and ``train_error`` are averaged over the epoch's batches as they were
    processed (the running figures; call ``model.error`` for the error at the end; NaN for
    a model without a classification output). ``valid_loss`` (every model) and
    ``valid_error`` (classifiers) are measured after each epoch (NaN without a validation
    set), ``lr`` is the rate alpha_t at the end of the epoch, ``seconds`` the epoch's wall time.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_error: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    diverged: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def best_valid_error(self) -> float:
        finite = [v for v in self.valid_error if not math.isnan(v)]
        return min(finite) if finite else float("nan")

    def records(self) -> list[dict[str, float]]:
        """One dict per epoch."""
        keys = ("epoch", "train_loss", "train_error", "valid_loss", "valid_error", "lr", "seconds")
        return [dict(zip(keys, row)) for row in zip(*(getattr(self, k) for k in keys))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_error": self.train_error,
            "valid_loss": self.valid_loss,
            "valid_error": self.valid_error,
            "lr": self.lr,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted": self.interrupted,
            "diverged": self.diverged,
        }

    def plot(self, path=None, *, title: str | None = None):
        """Training and validation error per epoch (and the loss), as a matplotlib Figure;
        written to ``path`` (PNG) when given."""
        from matplotlib.figure import Figure  # not pyplot: the backend stays the user's

        classifier = any(not math.isnan(v) for v in self.train_error)
        fig = Figure(figsize=(9, 3.6) if classifier else (5, 3.6), layout="constrained")
        if classifier:
            ax_err, ax_loss = fig.subplots(1, 2)
            ax_err.plot(self.epoch, self.train_error, label="training error", color="#0072B2")
            if any(not math.isnan(v) for v in self.valid_error):
                ax_err.plot(
                    self.epoch, self.valid_error, label="validation error", color="#D55E00"
                )
            if self.best_epoch is not None:
                ax_err.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
            ax_err.set(xlabel="epoch", ylabel="classification error", title="error")
            ax_err.set_ylim(bottom=0)
            ax_err.legend(frameon=False)
        else:  # no classification output: the loss is the whole story
            ax_loss = fig.subplots(1, 1)
            if self.best_epoch is not None:
                ax_loss.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
        ax_loss.plot(self.epoch, self.train_loss, color="#009E73", label="training loss")
        if any(not math.isnan(v) for v in self.valid_loss):
            ax_loss.plot(self.epoch, self.valid_loss, color="#CC79A7", label="validation loss")
        losses = [v for v in self.train_loss + self.valid_loss if math.isfinite(v)]
        positive = bool(losses) and min(losses) > 0
        ax_loss.set(
            xlabel="epoch", ylabel="mean loss", title="loss", yscale="log" if positive else "linear"
        )
        ax_loss.legend(frameon=False)
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
    """Stop when the monitored validation figure has not improved for ``patience`` epochs
    (look-ahead); the best parameters seen are restored at the end.

    ``monitor`` is ``"valid_error"`` (the classification error) or ``"valid_loss"``; by
    default the error for a model with a classification output, the loss otherwise. An epoch
    improves when its figure is below the best so far by more than ``min_delta``.
    """

    MONITORS = ("valid_loss", "valid_error")

    def __init__(
        self,
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        *,
        monitor: str | None = None,
    ):
        if patience < 1:
            raise ValueError(f"patience must be >= 1 epoch, got {patience}")
        if monitor is not None and monitor not in self.MONITORS:
            raise ValueError(f"monitor must be one of {self.MONITORS} (or None), got {monitor!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.monitor = monitor
        self.reset()

    def watches(self, model: Model) -> str:
        """The history field this early stopping watches on ``model``."""
        if self.monitor is None:
            return "valid_error" if model.classifier else "valid_loss"
        if self.monitor == "valid_error" and not model.classifier:
            raise ValueError(
                "EarlyStopping(monitor='valid_error') needs a model with a classification "
                "output; this one has none: monitor 'valid_loss'"
            )
        return self.monitor

    def reset(self) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0

    def update(self, model: Model, epoch: int, value: float) -> bool:
        """Record an epoch's monitored figure; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_state = model.state()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def __repr__(self) -> str:
        monitor = f", monitor={self.monitor!r}" if self.monitor is not None else ""
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}{monitor})"


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


def _running_scores(model: Model) -> Node | None:
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


def _valid_loss(model: Model, feed: dict[Any, np.ndarray], n: int, batch_size: int = 4096) -> float:
    """The mean loss over the validation examples, in batches weighted by their size (the loss
    is a mean over its batch: the weighted mean of the batch means is the mean over all)."""
    if n <= batch_size:
        return float(model.train_graph.fprop(feed))
    total = 0.0
    for i in range(0, n, batch_size):
        part = {k: v[i : i + batch_size] for k, v in feed.items()}
        total += float(model.train_graph.fprop(part)) * min(batch_size, n - i)
    return total / n


@dataclass
class TrainState:
    """Where a training run stands after its last finished epoch: enough, with the model's
    parameters and the optimiser's ``state()``, to continue it so that the result is the one
    an uninterrupted run of the same epochs gives, bit for bit.

    Pass one to :func:`train` (``state=``): train fills it in after every epoch (the epoch and
    update counts, the batch order's random generator, the history, early stopping's record)
    and, when it already holds epochs, continues from there instead of starting anew.
    ``to_dict``/``from_dict`` give JSON for the numbers; early stopping's best parameters are
    the one array part (``best_state``).
    """

    epoch: int = 0
    step: int = 0
    rng: dict[str, Any] | None = None
    history: History = field(default_factory=History)
    stopping: dict[str, Any] | None = None  # best, best_epoch, wait
    best_state: dict[str, np.ndarray] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON part (``best_state`` excluded)."""
        h = self.history.to_dict()
        return {"epoch": self.epoch, "step": self.step, "rng": self.rng, "history": h,
                "stopping": self.stopping}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any, best_state: dict[str, np.ndarray] | None = None) -> TrainState:
        try:
            hist = History(**{k: list(d["history"][k]) for k in _HISTORY_LISTS})
            for k in ("best_epoch", "stopped_early", "interrupted", "diverged"):
                if k in d["history"]:
                    setattr(hist, k, d["history"][k])
            state = cls(int(d["epoch"]), int(d["step"]), d["rng"], hist, d.get("stopping"),
                        best_state)  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a training state: {e!r}") from None
        if state.epoch != len(hist) or state.epoch < 0:
            raise ValueError(f"training state: epoch {state.epoch} but {len(hist)} in its history")
        return state


_HISTORY_LISTS = ("epoch", "train_loss", "train_error", "valid_loss", "valid_error", "lr",
                  "seconds")  # fmt: skip


def train(
    model: Model,
    train_feed: Any,
    valid_feed: Any = None,
    *,
    epochs: int,
    batch_size: int,
    optimizer,
    early_stopping: EarlyStopping | None = None,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    state: TrainState | None = None,
) -> History:
    """Train ``model`` with ``optimizer`` on ``train_feed``; return the :class:`History`.

    A feed is a dict from the names of the model's Inputs (those its loss reads) to arrays of
    one length N along axis 0, shuffled and cut into batches together; ``(X, y)`` stands for
    ``{"x": X, "y": y}``. Before the first step every array is checked: numbers, equal
    lengths, N > 0, no NaN or inf (named with its first bad index), integer labels for a
    classifier. After each epoch the loss on ``valid_feed`` (and, for a classifier, its
    error) is recorded; ``early_stopping`` watches one of them. A model with a
    ``preprocessing`` takes both feeds raw: x' is computed once, before the first epoch
    (shifted copies of training images, :meth:`Preprocessing.augment`, are the caller's).

    The same seed, data and model give the same parameters, bit for bit. Ctrl-C stops at the
    end of the current batch (``history.interrupted``), keeping what was learnt (the best
    parameters when early stopping is on). A NaN or infinite loss raises
    :class:`DivergenceError`.

    Parameters
    ----------
    model
        Any :class:`~flowgraph.Model` (such as :func:`flowgraph.mlp`'s), changed in place.
    train_feed, valid_feed
        Feeds ``{input name: array}`` (one row per example), or ``(X, y)`` for a model with
        Inputs x and y; ``valid_feed`` is measured after every epoch (and needed by
        ``early_stopping``).
    epochs
        Passes over the training set (at most, with early stopping).
    batch_size
        Examples per update; 1 is the lecture's per-example SGD.
    optimizer
        Updates the parameters from their gradients, e.g. :class:`flowgraph.SGD`.
    early_stopping
        An :class:`EarlyStopping`: stop when the validation error (or loss) has not improved
        for ``patience`` epochs and restore the best epoch's parameters.
    seed
        Seed (or generator) of the batch order.
    progress
        Show a tqdm progress bar.
    callbacks
        :class:`Callback` objects called at each step and epoch.
    state
        A :class:`TrainState`, filled in after every epoch; one that already holds epochs
        (with the model's parameters and the optimiser's state of that moment restored by
        the caller) makes this call continue that run up to ``epochs`` in all, bit for bit
        as one uninterrupted run.

    Returns
    -------
    History
        The per-epoch training loss and error, validation loss and error, the best epoch,
        and whether training stopped early or was interrupted.

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
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    # the one pass over the data: checked, and x -> x' by the model's preprocessing, once
    feed = model.as_feed(train_feed, what="train")
    valid = model.as_feed(valid_feed, what="valid") if valid_feed is not None else None
    if early_stopping is not None and valid is None:
        raise ValueError(
            "early stopping watches the validation loss or error: pass valid=(X, y) or a "
            "validation feed"
        )
    monitor = early_stopping.watches(model) if early_stopping is not None else (
        "valid_error" if model.classifier else "valid_loss"
    )  # fmt: skip
    epochs, batch_size = int(epochs), int(batch_size)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    if early_stopping is not None:
        early_stopping.reset()
    step_callbacks = [c for c in callbacks if type(c).on_step_end is not Callback.on_step_end]
    for c in callbacks:
        c.on_train_begin(model)

    history = History()
    first = 1
    if state is not None and state.epoch > 0:  # continue where that run stood
        if state.rng is None:
            raise ValueError("the training state holds epochs but no random generator state")
        rng.bit_generator.state = state.rng
        history, first = state.history, state.epoch + 1
        history.interrupted = history.stopped_early = False
        if early_stopping is not None and state.stopping is not None:
            early_stopping.best = float(state.stopping["best"])
            early_stopping.best_epoch = state.stopping["best_epoch"]
            early_stopping.wait = int(state.stopping["wait"])
            early_stopping.best_state = state.best_state
    graph = model.train_graph
    nodes = list(feed)
    arrays = [np.ascontiguousarray(feed[k]) for k in nodes]
    n = len(arrays[0])
    n_valid = len(next(iter(valid.values()))) if valid else 0
    scores = _running_scores(model)
    labels_at = next((i for i, k in enumerate(nodes) if k is model.labels), None)
    if labels_at is None:
        scores = None
    two = len(nodes) == 2  # (x, y): the batch dict as a literal, the common case's fast path
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="training", unit="epoch", leave=True)
    step = state.step if state is not None and state.epoch > 0 else 0
    if bar is not None:
        bar.update(first - 1)
    # the parameters to fall back on if the loss turns NaN: the initial ones, then those of
    # each finite epoch (early stopping keeps the best ones itself)
    last_finite = model.state()
    keep_each_epoch = early_stopping is None
    try:
        with _StopFlag() as stop:
            for epoch in range(first, epochs + 1):
                start = time.perf_counter()
                perm = rng.permutation(n)
                shuffled = [a[perm] for a in arrays]  # one copy per epoch; batches are views
                loss_sum, wrong = 0.0, 0
                seen = 0
                for i in range(0, n, batch_size):
                    if two:
                        parts = [shuffled[0][i : i + batch_size], shuffled[1][i : i + batch_size]]
                        batch = {nodes[0]: parts[0], nodes[1]: parts[1]}
                    else:
                        parts = [a[i : i + batch_size] for a in shuffled]
                        batch = dict(zip(nodes, parts))
                    loss = graph.fprop(batch)
                    graph.bprop()
                    optimizer.step()
                    step += 1
                    m = min(batch_size, n - i)
                    loss_sum += float(loss) * m
                    if scores is not None:
                        yb = parts[labels_at]  # type: ignore[index]
                        wrong += int(np.count_nonzero(scores.value.argmax(axis=1) != yb))
                    seen += m
                    for c in step_callbacks:
                        c.on_step_end(model, step)
                    if stop.set or not math.isfinite(loss_sum):  # NaN: stop now, raise below
                        break
                if seen == 0:
                    break
                mean_loss = loss_sum / seen
                if not math.isfinite(mean_loss):
                    history.diverged = True
                    best = early_stopping.best_state if early_stopping is not None else None
                    kept = (
                        f"the best parameters (epoch {early_stopping.best_epoch}) are kept"
                        if best is not None
                        else f"the parameters after epoch {epoch - 1} are kept"
                        if epoch > 1 and keep_each_epoch
                        else "the initial parameters are kept"
                    )
                    model.load_state(best if best is not None else last_finite)
                    if best is not None:
                        history.best_epoch = early_stopping.best_epoch
                    raise DivergenceError(
                        f"training diverged in epoch {epoch}: the mean training loss is "
                        f"{mean_loss}; lower the learning rate (alpha_t = {optimizer.lr:g}); "
                        f"{kept}",
                        history,
                    )
                v_loss = v_err = float("nan")
                if valid is not None:
                    v_loss = _valid_loss(model, valid, n_valid)
                    if model.classifier:
                        v_err = model.error(valid)  # a Feed: x' already, not again
                history.epoch.append(epoch)
                history.train_loss.append(mean_loss)
                history.train_error.append(wrong / seen if scores is not None else float("nan"))
                history.valid_loss.append(v_loss)
                history.valid_error.append(v_err)
                history.lr.append(float(optimizer.lr))
                history.seconds.append(time.perf_counter() - start)
                if keep_each_epoch:
                    last_finite = model.state()
                halt = False
                if early_stopping is not None:
                    halt = early_stopping.update(model, epoch, getattr(history, monitor)[-1])
                if state is not None and seen == n:  # a whole epoch: where the run stands,
                    # before the callbacks save it (an epoch cut short by Ctrl-C is not one)
                    state.epoch, state.step, state.history = epoch, step, history
                    state.rng = rng.bit_generator.state
                    if early_stopping is not None:
                        state.stopping = {"best": early_stopping.best, "wait": early_stopping.wait,
                                          "best_epoch": early_stopping.best_epoch}  # fmt: skip
                        state.best_state = early_stopping.best_state
                for c in callbacks:
                    halt = bool(c.on_epoch_end(model, history)) or halt
                if bar is not None:
                    post = {"loss": f"{mean_loss:.4f}"}
                    if scores is not None:
                        post["train err"] = f"{wrong / seen:.3f}"
                    if valid is not None:
                        if model.classifier:
                            post["valid err"] = f"{v_err:.3f}"
                        else:
                            post["valid loss"] = f"{v_loss:.4f}"
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
    elif valid is not None and history.epoch:
        watched = getattr(history, monitor)
        if any(not math.isnan(v) for v in watched):
            history.best_epoch = int(np.nanargmin(watched)) + 1
    for c in callbacks:
        c.on_train_end(model, history)
    return history
