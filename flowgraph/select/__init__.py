"""Model selection: grid and random search over hyper-parameters, in parallel.

The lecture's protocol: the training set trains the parameters theta, the validation set
selects the hyper-parameters (alpha, delta, beta, lambda, the widths H_k, g, the batch size,
the epochs), the test set estimates the generalisation error once, at the end.

    >>> from flowgraph.select import grid_search
    >>> result = grid_search({"lr": [0.01, 0.1], "hidden": [50, 100], "epochs": 3}, "digits",
    ...                      progress=False)
    >>> len(result.ok_trials), result.best["lr"], result.best["hidden"]
    (4, 0.1, (100,))
    >>> 0 < result.test_error < 0.2  # the best configuration, trained again, on the test part
    True

A random search of 20 trials on a Dask cluster (``dask.distributed``, the ``cluster`` extra)::

    random_search({"lr": loguniform(1e-3, 1), "activation": choice(["tanh", "relu"])},
                  "digits", 20, scheduler="tcp://host:8786")

Trials run in this process (``n_jobs=1``), on local processes (``n_jobs=k``, joblib's loky
backend) or on a Dask cluster (``scheduler=``); each is a pure function of its configuration,
data and seed, so the table is the same whatever runs it.
"""

from .result import SearchResult
from .search import grid_search, load_data, plan_random, random_search
from .space import (
    DEFAULTS,
    Distribution,
    SearchError,
    choice,
    format_value,
    grid_configs,
    loguniform,
    parse_hidden,
    randint,
    sample_config,
    trial_seed,
    uniform,
)
from .trial import fit_config, resolve_config, run_trial

__all__ = [
    "grid_search", "random_search", "SearchResult", "SearchError",
    "loguniform", "uniform", "randint", "choice", "Distribution",
    "run_trial", "fit_config", "resolve_config", "sample_config", "trial_seed", "plan_random",
    "grid_configs", "load_data", "parse_hidden", "format_value", "DEFAULTS",
]  # fmt: skip
