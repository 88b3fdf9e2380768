"""Grid and random search: plan the trials, run them here, on local processes or on a Dask
cluster, keep a checkpoint, and evaluate the best configuration once on the test set.

The lecture's model selection: the training set trains (theta), the validation set selects
the hyper-parameters (alpha, delta, beta, lambda, the widths H_k, g, ...), the test set
estimates the generalisation error once, at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
import warnings
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._json import loads_bounded
from ..training import Callback
from ..training.defaults import SPLIT
from .result import SearchResult, _sort_key
from .space import (
    SearchError,
    check_distributions,
    check_plan_values,
    grid_configs,
    normalize_value,
    sample_config,
    trial_seed,
)
from .trial import Data, check_data, fit_config, run_trial

__all__ = ["grid_search", "random_search", "load_data", "plan_random"]

# one planned trial: (index, configuration, seed)
Plan = list[tuple[int, dict[str, Any], int]]


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


def _fingerprint(data: Data) -> str:
    """SHA-256 of the data's arrays: a checkpoint resumes only the search it was written by."""
    h = hashlib.sha256()
    for X, y in data:
        for a in (X, y):
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
    return h.hexdigest()


# -- the checkpoint -----------------------------------------------------------------------------

_FORMAT = "flowgraph-search-checkpoint"


def _to_json(record: dict[str, Any]) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return json.dumps(clean(record), allow_nan=False)


def _from_json(line: dict[str, Any]) -> dict[str, Any]:
    record = dict(line)
    record["config"] = {k: normalize_value(k, v) for k, v in line["config"].items()}
    for k in ("valid_error", "train_error"):
        record[k] = math.nan if record[k] is None else float(record[k])
    return record


def _impossible_error(record: dict[str, Any]) -> str | None:
    """Why a trial record's error rates cannot be (an error rate lies in [0, 1]; NaN only for
    a failed trial), or None: an edited checkpoint must not choose the best trial."""
    for k in ("valid_error", "train_error"):
        v = record[k]
        if (math.isnan(v) and record.get("status") == "ok") or not (math.isnan(v) or 0 <= v <= 1):
            return f"{k} = {v} is not an error rate in [0, 1] of a finished trial"
    return None


class _Checkpoint:
    """A JSON-lines file: a header naming the data, then one finished trial per line, each
    written with one call, flushed and fsync'ed.

    Nothing is written into an existing file before it is verified to be a checkpoint of this
    search: a mistyped path (a space file, a model) is refused untouched. An empty file, or one
    holding only the beginning of a header (a crash while creating it), is a fresh start. A
    half-written last trial (a crash mid-write) is dropped, and new lines start clean."""

    def __init__(self, path: str | os.PathLike, plan: Plan, fingerprint: str):
        self.path = Path(path)
        self.done: dict[int, dict[str, Any]] = {}
        header = {"format": _FORMAT, "version": 1, "data_sha256": fingerprint}
        planned = {i: (config, seed) for i, config, seed in plan}
        for i, config, _ in plan:
            try:
                _to_json({"config": config})
            except (TypeError, ValueError):
                raise SearchError(
                    f"trial {i}: a checkpoint stores configurations as JSON, and {config} is "
                    "not (give names and numbers, not objects)"
                ) from None
        if self.path.is_dir():
            raise SearchError(f"checkpoint {self.path} is a folder; give a file (e.g. s.jsonl)")
        if self.path.exists() and not self._is_fresh():
            self._read(planned, header)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line(json.dumps(header), mode="w")

    def _is_fresh(self) -> bool:
        """True for an empty file or one cut short while its header was being written."""
        size = self.path.stat().st_size
        if size == 0:
            return True
        if size > 4096:
            return False
        raw = self.path.read_bytes()
        start = b'{"format": "' + _FORMAT.encode() + b'"'
        return b"\n" not in raw and (start.startswith(raw) or raw.startswith(start))

    def _read(self, planned: dict[int, tuple[dict[str, Any], int]], header: dict) -> None:
        with open(self.path, "rb") as f:  # the first line decides, before anything else is read
            first_raw = f.readline(65536)
        try:
            first = loads_bounded(first_raw) if first_raw.endswith(b"\n") else None
        except ValueError:  # not UTF-8, not JSON, nested too deep
            first = None
        if not isinstance(first, dict) or first.get("format") != _FORMAT:
            raise SearchError(
                f"{self.path} is not a flowgraph search checkpoint (left untouched); "
                "give a new path, or the .jsonl file an earlier search wrote"
            )
        if first.get("data_sha256") != header["data_sha256"]:
            raise SearchError(
                f"checkpoint {self.path} was written by a search on other data; "
                "use another checkpoint path"
            )
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        try:
            lines = raw[:end].decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise SearchError(f"checkpoint {self.path}: not UTF-8 text past its header") from None
        records = []
        for n, text in enumerate(lines[1:], start=2):
            try:
                record = _from_json(loads_bounded(text))
                i = int(record["trial"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                raise SearchError(f"checkpoint {self.path}, line {n}: not a trial record") from None
            impossible = _impossible_error(record)
            if impossible:
                raise SearchError(f"checkpoint {self.path}, line {n}: {impossible}")
            if i not in planned or planned[i] != (record["config"], record["seed"]):
                want = planned.get(i)
                raise SearchError(
                    f"checkpoint {self.path}, line {n}: trial {i} was {record['config']} with "
                    f"seed {record['seed']}, but this search's trial {i} is "
                    + (f"{want[0]} with seed {want[1]}" if want else "not planned")
                    + "; a checkpoint belongs to one search: use another path"
                )
            records.append((i, record))
        if end < len(raw):  # verified: now drop the line a crash cut short, before appending
            with open(self.path, "r+b") as f:
                f.truncate(end)
        for i, record in records:
            self.done.setdefault(i, record)

    def _write_line(self, text: str, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append(self, record: dict[str, Any]) -> None:
        self._write_line(_to_json(record))


# -- executors: each yields the records of ``todo`` as they finish ------------------------------


def _run_serial(
    todo: Plan, data: Data, callbacks: Sequence[Callback]
) -> Generator[dict, None, None]:
    for i, config, seed in todo:
        yield run_trial(config, data, seed, index=i, callbacks=callbacks)


def _exit_with_parent(parent: int) -> None:
    """Each worker process starts a thread that ends the worker as soon as the search that
    started it is gone, even when that process was killed outright (SIGKILL) and could not
    stop its workers itself (an idle loky worker would otherwise wait minutes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="flowgraph-parent-watch", daemon=True).start()


def _run_loky(todo: Plan, data: Data, callbacks: Sequence[Callback], n_jobs: int) -> Generator:
    from joblib import Parallel, delayed, parallel_config

    watch = {"initializer": _exit_with_parent, "initargs": (os.getpid(),)}
    with parallel_config(backend="loky", **watch):  # the dispatch starts here, in __call__
        records = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(run_trial)(config, data, seed, index=i, callbacks=callbacks)
            for i, config, seed in todo
        )
    yield from records


def _run_dask(todo: Plan, data: Data, callbacks: Sequence[Callback], scheduler: Any) -> Generator:
    from dask.distributed import Client, as_completed

    own = isinstance(scheduler, str)
    try:
        client = Client(scheduler) if own else scheduler
    except OSError as e:  # refused, timed out, unknown host
        raise SearchError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    futures = []
    try:
        [data_future] = client.scatter([data], broadcast=True)
        by_key = {}
        for i, config, seed in todo:
            f = client.submit(
                run_trial, config, data_future, seed, index=i, callbacks=callbacks, pure=False
            )
            by_key[f.key] = (i, config, seed)
            futures.append(f)
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as e:  # the worker died or the task was lost: not the trial's doing
                i, config, seed = by_key[f.key]
                yield _lost(i, config, seed, e)
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:
            client.cancel(unfinished)
        if own:
            client.close()


def _lost(index: int, config: dict, seed: int, e: BaseException) -> dict[str, Any]:
    """The record of a trial that the cluster lost (kept out of the checkpoint: retried)."""
    return {
        "trial": index,
        "seed": seed,
        "config": config,
        "status": "failed",
        "valid_error": math.nan,
        "train_error": math.nan,
        "epochs_trained": 0,
        "best_epoch": None,
        "seconds": 0.0,
        "error": f"lost by the cluster: {type(e).__name__}: {e}",
        "lost": True,
    }


def _check_runner(n_jobs: int, scheduler: Any) -> None:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0:
        raise SearchError(f"n_jobs must be a positive number of processes or -1, got {n_jobs!r}")
    if scheduler is not None:
        if n_jobs != 1:
            raise SearchError(
                "give n_jobs (local processes) or scheduler (a Dask cluster), not both"
            )
        if not isinstance(scheduler, str) and not hasattr(scheduler, "submit"):
            raise SearchError(
                f"scheduler must be an address such as 'tcp://host:8786' or a "
                f"dask.distributed.Client, got {type(scheduler).__name__}"
            )


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
    ckpt = _Checkpoint(checkpoint, plan, _fingerprint(data)) if checkpoint is not None else None
    done: dict[int, dict[str, Any]] = dict(ckpt.done) if ckpt else {}
    n_resumed = len(done)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan), initial=len(done), desc=f"{kind} search", unit="trial")
    best = min((t["valid_error"] for t in done.values() if _sort_key(t)[0] == 0), default=math.inf)
    interrupted = False
    try:
        # a trial lost by the runner (a worker or the scheduler gone) is no verdict on its
        # configuration: it runs once more; what is still lost then is reported, never hidden
        for attempt in range(1 + _RETRIES):
            todo = [p for p in plan if p[0] not in done or done[p[0]].get("lost")]
            if not todo:
                break
            if attempt and bar is not None:
                bar.write(f"retrying {len(todo)} lost trial(s): {[p[0] for p in todo]}")
            if scheduler is not None:
                records = _run_dask(todo, data, callbacks, scheduler)
            elif n_jobs != 1:
                records = _run_loky(todo, data, callbacks, n_jobs)
            else:
                records = _run_serial(todo, data, callbacks)
            try:
                for record in records:
                    done[record["trial"]] = record
                    if ckpt is not None and not record.get("lost"):
                        ckpt.append(record)
                    if _sort_key(record)[0] == 0:
                        best = min(best, record["valid_error"])
                    if bar is not None and not record.get("lost"):
                        bar.set_postfix({"best valid err": f"{best:.4f}"}, refresh=False)
                        bar.update(1)
            except (KeyboardInterrupt, SearchError):
                raise
            except Exception as e:  # the runner itself broke (a worker killed, a pool gone)
                for i, config, s in todo:
                    if i not in done or done[i].get("lost"):
                        done[i] = _lost(i, config, s, e)
            finally:
                records.close()  # stops the workers still running when interrupted
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
    _check_runner(n_jobs, scheduler)
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
    _check_runner(n_jobs, scheduler)
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
