"""The defaults of a training run, in one place: ``flowgraph train``, ``flowgraph search`` and
:mod:`flowgraph.select` all start from these, so a configuration means the same network and
the same SGD wherever it is trained.

Tuned on digits (two hidden layers of 100 tanh units): SGD with momentum beta = 0.9, the rate
alpha_t = alpha / (1 + delta t) with alpha = 0.2 and delta = 1e-3, L2 with lambda = 3e-4,
batches of 32, at most 200 epochs with early stopping after 30 without a better validation
error; 15% of the examples for validation and 15% for the test. The 2-D sets use 1000 points
and alpha = 0.05 (a large step keeps a 100 x 100 network at a straight boundary there).
"""

from __future__ import annotations

from typing import Any

__all__ = ["HYPERPARAMETERS", "SPLIT", "DECAY", "TWO_D", "TWO_D_SAMPLES", "TWO_D_LR",
           "augment_for", "lr_for", "n_samples_for"]  # fmt: skip

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
}
SPLIT = {"valid": 0.15, "test": 0.15}  # fractions of the examples (MNIST keeps its test set)
DECAY = {"constant": 0.0, "inverse": 1e-3, "power": 0.6}  # delta by schedule
TWO_D = ("moons", "circles", "spirals", "xor", "blobs")
TWO_D_SAMPLES = 1000
TWO_D_LR = 0.05


def lr_for(dataset: str) -> float:
    """alpha for a dataset: 0.05 for the 2-D sets, 0.2 otherwise."""
    return TWO_D_LR if dataset.strip().lower() in TWO_D else HYPERPARAMETERS["lr"]


def n_samples_for(dataset: str) -> int | None:
    """How many points to generate: 1000 for a 2-D set; None (all) for the others."""
    return TWO_D_SAMPLES if dataset.strip().lower() in TWO_D else None


def augment_for(dataset: str) -> str:
    """``shifts`` (the one-pixel shifted copies) for digits, ``none`` otherwise."""
    return "shifts" if dataset.strip().lower() == "digits" else "none"
