"""Where trials run: here, one after another; on local processes (joblib's loky); or on a
Dask cluster. Each runner yields the records of its trials as they finish; a trial its
runner loses is a record of its own (``lost``), retried by the search."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Generator, Sequence
from typing import Any

import numpy as np

from ..training import Callback
from .space import SearchError
from .trial import Data, run_trial

# one planned trial: (index, configuration, seed)
Plan = list[tuple[int, dict[str, Any], int]]


__all__ = ["run_serial", "run_loky", "run_dask", "lost", "check_runner", "exit_with_parent"]




def run_serial(
    todo: Plan, data: Data, callbacks: Sequence[Callback]
) -> Generator[dict, None, None]:
    for i, config, seed in todo:
        yield run_trial(config, data, seed, index=i, callbacks=callbacks)


def exit_with_parent(parent: int) -> None:
    """Each worker process starts a thread that ends the worker as soon as the search that
    started it is gone, even when that process was killed outright (SIGKILL) and could not
    stop its workers itself (an idle loky worker would otherwise wait minutes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="flowgraph-parent-watch", daemon=True).start()


def run_loky(todo: Plan, data: Data, callbacks: Sequence[Callback], n_jobs: int) -> Generator:
    from joblib import Parallel, delayed, parallel_config

    watch = {"initializer": exit_with_parent, "initargs": (os.getpid(),)}
    with parallel_config(backend="loky", **watch):  # the dispatch starts here, in __call__
        records = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(run_trial)(config, data, seed, index=i, callbacks=callbacks)
            for i, config, seed in todo
        )
    yield from records


def run_dask(todo: Plan, data: Data, callbacks: Sequence[Callback], scheduler: Any) -> Generator:
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
                yield lost(i, config, seed, e)
    finally:
        unfinished = [f for f in futures if not f.done()]
        if unfinished:
            client.cancel(unfinished)
        if own:
            client.close()


def lost(index: int, config: dict, seed: int, e: BaseException) -> dict[str, Any]:
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


def check_runner(n_jobs: int, scheduler: Any) -> None:
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
