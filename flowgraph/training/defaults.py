"""The defaults of a training run, in one place: ``flowgraph train``, ``flowgraph search`` and
:mod:`flowgraph.select` all start from these, so a configuration means the same network and
the same SGD wherever it is trained.

Tuned on digits (two hidden layers of 100 tanh units): SGD with momentum beta = 0.9, the rate
alpha_t = alpha / (1 + delta t) with alpha = 0.2 and delta = 1e-3, L2 with lambda = 3e-4,
batches of 32, at most 200 epochs with early stopping after 30 without a better validation
error; 15% of the examples for validation and 15% for the test. The 2-D sets use 1000 points
and alpha = 0.05 (a large step keeps a 100 x 100 network at a straight boundary there).
Another ``optimizer`` (flowgraph.optim) takes its own alpha, and momentum only where it has one
(``LR_BY_OPTIMIZER``, ``MOMENTUM_BY_OPTIMIZER``). Parameters are float32, drawn by Glorot's rule
U[-b, b], b = sqrt(6 / (fan_in + fan_out)). ``RUN_DEFAULTS`` adds what a whole run needs
beyond the network and SGD: the dataset, the split, the preprocessing and the seed.
"""

from __future__ import annotations

from typing import Any

from ..optim import DEFAULT_LR, OPTIMIZERS

__all__ = ["HYPERPARAMETERS", "SPLIT", "DECAY", "TWO_D", "TWO_D_SAMPLES", "TWO_D_LR",
           "augment_for", "lr_for", "n_samples_for", "LR_BY_OPTIMIZER",
           "MOMENTUM_BY_OPTIMIZER", "resolve_optimizer", "RUN_DEFAULTS", "INITS"]  # fmt: skip

# what a configuration that says nothing else trains with
HYPERPARAMETERS: dict[str, Any] = {
    "lr": 0.2,
    "schedule": "inverse",
    "decay": 1e-3,
    "warmup": 0,
    "momentum": 0.9,
    "hidden": (100, 100),
    "activation": "tanh",
    "l2": 3e-4,
    "l1": 0.0,
    "batch_size": 32,
    "epochs": 200,
    "patience": 30,
    "optimizer": "sgd",
    "dtype": "float32",
    "init": "glorot",
}
SPLIT = {"valid": 0.15, "test": 0.15}  # fractions of the examples (MNIST keeps its test set)
DECAY = {"constant": 0.0, "inverse": 1e-3, "power": 0.6}  # delta by schedule
TWO_D = ("moons", "circles", "spirals", "xor", "blobs")
TWO_D_SAMPLES = 1000
TWO_D_LR = 0.05
# --init names and the flowgraph.init rule each stands for
INITS = {"glorot": "glorot_uniform", "normal": "normal", "constant": "constant", "zeros": "zeros"}

# what a run (flowgraph train) takes where its configuration is silent; None: resolved by the
# recipe (lr and momentum by optimizer and dataset, decay by schedule, augment by dataset)
RUN_DEFAULTS: dict[str, Any] = {
    **HYPERPARAMETERS, "hidden": [100, 100], "lr": None, "momentum": None, "decay": None,
    "dataset": "digits", "data_dir": None, "n_samples": None, "noise": None, "valid": 0.15,
    "test": 0.15, "preprocess": "auto", "augment": "auto", "l1_prox": 0.0, "seed": 0,
    "beta1": None, "beta2": None, "rho": None, "eps": None, "weight_decay": None,
    "dampening": None, "centered": False, "amsgrad": False, "label": None, "features": None,
    "dropout": 0.0, "batch_norm": False,
}  # fmt: skip


# alpha by optimizer, tuned on digits with batches of 32 (torch.optim's defaults, which the
# classes of flowgraph.optim keep, are 0.01 for adagrad and rmsprop and 0.001 for adam, adamw);
# the optimizers are those of flowgraph.optim.OPTIMIZERS, and one missing here takes torch's
LR_BY_OPTIMIZER = {"sgd": 0.2, "nesterov": 0.2, "adagrad": 0.1, "rmsprop": 3e-3, "adam": 3e-3,
                   "adamw": 3e-3}  # fmt: skip
# beta when none is given: SGD's momentum; rmsprop's is 0 and the others take none
MOMENTUM_BY_OPTIMIZER = {"sgd": 0.9, "nesterov": 0.9}


def lr_for(dataset: str, optimizer: str = "sgd") -> float:
    """alpha for a dataset and an optimizer: SGD's (and Nesterov's) 0.05 for the 2-D sets and
    0.2 otherwise; the other optimizers' LR_BY_OPTIMIZER on every set."""
    if optimizer in ("sgd", "nesterov") and dataset.strip().lower() in TWO_D:
        return TWO_D_LR
    return LR_BY_OPTIMIZER.get(optimizer) or DEFAULT_LR[optimizer]  # type: ignore[return-value]


def resolve_optimizer(config: dict[str, Any], given: Any) -> None:
    """In ``config`` (defaults updated by the names in ``given``): the optimizer's name in
    lower case, and alpha and beta by optimizer where ``given`` sets neither."""
    name = config["optimizer"]
    if not isinstance(name, str) or name.strip().lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    config["optimizer"] = name = name.strip().lower()
    if "lr" not in given:
        config["lr"] = LR_BY_OPTIMIZER.get(name) or DEFAULT_LR[name]
    if "momentum" not in given:
        config["momentum"] = MOMENTUM_BY_OPTIMIZER.get(name)


def n_samples_for(dataset: str) -> int | None:
    """How many points to generate: 1000 for a 2-D set; None (all) for the others."""
    return TWO_D_SAMPLES if dataset.strip().lower() in TWO_D else None


def augment_for(dataset: str) -> str:
    """``shifts`` (the one-pixel shifted copies) for digits, ``none`` otherwise."""
    return "shifts" if dataset.strip().lower() == "digits" else "none"
