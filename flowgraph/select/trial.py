"""One trial: train a configuration on the training part, score it on the validation part.

A trial is a pure function of (configuration, data, seed): it builds the network
a(k) = b(k) + W(k) h(k-1), h(k) = g(a(k)), f(x) = softmax(a(L+1)) with weights drawn from
``seed``, trains it by SGD (or the configuration's ``optimizer``) on ``-log f(x)_y + lambda
Omega(theta)`` with batches shuffled from ``seed``, and measures the classification error on
the validation set. Nothing is shared between trials, so a trial gives the same numbers in
this process, in a loky worker or on a Dask worker, and can be re-run alone from its record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..model import Model
from ..training import Callback, History, recipe
from ..training.defaults import DECAY, resolve_optimizer
from ..training.resources import check_fits
from .space import DEFAULTS, check_names, normalize_value

__all__ = ["resolve_config", "fit_config", "run_trial", "check_data", "Data"]

# ((X_train, y_train), (X_valid, y_valid), (X_test, y_test))
Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[Any, Any]]


def resolve_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The full configuration: :data:`DEFAULTS` updated by ``config``, values in canonical form.

    Raises ``ValueError`` naming the hyper-parameter whose value has the wrong type."""
    check_names(list(config), "configuration")
    c = dict(DEFAULTS)
    c.update({k: normalize_value(k, v) for k, v in config.items()})
    resolve_optimizer(c, config)  # alpha and beta by optimizer unless the config sets them
    for name in ("lr", "decay", "momentum", "l2", "l1"):
        if name == "momentum" and c[name] is None:  # the optimizer's own default
            continue
        if isinstance(c[name], bool) or not isinstance(c[name], (int, float)):
            raise ValueError(f"{name} must be a number, got {c[name]!r}")
        c[name] = float(c[name])
    for name in ("batch_size", "epochs", "warmup", "patience"):
        v = c[name]
        if name == "patience" and v is None:
            continue
        if isinstance(v, bool) or not (
            isinstance(v, int) or (isinstance(v, float) and v.is_integer())
        ):
            raise ValueError(f"{name} must be an integer, got {v!r}")
        c[name] = int(v)
    if "schedule" in config and c["schedule"] is None:  # auto: by the decay given
        c["schedule"] = "constant" if c["decay"] == 0 else "inverse"
    if "decay" not in config:  # the schedule's own delta (flowgraph.training.defaults.DECAY)
        c["decay"] = DECAY.get(c["schedule"], c["decay"])
    elif c["schedule"] == "constant" and c["decay"] != 0:
        raise ValueError(
            f"decay = {c['decay']:g} has no effect with the constant schedule; "
            "use schedule inverse or power"
        )
    return c


def check_data(data: Any) -> Data:
    """``data`` as ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)) of arrays."""
    try:
        parts = [(np.asarray(X), np.asarray(y)) for X, y in data]
    except (TypeError, ValueError):
        parts = []
    if len(parts) != 3:
        raise ValueError(
            "data must be ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)) "
            "or a dataset name"
        )
    for what, (X, y) in zip(("train", "valid", "test"), parts):
        if X.ndim != 2 or y.shape != (len(X),) or len(X) == 0:
            raise ValueError(
                f"data, {what} part: X must be (N, D) and y (N,) with N >= 1, "
                f"got {X.shape} and {y.shape}"
            )
    if len({X.shape[1] for X, _ in parts}) != 1:
        raise ValueError(
            f"data: the parts have different input sizes {[X.shape[1] for X, _ in parts]}"
        )
    return tuple(parts)  # type: ignore[return-value]


def _n_classes(data: Data) -> int:
    # C from every part, so that all trials (and the test evaluation) agree on the output size
    return int(max(int(np.max(y)) for _, y in data)) + 1


def fit_config(
    config: Mapping[str, Any],
    data: Data,
    seed: int,
    *,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> tuple[Model, History]:
    """Build and train the network of ``config`` on data's training part, watching the
    validation part (early stopping when ``patience`` is set); return the model and history.

    The steps are the recipe's (:mod:`flowgraph.training.recipe`), as for ``flowgraph train``:
    ``sizes = [D, H_1, ..., H_L, C]`` in ``dtype``, weights by ``init`` and batch order from
    ``seed``."""
    c = resolve_config(config)
    (X, y), valid, _ = data
    # refused before allocating: a layer of 10^9 units is one failed trial, not a killed search
    check_fits(len(X) + len(valid[0]), [X.shape[1], *c["hidden"], _n_classes(data)],
               min(int(c["batch_size"]), len(X)), np.dtype(c["dtype"]).itemsize)  # fmt: skip
    model = recipe.build_model(c, X.shape[1], _n_classes(data), seed=seed)
    optimizer = recipe.build_optimizer(c, model)
    history = recipe.fit(c, model, optimizer, (X, y), valid, seed=seed, progress=progress,
                         callbacks=callbacks)  # fmt: skip
    return model, history


def run_trial(
    config: Mapping[str, Any],
    data: Data,
    seed: int,
    *,
    index: int = 0,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train ``config`` with ``seed`` and return the trial's record (a dict):

    ``trial`` (index), ``seed``, ``config``, ``status`` ("ok" or "failed"), ``valid_error``
    and ``train_error`` (classification error of the final model; NaN when failed),
    ``epochs_trained``, ``best_epoch``, ``seconds`` and ``error`` (the exception, if any).

    Any exception of the training (a divergence, an invalid value) makes a failed record; a
    Ctrl-C (KeyboardInterrupt, or an interrupted training) propagates, since a half-trained
    trial is not a finished one."""
    record: dict[str, Any] = {
        "trial": int(index),
        "seed": int(seed),
        "config": dict(config),
        "status": "ok",
        "valid_error": math.nan,
        "train_error": math.nan,
        "epochs_trained": 0,
        "best_epoch": None,
        "seconds": 0.0,
        "error": "",
    }
    start = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            model, history = fit_config(config, data, seed, callbacks=callbacks)
            if history.interrupted:
                raise KeyboardInterrupt
            (X, y), (Xv, yv), _ = data
            record["valid_error"] = model.error(Xv, yv)
            record["train_error"] = model.error(X, y)
        record["epochs_trained"] = len(history)
        record["best_epoch"] = history.best_epoch
    except Exception as e:  # noqa: BLE001 - any failure of one trial is recorded, not raised
        record["status"] = "failed"
        record["error"] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    record["seconds"] = time.perf_counter() - start
    return record
