"""Lottery tickets: sparse subnetworks that train as well as the whole network.

Frankle and Carbin (ICLR 2019, "The Lottery Ticket Hypothesis: Finding Sparse, Trainable
Neural Networks"): a dense network at a random initialisation contains a subnetwork that,
trained in isolation from the same initial values, matches the dense network's accuracy.
The algorithm (iterative magnitude pruning):

1. randomly initialise f(x; theta_0), theta_0 ~ D_theta;
2. train for j iterations, arriving at theta_j;
3. prune p% of the remaining weights of each layer (those of smallest |W_ij| in theta_j),
   creating a 0/1 mask m;
4. reset the remaining weights to their values in theta_0: the winning ticket f(x; m ⊙ theta_0);
   repeat 2-4 for several rounds.

The control: the same mask m with a fresh random initialisation m ⊙ theta_0' trains worse at
high sparsity — the initial values matter, not only the structure. Masks are applied by
``SGD(masks=...)`` after every update, so pruned weights stay exactly 0 while training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import Parameter
from ..model import MLP, Model
from ..optim import SGD
from ..training import train
from .params import AnalysisError, reinitialise

__all__ = ["magnitude_masks", "sparsity", "train_masked", "lottery_ticket", "LotteryResult"]


def magnitude_masks(
    model: MLP,
    fraction: float,
    masks: Mapping[Parameter, np.ndarray] | None = None,
    *,
    output_fraction: float | None = None,
) -> dict[Parameter, np.ndarray]:
    """Prune ``fraction`` of each layer's still-unpruned weights, those of smallest |W_ij|.

    Returns {W(k): 0/1 mask} for every weight matrix (biases are never pruned). ``masks``: the
    masks of the previous round (pruned weights stay pruned). The output layer is pruned at
    ``output_fraction`` (default fraction / 2, as Frankle and Carbin do for small networks).
    """
    if not 0.0 <= fraction < 1.0:
        raise AnalysisError(f"fraction must lie in [0, 1), got {fraction}")
    out_frac = fraction / 2 if output_fraction is None else float(output_fraction)
    new: dict[Parameter, np.ndarray] = {}
    for idx, W in enumerate(model.weights):
        old = np.ones(W.value.shape) if masks is None or W not in masks else np.asarray(masks[W])
        frac = out_frac if idx == len(model.weights) - 1 else fraction
        alive = np.flatnonzero(old.ravel() > 0)
        n_prune = int(round(frac * alive.size))
        m = old.astype(np.float64).ravel().copy()
        if n_prune:
            mags = np.abs(W.value.ravel()[alive])
            order = np.argsort(mags, kind="stable")  # ties broken by position: deterministic
            m[alive[order[:n_prune]]] = 0.0
        new[W] = m.reshape(W.value.shape)
    return new


def sparsity(masks: Mapping[Parameter, np.ndarray]) -> float:
    """The fraction of weights remaining (mask = 1) over all masked matrices."""
    total = sum(np.size(m) for m in masks.values())
    return float(sum(np.sum(m) for m in masks.values()) / total) if total else 1.0


def train_masked(
    model: Model,
    masks: Mapping[Parameter, np.ndarray] | None,
    data: tuple[Any, Any],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    seed: int = 0,
) -> None:
    """Train with SGD, the masks applied after each update (pruned weights stay exactly 0)."""
    opt = SGD(model.parameters, lr=lr, momentum=momentum, masks=masks)
    train(
        model, data, epochs=epochs, batch_size=batch_size, optimizer=opt, seed=seed, progress=False
    )


@dataclass
class LotteryResult:
    """Per round r = 0 (dense), 1, 2, ...: the fraction of weights remaining, the test error of
    the winning ticket m ⊙ theta_0 and of the control m ⊙ theta_0' (fresh initialisation)."""

    remaining: list[float] = field(default_factory=list)
    ticket_error: list[float] = field(default_factory=list)
    random_error: list[float] = field(default_factory=list)
    ticket_train_error: list[float] = field(default_factory=list)
    masks: dict[Parameter, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "remaining": self.remaining,
            "ticket_test_error": self.ticket_error,
            "random_reinit_test_error": self.random_error,
            "ticket_train_error": self.ticket_train_error,
        }


def lottery_ticket(
    model: MLP,
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    rounds: int = 4,
    fraction: float = 0.5,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
) -> LotteryResult:
    """Iterative magnitude pruning (Frankle and Carbin 2019) from the model's current values.

    The model's parameters are theta_0. Round 0 trains the dense network; each round then
    prunes ``fraction`` of each layer's remaining weights of the last trained ticket, rewinds
    to theta_0 and retrains with the mask (the winning ticket), and trains the same mask from
    a fresh initialisation theta_0' (seeded from ``seed``) as the control. At the end the
    model holds the last trained ticket; ``result.masks`` its mask.
    """
    if rounds < 0:
        raise AnalysisError(f"rounds must be >= 0, got {rounds}")
    theta0 = model.state()
    res = LotteryResult()
    kw: dict[str, Any] = dict(
        epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, seed=seed
    )
    train_masked(model, None, train_data, **kw)
    masks = {W: np.ones(W.value.shape) for W in model.weights}
    dense_err = model.error(*test_data)
    res.remaining.append(1.0)
    res.ticket_error.append(dense_err)
    res.random_error.append(dense_err)
    res.ticket_train_error.append(model.error(*train_data))
    for r in range(1, rounds + 1):
        masks = magnitude_masks(model, fraction, masks)
        # the control: same mask, fresh random initialisation
        model.load_state(reinitialise(model, seed=seed + 1000 + r))
        train_masked(model, masks, train_data, **kw)
        res.random_error.append(model.error(*test_data))
        # the winning ticket: rewind the surviving weights to theta_0
        model.load_state(theta0)
        train_masked(model, masks, train_data, **kw)
        res.ticket_error.append(model.error(*test_data))
        res.ticket_train_error.append(model.error(*train_data))
        res.remaining.append(sparsity(masks))
    res.masks = masks
    return res
