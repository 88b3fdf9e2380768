"""lottery: iterative magnitude pruning (50% of the remaining weights per round) with rewinding
to the original initialisation finds sparse sub-networks, "winning tickets", that train to a
lower test error than the same mask with a fresh random initialisation (Frankle and Carbin
2019).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.ticker import NullFormatter, NullLocator

from ...model import mlp
from .. import data as D
from ..lottery import lottery_ticket
from .common import GREEN, VERMILION, Outcome, claim, figure, style

CLAIMS = {
    "exact_zeros": "pruned weights stay exactly 0 through training",
    "ticket_wins": "at the sparsest level ({remaining_pct:.1f}% of the weights) the winning "
    "ticket's test error is below the randomly re-initialised mask's",
    "ticket_wins_mostly": "the ticket beats random re-initialisation at every pruned level at or "
    "below {level_pct:g}% of the weights",
}


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    n = 300 if quick else 800
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), seed=seed)
    H1 = 50 if quick else 100
    model = mlp([X.shape[1], H1, ds["n_classes"]], "relu", seed=seed)
    r = lottery_ticket(
        model,
        (Xtr, ytr),
        (Xte, yte),
        rounds=3 if quick else 6,
        fraction=0.5,
        epochs=8 if quick else 20,
        batch_size=32,
        lr=0.05,
        seed=seed,
    )
    zero_ok = all(np.all(W.value[r.masks[W] == 0] == 0) for W in model.weights)
    res: dict[str, Any] = dict(r.to_dict())
    res["pruned_weights_exactly_zero"] = bool(zero_ok)
    pct = np.array(r.remaining) * 100
    ticket, rand = np.array(r.ticket_error), np.array(r.random_error)
    level = 20.0
    sparse = pct <= level + 1e-9
    claims = [
        claim(CLAIMS, "exact_zeros", zero_ok),
        claim(
            CLAIMS,
            "ticket_wins",
            ticket[-1] < rand[-1],
            remaining_pct=float(pct[-1]),
            ticket_error=float(ticket[-1]),
            random_error=float(rand[-1]),
        ),
        claim(
            CLAIMS,
            "ticket_wins_mostly",
            sparse.any() and bool(np.all(ticket[sparse] < rand[sparse])),
            level_pct=level,
            remaining_pct=pct[sparse].tolist(),
            ticket_error=ticket[sparse].tolist(),
            random_error=rand[sparse].tolist(),
        ),
    ]
    fig = figure(1, width=6.2, height=4.2)
    ax = fig.subplots()
    ax.plot(pct, ticket * 100, "o-", color=GREEN, label="winning ticket  m ⊙ θ0 (rewound)")
    ax.plot(pct, rand * 100, "s--", color=VERMILION, label="same mask, random re-init  m ⊙ θ0'")
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(pct, [f"{p:.1f}" for p in pct])
    style(
        ax,
        "weights remaining (%)",
        "test error (%)",
        f"Lottery tickets: iterative magnitude pruning, 50% per round ({ds['name']})",
    )
    lines = [
        f"{p:5.1f}% weights: ticket test error {t:.3f}, random re-init {q:.3f}"
        for p, t, q in zip(pct, ticket, rand)
    ] + [f"pruned weights exactly 0 after training: {zero_ok}"]
    return Outcome(res, fig, lines, claims)
