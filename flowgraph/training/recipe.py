"""THE recipe: configuration -> data -> preprocessing -> model -> optimiser -> trained model.

One configuration (a dict of the options of ``flowgraph train``, :data:`RUN_DEFAULTS` for those
it does not set) means the same run wherever it is trained: by ``flowgraph train``
(:mod:`.run`), by a search's trial (:func:`flowgraph.select.trial.fit_config`, which takes its
data already split and calls :func:`fit` below) and by a user in Python. The steps:

1. :func:`resolve`: the defaults, every value's type and range checked, alpha and beta by
   optimizer and dataset, delta by schedule, the shifted copies by dataset;
2. :func:`load_parts`: raw (X, y) for train / valid / test, stratified from ``seed``;
3. :func:`fit_preprocessing`: x' = (x - mu) / sigma (or x / 16) fitted on the training part;
4. :func:`build_model`: the lecture's MLP [D, H_1, ..., H_L, C] in ``dtype``, weights by
   ``init`` drawn from ``seed``;
5. :func:`build_optimizer`: the update rule and alpha_t;
6. :func:`fit`: :func:`flowgraph.train`, with early stopping after ``patience`` epochs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import datasets
from ..errors import FlowgraphError
from ..model import mlp
from ..model.mlp import ACTIVATIONS
from ..model.preprocessing import Preprocessing
from ..optim import OPTIMIZERS, OPTIONS, SCHEDULES, make_optimizer, make_schedule
from .callbacks import Callback
from .defaults import (
    DECAY,
    INITS,
    MOMENTUM_BY_OPTIMIZER,
    RUN_DEFAULTS,
    TWO_D,
    TWO_D_SAMPLES,
    augment_for,
    lr_for,
)  # fmt: skip
from .early_stopping import EarlyStopping
from .history import History
from .loop import train

__all__ = ["ConfigError", "RUN_OPTIONS", "OPTIMIZER_FLAGS", "resolve", "ignored_options",
           "load_parts", "split_parts", "check_file_options", "fit_preprocessing", "build_model",
           "build_optimizer", "stopper", "fit", "PREPROCESS", "AUGMENT", "SCHEDULES",
           "DTYPES"]  # fmt: skip

RUN_OPTIONS = tuple(RUN_DEFAULTS)  # the names a run's configuration may hold
OPTIMIZER_FLAGS = ("beta1", "beta2", "rho", "eps", "weight_decay", "dampening")
PREPROCESS = ("auto", "standardize", "scale", "none")
AUGMENT = ("auto", "shifts", "none")
DTYPES = ("float32", "float64")
CHOICES = {"dataset": datasets.DATASETS, "preprocess": PREPROCESS, "augment": AUGMENT,
           "init": tuple(INITS), "activation": tuple(ACTIVATIONS), "dtype": DTYPES,
           "optimizer": OPTIMIZERS, "schedule": tuple(SCHEDULES)}  # fmt: skip
WHOLE = {"n_samples": 1, "warmup": 0, "batch_size": 1, "epochs": 1, "patience": 0, "seed": 0}
OPTIONAL = {"n_samples", "noise", "lr", "momentum", "decay", "data_dir", "label", "features",
            *OPTIMIZER_FLAGS}  # fmt: skip


class ConfigError(FlowgraphError, ValueError):
    """A configuration value of the wrong type or out of its range, named with its option."""


def flag(name: str) -> str:
    """The command-line spelling of a configuration name: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def check_value(name: str, value: Any) -> Any:
    """``value`` for option ``name`` in canonical form, or a ConfigError naming both."""
    if value is None and name in OPTIONAL:
        return None
    if name == "dataset" and datasets.is_data_file(value):
        return os.path.abspath(value)  # a file of the user's own, found from any folder later
    if name in ("label", "features"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{flag(name)} must name a column or an array, got {value!r}")
        return value.strip()
    if name in CHOICES:
        ok = isinstance(value, str) and value.strip().lower() in CHOICES[name]
        if not ok and name == "dataset":
            raise ConfigError(f"unknown dataset {value!r}; choose one of "
                              f"{', '.join(datasets.DATASETS)}")  # fmt: skip
        if not ok:
            raise ConfigError(f"{flag(name)} must be one of {', '.join(CHOICES[name])}, "
                              f"got {value!r}")  # fmt: skip
        return value.strip().lower()
    if name in WHOLE:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                value < WHOLE[name]:  # fmt: skip
            raise ConfigError(f"{flag(name)} must be a whole number >= {WHOLE[name]}, "
                              f"got {value!r}")  # fmt: skip
        return int(value)
    if name == "hidden":
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 0 for h in value
        ):
            raise ConfigError(f"--hidden must be a list of widths >= 0, got {value!r}")
        if 0 in value and len(value) > 1:
            raise ConfigError(f"--hidden {' '.join(map(str, value))}: none / 0 stands alone")
        return [int(h) for h in value if h]
    if name in ("centered", "amsgrad", "batch_norm"):
        if not isinstance(value, bool):
            raise ConfigError(f"{flag(name)} must be true or false, got {value!r}")
        return value
    if name == "data_dir":
        if not isinstance(value, str):
            raise ConfigError(f"--data-dir must be a folder name, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or value < 0 or (name == "lr" and value == 0):  # fmt: skip
        raise ConfigError(f"{flag(name)} must be a finite number >= 0{' (> 0)' * (name == 'lr')}"
                          f", got {value!r}")  # fmt: skip
    if name in ("valid", "test") and not 0 < value < 1:
        raise ConfigError(f"{flag(name)} must be a fraction between 0 and 1, got {value!r}")
    if name == "dropout" and not value < 1:
        raise ConfigError(f"--dropout must be a probability in [0, 1), got {value!r}")
    return float(value)


def resolve(given: Mapping[str, Any]) -> dict[str, Any]:
    """The full configuration of a run: :data:`RUN_DEFAULTS` updated by ``given`` (None
    values stand for "not given"), each value checked, the defaults that depend on others
    resolved. Resolving a resolved configuration changes nothing.

    >>> c = resolve({"dataset": "moons", "optimizer": "adam"})
    >>> c["lr"], c["momentum"], c["decay"], c["augment"], c["n_samples"]
    (0.003, None, 0.001, 'none', 1000)
    >>> resolve({"hidden": [10, 0]})
    Traceback (most recent call last):
    ...
    flowgraph.training.recipe.ConfigError: --hidden 10 0: none / 0 stands alone
    """
    unknown = sorted(set(given) - set(RUN_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)}")
    c = dict(RUN_DEFAULTS)
    c.update({k: v for k, v in given.items() if v is not None})
    c = {k: check_value(k, v) for k, v in c.items()}
    name = c["dataset"]
    if c["lr"] is None:
        c["lr"] = lr_for(name, c["optimizer"])
    if c["momentum"] is None and given.get("momentum") is None:
        c["momentum"] = MOMENTUM_BY_OPTIMIZER.get(c["optimizer"])
    if c["decay"] is None:
        c["decay"] = DECAY[c["schedule"]]
    if c["augment"] == "auto":
        c["augment"] = augment_for(name)
    if c["n_samples"] is None and name in TWO_D:
        c["n_samples"] = TWO_D_SAMPLES
    check_together(c)
    return c


def check_together(c: dict[str, Any]) -> None:
    """The checks that involve two options."""
    if c["momentum"] is not None and c["momentum"] >= 1:
        raise ConfigError(f"--momentum must lie in [0, 1), got {c['momentum']}")
    if c["valid"] + c["test"] >= 1:
        raise ConfigError(f"--valid + --test must be below 1, got {c['valid'] + c['test']:g}")
    if c["schedule"] == "power" and not (0.5 < c["decay"] <= 1):
        raise ConfigError(f"--schedule power needs 0.5 < --decay <= 1, got {c['decay']:g}")
    if c["dataset"] != "mnist" and c["data_dir"] is not None:
        raise ConfigError(f"--data-dir is for mnist; {c['dataset']} needs no files")
    if c["augment"] == "shifts" and c["dataset"] not in ("digits", "mnist"):
        raise ConfigError(f"--augment shifts needs images; {c['dataset']} is not an image set")
    check_file_options(c)


def check_file_options(c: Mapping[str, Any]) -> None:
    """A data file is used whole; --label and --features are for data files only."""
    if datasets.is_data_file(c["dataset"]):
        for name in ("n_samples", "noise"):
            if c.get(name) is not None:
                raise ConfigError(f"{flag(name)} is for the shipped and generated sets; the "
                                  f"data file {c['dataset']} is used whole")  # fmt: skip
        if c.get("features") is not None and not c["dataset"].lower().endswith(".npz"):
            raise ConfigError("--features names the feature array of an NPZ file; a CSV's "
                              "features are its columns other than --label")  # fmt: skip
        return
    given = [flag(k) for k in ("label", "features") if c.get(k) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} name{'s' * (len(given) == 1)} a column or "
                          f"array of a data file (--data FILE); {c['dataset']} is a "
                          "dataset")  # fmt: skip


def ignored_options(given: Mapping[str, Any]) -> list[str]:
    """Options given that have no effect (said, rather than silently dropped)."""
    constant = given.get("schedule") == "constant"
    notes = []
    if constant and given.get("decay") is not None:
        notes.append("--decay is ignored with --schedule constant (alpha_t = alpha)")
    if constant and given.get("warmup"):
        notes.append("--warmup is ignored with --schedule constant (every update uses alpha)")
    if given.get("l1") and given.get("l1_prox"):
        notes.append("--l1 and --l1-prox both penalise |W|: the penalty is applied twice")
    return notes


def split_of(c: Mapping[str, Any]) -> dict[str, Any]:
    """The split a configuration draws (what a model's metadata keeps to re-create it)."""
    split = {"valid": c["valid"], "test": c["test"], "seed": c["seed"]}
    if c.get("n_samples") is not None:
        split["n_samples"] = c["n_samples"]
    if c.get("noise") is not None:
        split["noise"] = c["noise"]
    for name in ("label", "features"):  # how a data file is read, to read it again
        if c.get(name) is not None:
            split[name] = c[name]
    return split


def load_parts(
    dataset: str, data_dir: str | None, split: dict[str, Any]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Raw (X, y) for train / valid / test, reproducibly from ``split`` (valid, test, seed, and
    for generated sets n_samples and noise).

    MNIST keeps its official test set and takes the validation part from its training set.
    ``dataset`` may name a CSV or NPZ file (:func:`flowgraph.datasets.from_file`, its
    ``label`` and ``features`` from ``split``); its labels become 0 .. C-1 and
    ``info["classes"]`` keeps their names."""
    if datasets.is_data_file(dataset):
        X, y, info = datasets.from_file(dataset, label=split.get("label"),
                                        features=split.get("features"))  # fmt: skip
        return split_parts(info["name"], X, y, split), info
    name = dataset.strip().lower()
    if name not in datasets.DATASETS:
        raise ConfigError(
            f"unknown dataset {dataset!r}; choose one of {', '.join(datasets.DATASETS)}"
        )
    if name != "mnist" and data_dir is not None:
        raise ConfigError(f"--data-dir is for mnist; {name} needs no files")
    X, y, info = datasets.get_dataset(
        name, data_dir=data_dir, seed=split["seed"], n_samples=split.get("n_samples"),
        noise=split.get("noise"),
    )  # fmt: skip
    if name == "mnist":
        start = info["test_start"]
        train_, valid, _ = datasets.split(
            X[:start], y[:start], valid=split["valid"], test=0.0, seed=split["seed"]
        )
        parts = {"train": train_, "valid": valid, "test": (X[start:], y[start:])}
        return check_parts(name, parts, split), info
    return split_parts(name, X, y, split), info


def split_parts(name: str, X: np.ndarray, y: np.ndarray, split: Mapping[str, Any]
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """train / valid / test of (X, y), stratified from the split's seed, none of them empty."""
    train_, valid, test = datasets.split(
        X, y, valid=split["valid"], test=split["test"], seed=split["seed"]
    )
    return check_parts(name, {"train": train_, "valid": valid, "test": test}, split)


def check_parts(name: str, parts: dict[str, Any], split: Mapping[str, Any]) -> dict[str, Any]:
    """``parts``, unless one of them is empty (found now, not as a NaN after the training)."""
    empty = [k for k, (_, yk) in parts.items() if len(yk) == 0]
    if empty:
        n = sum(len(yk) for _, yk in parts.values())
        raise ConfigError(
            f"{name} has {n} examples: its {' and '.join(empty)} split would be empty "
            f"(--valid {split['valid']}, --test {split['test']}); use larger fractions"
        )
    return parts


def fit_preprocessing(c: Mapping[str, Any], parts: Mapping[str, Any], info: Mapping[str, Any]
                      ) -> tuple[Preprocessing, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The preprocessing fitted on the raw training part, and the training data to fit on
    (with the one-pixel shifted copies of the images where ``augment`` is shifts)."""
    if c["augment"] == "shifts" and not info["image_shape"]:
        raise ConfigError(f"--augment shifts needs images; {info['name']} is not an image set")
    preprocessing = Preprocessing.fit(
        parts["train"][0], c["preprocess"], dataset=info["name"],
        image_shape=info["image_shape"] if c["augment"] == "shifts" else None,
    )  # fmt: skip
    return preprocessing, preprocessing.augment(*parts["train"])


def build_model(c: Mapping[str, Any], n_in: int, n_classes: int, seed: int | None = None):
    """The lecture's MLP [n_in, *hidden, n_classes] of ``c`` (activation, l2, l1, dtype, init),
    its weights drawn from ``seed`` (default: the configuration's)."""
    sizes = [int(n_in), *c["hidden"], int(n_classes)]
    dtype = check_value("dtype", c.get("dtype", "float32"))
    init = check_value("init", c.get("init", "glorot"))
    return mlp(sizes, c["activation"], c["l2"], c["l1"], dtype,
               c["seed"] if seed is None else seed, weight_init=INITS[init],
               dropout=c.get("dropout", 0.0), batch_norm=c.get("batch_norm", False))  # fmt: skip


def build_optimizer(c: Mapping[str, Any], model: Any):
    """The optimizer of ``c`` over the model's parameters, its rate alpha_t from the schedule;
    an option the optimizer does not take is a ConfigError naming it."""
    name = c["optimizer"]
    options = {k: c.get(k) for k in ("momentum", *OPTIMIZER_FLAGS)}
    options.update({k: True for k in ("centered", "amsgrad") if c.get(k)})
    wrong = [k for k, v in options.items() if v is not None and k not in OPTIONS[name]]
    if wrong:
        flags = ", ".join(map(flag, wrong))
        raise ConfigError(f"--optimizer {name} does not take {flags}; it takes "
                          f"{', '.join(map(flag, OPTIONS[name]))}")  # fmt: skip
    schedule = make_schedule(c["schedule"], c["lr"], c["decay"], c.get("warmup", 0))
    prox = c.get("l1_prox") or 0.0
    try:
        return make_optimizer(name, model.parameters, schedule, l1_prox=prox,
                              l1_params=model.weights,
                              **{k: v for k, v in options.items() if v is not None})  # fmt: skip
    except ValueError as e:
        raise ConfigError(str(e)) from None


def stopper(c: Mapping[str, Any]) -> EarlyStopping | None:
    """Early stopping after ``patience`` epochs (none for 0 or None)."""
    return EarlyStopping(c["patience"]) if c.get("patience") else None


def fit(c: Mapping[str, Any], model: Any, optimizer: Any, train_data: Any, valid: Any, *,
        seed: int | None = None, progress: bool = False, callbacks: Sequence[Callback] = (),
        state: Any = None) -> History:  # fmt: skip
    """Train ``model`` as ``c`` says (epochs, batch size, early stopping), batches from ``seed``
    (default: the configuration's)."""
    return train(model, train_data, valid, epochs=c["epochs"], batch_size=c["batch_size"],
                 optimizer=optimizer, early_stopping=stopper(c),
                 seed=c["seed"] if seed is None else seed, progress=progress,
                 callbacks=callbacks, state=state)  # fmt: skip
