"""Empirical risk minimisation by stochastic gradient descent: the training loop.

    argmin_theta  1/T sum_t l(f(x_t; theta), y_t) + lambda Omega(theta)

Each epoch visits the training set once in a fresh random order (drawn from ``seed``), in
mini-batches of ``batch_size`` (1 is the lecture's per-example SGD): fprop, bprop, one
optimizer step per batch. Everything else is a callback or a small named part: early stopping
(:mod:`.early_stopping`), the progress bar (:mod:`.progress`), the rollback on a NaN loss
(:mod:`.divergence`), Ctrl-C (:mod:`.signals`), the validation figures (:mod:`.validation`) and
where a run stands for a later resume (:mod:`.resume`).

>>> import flowgraph as fg
>>> X, y = fg.datasets.make_blobs(200, seed=0)
>>> model = fg.mlp([2, 8, 3], seed=0)
>>> history = fg.train(model, (X[:150], y[:150]), (X[150:], y[150:]), epochs=20,
...                    batch_size=10, optimizer=fg.SGD(model.parameters, lr=0.1),
...                    early_stopping=fg.EarlyStopping(patience=3), progress=False)
>>> history.stopped_early, model.error(X[150:], y[150:]) < 0.05
(True, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..step import step_plan
from .batches import Batches
from .callbacks import Callback, overrides
from .divergence import Rollback
from .early_stopping import EarlyStopping
from .history import History
from .progress import Progress
from .resume import TrainState, continue_from, record_state
from .signals import StopFlag
from .validation import valid_figures

__all__ = ["train"]


def train(
    model: Any,
    train_feed: Any,
    valid_feed: Any = None,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Any,
    early_stopping: EarlyStopping | None = None,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    state: TrainState | None = None,
) -> History:
    """Train ``model`` with ``optimizer`` on ``train_feed``; return the :class:`History`.

    A feed is a dict from the names of the model's Inputs to arrays of one length N along
    axis 0 (``(X, y)`` stands for ``{"x": X, "y": y}``), checked before the first step
    (numbers, equal lengths, N > 0, no NaN or inf, integer labels for a classifier). After
    each epoch the loss on ``valid_feed`` (and, for a classifier, its error) is recorded;
    ``early_stopping`` watches one of them. A model with a ``preprocessing`` takes both feeds
    raw: x' is computed once, before the first epoch.

    The same seed, data and model give the same parameters, bit for bit. Ctrl-C (or SIGTERM)
    stops at the end of the current batch (``history.interrupted``), keeping what was learnt
    (the best parameters when early stopping is on). A NaN or infinite loss raises
    :class:`DivergenceError` with the last good parameters restored.

    ``epochs`` passes at most; ``batch_size`` examples per update; ``optimizer`` e.g.
    :class:`flowgraph.SGD`; ``early_stopping`` an :class:`EarlyStopping` (needs
    ``valid_feed``); ``seed`` of the batch order; ``progress`` a tqdm bar on a terminal (a few
    lines otherwise); ``callbacks`` :class:`Callback` objects called at each step and epoch;
    ``state`` a :class:`TrainState` filled in after every epoch: one that already holds
    epochs (the model's parameters and the optimiser's state of that moment restored by the
    caller) continues that run up to ``epochs`` in all, bit for bit as one uninterrupted run.
    An example: the module's.
    """
    if int(epochs) < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    epochs = int(epochs)
    # the one pass over the data: checked, and x -> x' by the model's preprocessing, once
    batches = Batches(model, model.as_feed(train_feed, what="train"), batch_size)
    valid = model.as_feed(valid_feed, what="valid") if valid_feed is not None else None
    check_early_stopping(early_stopping, model, valid)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    history, first, step = continue_from(state, rng, early_stopping)
    bar = [Progress(epochs, min(first - 1, epochs))] if progress else []
    watchers = [*callbacks, *bar]  # after early stopping, and after the state is recorded
    for c in [*([early_stopping] if early_stopping else []), *watchers]:
        c.on_train_begin(model)
    rollback = Rollback(model, early_stopping)
    each_step = [c for c in callbacks if overrides(c, "on_step_end")]
    try:
        with StopFlag() as stop:
            for epoch in range(first, epochs + 1):
                start = time.perf_counter()
                loss_sum, wrong, seen, step = run_epoch(model, optimizer, batches, rng, step,
                                                        each_step, stop,
                                                        step_seed(seed, epoch))  # fmt: skip
                if seen == 0:
                    break
                rollback.check(model, history, epoch, loss_sum / seen, float(optimizer.lr))
                v_loss, v_err = valid_figures(model, valid)
                history.append(
                    epoch=epoch, train_loss=loss_sum / seen, valid_loss=v_loss, valid_error=v_err,
                    train_error=wrong / seen if batches.counts_errors else float("nan"),
                    lr=float(optimizer.lr), seconds=time.perf_counter() - start,
                )  # fmt: skip
                rollback.keep(model, epoch)
                halt = early_stopping.on_epoch_end(model, history) if early_stopping else False
                if state is not None and seen == batches.n:  # a whole epoch: where the run
                    record_state(state, epoch, step, history, rng, early_stopping)  # stands
                for c in watchers:
                    halt = bool(c.on_epoch_end(model, history)) or halt
                if stop.set or halt:
                    history.interrupted = stop.set
                    history.stopped_early = not stop.set and bool(early_stopping and
                                                                  early_stopping.stopped)
                    break
    finally:
        for b in bar:
            b.close()
    finish(model, history, early_stopping, valid)
    for c in watchers:
        c.on_train_end(model, history)
    return history


def check_early_stopping(early_stopping: EarlyStopping | None, model: Any, valid: Any) -> None:
    """Early stopping needs a validation set and a figure the model gives; it starts anew."""
    if early_stopping is None:
        return
    if valid is None:
        raise ValueError("early stopping watches the validation loss or error: pass "
                         "valid=(X, y) or a validation feed")  # fmt: skip
    early_stopping.reset()
    early_stopping.watches(model)  # a monitor the model cannot give is refused now


def step_seed(seed: Any, epoch: int) -> Any:
    """Where each step's random numbers (dropout masks, noise) come from: for an int seed,
    the step's own generator ``default_rng([seed, epoch, step])``, so that a resumed run draws
    what the uninterrupted one drew; else (a Generator, None) the batch order's generator."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return lambda step: np.random.default_rng([int(seed), epoch, step])
    return None


def run_epoch(
    model: Any, optimizer: Any, batches: Batches, rng: np.random.Generator, step: int,
    each_step: list[Callback], stop: StopFlag, step_rng: Any = None,
) -> tuple[float, int, int, int]:  # fmt: skip
    """One pass over the batches in training mode: fprop (with the step's generator when the
    graph draws random numbers), bprop, one optimizer step, then the buffers' update (the
    running statistics) each. Returns the sum of the batch losses weighted by their size, the
    examples classified wrong, the examples seen and the update count. Stops after the batch
    where Ctrl-C came or the loss went NaN."""
    model.train_graph.train()
    plan, fprop, bprop = planned_step(model.train_graph, optimizer)
    try:
        return steps(model, optimizer, batches, rng, step, each_step, stop, fprop, bprop,
                     step_rng)
    finally:
        if plan is not None:
            plan.fold(None)  # the fold lasts one epoch of fg.train, no longer


def steps(
    model: Any, optimizer: Any, batches: Batches, rng: np.random.Generator, step: int,
    each_step: list[Callback], stop: StopFlag, fprop: Any, bprop: Any, step_rng: Any = None,
) -> tuple[float, int, int, int]:  # fmt: skip
    """The loop of :func:`run_epoch` with its step's ``fprop`` and ``bprop``."""
    graph = model.train_graph
    draws = bool(graph.randoms)
    loss_sum, seen, count = 0.0, 0, batches.count
    for batch, parts in batches.epoch(rng):
        if draws:
            loss = graph.fprop(batch, rng=step_rng(step) if step_rng else rng)
        else:
            loss = fprop(batch)
        bprop()
        optimizer.step()
        if graph.buffers:
            graph.update_buffers()
        step += 1
        m = len(parts[0])
        loss_sum += float(loss) * m
        count(batch, parts, seen)  # the training error, compared once at the epoch's end
        seen += m
        for c in each_step:
            c.on_step_end(model, step)
        if stop.set or not math.isfinite(loss_sum):  # NaN: stop now, raised by the caller
            break
    return loss_sum, batches.wrong_in_epoch(), seen, step


def planned_step(graph: Any, optimizer: Any) -> tuple[Any, Any, Any]:
    """(plan, fprop, bprop) of one training step: the graph's step plan, whose buffers are
    reused from batch to batch (:mod:`flowgraph.step.plan`; the same arithmetic), with plain
    SGD's update folded in when the optimiser opts in (``SGD(..., fold=True)``): from the
    second step on its boxes' kernels, which pay at every batch size, one example included
    (measured: benchmarks/, the batch-1 rows). No plan, the graph's own fprop and bprop, when
    it checks every value for NaN (``check_finite``) or holds state leaves."""
    if graph.check_finite or graph.stateful:  # (the plan fills no state)
        return None, graph.fprop, graph.bprop
    plan = step_plan(graph)
    plan.fold(optimizer)
    return plan, plan.fprop, plan.bprop


def finish(model: Any, history: History, early_stopping: EarlyStopping | None,
           valid: Any) -> None:  # fmt: skip
    """The end of training: the best epoch's parameters back (early stopping), and the best
    epoch named in ``history`` (without early stopping: the lowest validation figure)."""
    if early_stopping is not None and early_stopping.best_state is not None:
        early_stopping.on_train_end(model, history)
    elif valid is not None and history.epoch:
        watched = history.valid_error if model.classifier else history.valid_loss
        if any(not np.isnan(v) for v in watched):
            history.best_epoch = int(np.nanargmin(watched)) + 1
