"""Grid and random search: plan the trials, run them here, on local processes or on a Dask
cluster, keep a checkpoint, and evaluate the best configuration once on the test set.

The lecture's model selection: the training set trains (theta), the validation set selects
the hyper-parameters (alpha, delta, beta, lambda, the widths H_k, g, ...), the test set
estimates the generalisation error once, at the end.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..training import Callback
from ..training.defaults import SPLIT
from .checkpoint import Checkpoint, fingerprint
from .result import SearchResult, sort_key
from .runners import Plan, check_runner, lost, run_dask, run_loky, run_serial
from .space import (
    SearchError,
    check_distributions,
    check_plan_values,
    grid_configs,
    normalize_value,
    sample_config,
    trial_seed,
)
from .trial import Data, check_data, fit_config

__all__ = ["grid_search", "random_search", "load_data", "plan_random"]



class LoadedData(tuple):
    """((X_train, y_train), (X_valid, y_valid), (X_test, y_test)) of a named dataset, with how
    it was made: ``preprocessing`` (fitted on the training part, applied to all three: the
    parts are x') and ``metadata`` (dataset, split, preprocessing: what ``flowgraph evaluate``
    needs to re-create the same test part from a saved best model)."""

    preprocessing: Any = None
    metadata: dict[str, Any]

    def __new__(cls, parts: Data, preprocessing: Any, metadata: dict[str, Any]) -> LoadedData:
        self = super().__new__(cls, parts)
        self.preprocessing, self.metadata = preprocessing, metadata
        return self

    def __reduce__(self):  # pickled to workers with what it carries
        return (LoadedData, (tuple(self), self.preprocessing, self.metadata))


def load_data(
    data: Any,
    *,
    seed: int = 0,
    valid: float = SPLIT["valid"],
    test: float = SPLIT["test"],
    data_dir: str | os.PathLike | None = None,
    n_samples: int | None = None,
    preprocess: str = "auto",
    augment: str = "auto",
    label: str | None = None,
    features: str | None = None,
) -> Data:
    """``data`` as ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)).

    A dataset name (digits, moons, ...: ``flowgraph.datasets.DATASETS``) is loaded with
    ``get_dataset`` (2-D sets: 1000 points unless ``n_samples`` says otherwise), split with
    class proportions kept (``valid`` and ``test`` fractions, drawn from ``seed``; MNIST keeps
    its official test set and takes ``valid`` of its training set; a CSV or NPZ file is read
    by :func:`flowgraph.datasets.from_file` with ``label`` and ``features``: all through the
    recipe's :func:`~flowgraph.training.recipe.load_parts`) and preprocessed as
    ``flowgraph train`` does (:class:`flowgraph.Preprocessing` fitted on the training part:
    ``auto`` scales digits by 1/16 and standardises the others; ``augment="auto"`` adds the
    shifted copies of the digits' training images). The same defaults as ``flowgraph train``
    (:mod:`flowgraph.training.defaults`), so a configuration means the same run in both.

    The parts are preprocessed (x'): the trials' models, which have no preprocessing of their
    own, train on them as they are. The search's ``best_model`` is given the preprocessing
    (``model.preprocessing``), so that it takes raw inputs, as ``get_dataset`` gives them."""
    if isinstance(data, LoadedData):
        return data
    if not isinstance(data, str):
        return check_data(data)
    from .. import datasets
    from ..model.preprocessing import Preprocessing
    from ..training.defaults import augment_for, n_samples_for
    from ..training.recipe import load_parts

    from_file = datasets.is_data_file(data)
    name = os.path.abspath(data) if from_file else data.strip().lower()
    if n_samples is None and not from_file:
        n_samples = n_samples_for(name)
    split: dict[str, Any] = {"valid": valid, "test": test, "seed": seed}
    split.update({k: v for k, v in (("n_samples", n_samples), ("label", label),
                                    ("features", features)) if v is not None})  # fmt: skip
    folder = None if data_dir is None or name != "mnist" else str(data_dir)  # the others need none
    parts_, info = load_parts(name, folder, split)
    train, valid_part, test_part = parts_["train"], parts_["valid"], parts_["test"]
    augment = augment_for(name) if augment == "auto" else augment
    shape = info["image_shape"] if augment == "shifts" else None
    pre = Preprocessing.fit(train[0], preprocess, dataset=name, image_shape=shape)
    X_fit, y_fit = pre.augment(*train)
    parts = check_data(((pre.transform(X_fit), y_fit),
                        (pre.transform(valid_part[0]), valid_part[1]),
                        (pre.transform(test_part[0]), test_part[1])))  # fmt: skip
    metadata = {"dataset": name, "data_dir": None if data_dir is None else str(data_dir),
                "split": split, "preprocessing": pre.to_dict(),
                **({"classes": info["classes"]} if info.get("classes") else {})}  # fmt: skip
    return LoadedData(parts, pre, metadata)


# -- the search ---------------------------------------------------------------------------------

_RETRIES = 1  # how many times a lost trial is run again before it is reported


def _search(
    kind: str,
    space: dict[str, Any],
    plan: Plan,
    data: Data,
    *,
    seed: int,
    n_jobs: int,
    scheduler: Any,
    checkpoint: str | os.PathLike | None,
    progress: bool,
    refit: bool,
    callbacks: Sequence[Callback],
) -> SearchResult:
    ckpt = Checkpoint(checkpoint, plan, fingerprint(data)) if checkpoint is not None else None
    done: dict[int, dict[str, Any]] = dict(ckpt.done) if ckpt else {}
    n_resumed = len(done)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan), initial=len(done), desc=f"{kind} search", unit="trial")
    interrupted = False
    try:
        _run_trials(plan, done, data, callbacks, n_jobs, scheduler, ckpt, bar)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()

    result = SearchResult(
        kind=kind,
        space=space,
        seed=seed,
        trials=[done[i] for i in sorted(done)],
        n_planned=len(plan),
        interrupted=interrupted,
        n_resumed=n_resumed,
    )
    if result.lost_trials and not interrupted:
        warnings.warn(
            f"{len(result.lost_trials)} trial(s) lost by the runner even after a retry: "
            f"{[t['trial'] for t in result.lost_trials]}; the best is chosen among the others "
            "only, so no test error is measured (run the search again with the checkpoint)",
            RuntimeWarning,
            stacklevel=3,
        )
    elif refit and not interrupted and result.best_trial is not None:
        _evaluate_best(result, data)
    return result


def _run_trials(plan: Plan, done: dict[int, dict[str, Any]], data: Data,
                callbacks: Sequence[Callback], n_jobs: int, scheduler: Any,
                ckpt: Checkpoint | None, bar: Any) -> None:
    """Run the trials of ``plan`` that ``done`` lacks, recording each in ``done`` (and the
    checkpoint) as it finishes. A trial lost by the runner (a worker or the scheduler gone)
    is no verdict on its configuration: it runs once more; what is still lost then is kept
    as lost, reported by the caller, never hidden."""
    best = min((t["valid_error"] for t in done.values() if sort_key(t)[0] == 0), default=math.inf)
    for attempt in range(1 + _RETRIES):
        todo = [p for p in plan if p[0] not in done or done[p[0]].get("lost")]
        if not todo:
            break
        if attempt and bar is not None:
            bar.write(f"retrying {len(todo)} lost trial(s): {[p[0] for p in todo]}")
        if scheduler is not None:
            records = run_dask(todo, data, callbacks, scheduler)
        elif n_jobs != 1:
            records = run_loky(todo, data, callbacks, n_jobs)
        else:
            records = run_serial(todo, data, callbacks)
        try:
            for record in records:
                done[record["trial"]] = record
                if ckpt is not None and not record.get("lost"):
                    ckpt.append(record)
                if sort_key(record)[0] == 0:
                    best = min(best, record["valid_error"])
                if bar is not None and not record.get("lost"):
                    bar.set_postfix({"best valid err": f"{best:.4f}"}, refresh=False)
                    bar.update(1)
        except (KeyboardInterrupt, SearchError):
            raise
        except Exception as e:  # the runner itself broke (a worker killed, a pool gone)
            for i, config, s in todo:
                if i not in done or done[i].get("lost"):
                    done[i] = lost(i, config, s, e)
        finally:
            records.close()  # stops the workers still running when interrupted


def _evaluate_best(result: SearchResult, data: Data) -> None:
    """Train the best configuration again with its seed and measure its test error, once."""
    t = result.best_trial
    assert t is not None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        model, history = fit_config(t["config"], data, t["seed"])
    if history.interrupted:  # Ctrl-C during the retraining: no test error from half a model
        result.interrupted = True
        return
    _, (Xv, yv), (Xt, yt) = data
    if model.error(Xv, yv) != t["valid_error"]:
        warnings.warn(
            f"the best configuration trained again gives validation error "
            f"{model.error(Xv, yv):.4f}, not its trial's {t['valid_error']:.4f}: training is "
            "not deterministic here (different BLAS threads or library versions on the workers?)",
            RuntimeWarning,
            stacklevel=3,
        )
    result.test_error = model.error(Xt, yt)  # x' data, a model without preprocessing: once
    # where the data came from travels with the model, and so does its input pipeline: from
    # now on the best model takes raw inputs (a saved best_model.npz, its predict)
    model.metadata.update(getattr(data, "metadata", {}))
    pre = getattr(data, "preprocessing", None)
    if pre is not None:
        model.preprocessing = pre
    result.best_model = model


def grid_search(
    space: Mapping[str, Any],
    data: Any,
    *,
    n_jobs: int = 1,
    scheduler: Any = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    refit: bool = True,
    callbacks: Sequence[Callback] = (),
) -> SearchResult:
    """Train every combination of the values in ``space``, select on the validation error.

    ``space`` maps hyper-parameter names (see :mod:`flowgraph.select.space`) to a list of
    values, e.g. ``{"lr": [0.01, 0.1], "hidden": [50, 100, "100x100"]}``; a non-list value is
    fixed. Every trial trains from the same ``seed`` (same initial weights where the shapes
    agree, same batch order): the configurations are compared under the same randomness.

    ``data``: ((X_train, y_train), (X_valid, y_valid), (X_test, y_test)) or a dataset name.
    ``n_jobs=k`` runs k trials at once in local processes (joblib's loky backend; -1: one per
    core); ``scheduler`` ("tcp://host:8786" or a ``dask.distributed.Client``) runs them on a
    Dask cluster whose workers have flowgraph installed. The results are the same either way.
    ``checkpoint``: a file that receives each finished trial; run again with the same path to
    skip them. ``callbacks`` go to every trial's :func:`flowgraph.train`. ``refit``: train the
    best configuration again and measure its test error. Ctrl-C stops the search and returns
    the finished trials (without the test evaluation).
    """
    check_runner(n_jobs, scheduler)
    configs = grid_configs(space)
    space = {
        k: [normalize_value(k, x) for x in (v if isinstance(v, list) else [v])]
        for k, v in space.items()
    }
    plan = [(i, config, int(seed)) for i, config in enumerate(configs)]
    return _search(
        "grid",
        space,
        plan,
        load_data(data, seed=seed),
        seed=int(seed),
        n_jobs=n_jobs,
        scheduler=scheduler,
        checkpoint=checkpoint,
        progress=progress,
        refit=refit,
        callbacks=callbacks,
    )


def plan_random(distributions: Mapping[str, Any], n_trials: int, seed: int = 0) -> Plan:
    """The trials of a random search: (index, configuration, seed) for i < ``n_trials``.

    Trial i's seed is :func:`trial_seed` (seed, i); its configuration is drawn from it
    (:func:`sample_config`), and it trains from it."""
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise SearchError(f"n_trials must be a positive integer, got {n_trials!r}")
    distributions = check_distributions(distributions)
    plan = []
    for i in range(int(n_trials)):
        s = trial_seed(seed, i)
        plan.append((i, sample_config(distributions, s), s))
    check_plan_values(distributions, [config for _, config, _ in plan])
    return plan


def random_search(
    distributions: Mapping[str, Any],
    data: Any,
    n_trials: int,
    *,
    n_jobs: int = 1,
    scheduler: Any = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    refit: bool = True,
    callbacks: Sequence[Callback] = (),
) -> SearchResult:
    """Train ``n_trials`` configurations drawn at random, select on the validation error.

    ``distributions`` maps hyper-parameter names to :func:`loguniform`, :func:`uniform`,
    :func:`randint`, :func:`choice` (a plain list is a choice), a ``scipy.stats``
    distribution (anything with ``rvs(random_state=)``) or a fixed value, e.g.
    ``{"lr": loguniform(1e-3, 1), "hidden": choice([50, 100, "100x100"]), "epochs": 20}``.
    Every trial's configuration is drawn before the first one runs; a value outside its
    hyper-parameter's range (a negative rate, a fractional batch size, an unknown activation)
    raises :class:`SearchError` then, instead of failing trial after trial.
    Trial i has its own seed s_i = trial_seed(seed, i): its configuration is drawn from s_i and
    it trains from s_i, so the search is reproducible and ``run_trial(trial["config"], data,
    trial["seed"])`` re-runs one trial alone. Other arguments as in :func:`grid_search`.
    """
    check_runner(n_jobs, scheduler)
    plan = plan_random(distributions, n_trials, seed)
    space = check_distributions(distributions)
    return _search(
        "random",
        space,
        plan,
        load_data(data, seed=seed),
        seed=int(seed),
        n_jobs=n_jobs,
        scheduler=scheduler,
        checkpoint=checkpoint,
        progress=progress,
        refit=refit,
        callbacks=callbacks,
    )
