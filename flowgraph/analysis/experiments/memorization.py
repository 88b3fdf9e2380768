"""memorization: a network fits randomly permuted labels perfectly while its test error stays at
chance; with the true labels the same network generalises (Zhang et al. 2017).
"""

from __future__ import annotations

import numpy as np

from .. import data as D
from ..phenomena import memorization
from .common import BLUE, VERMILION, Outcome, claim, counted, figure, style

CLAIMS = {
    "fits_random": "random labels reach training error <= {max_error:.0%}",
    "chance": "with random labels the test error is at chance: within {margin:.0%} of "
    "1 - 1/C = {chance:.0%} or above",
    "true_generalises": "with the true labels the test error is below half of chance",
}


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    n = 60 if quick else 300
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    r = memorization(
        (Xtr, ytr),
        (Xte, yte),
        hidden=(128,) if quick else (256,),
        epochs=40 if quick else 150,
        batch_size=8 if quick else 16,
        every=2 if quick else 5,
        seed=seed,
    )
    chance, margin, max_error = r["chance_error"], 0.1, 0.01
    claims = [
        claim(
            CLAIMS,
            "fits_random",
            r["random"]["final_train_error"] <= max_error,
            max_error=max_error,
            train_error=r["random"]["final_train_error"],
        ),
        claim(
            CLAIMS,
            "chance",
            r["random"]["final_test_error"] >= chance - margin,
            margin=margin,
            chance=chance,
            test_error=r["random"]["final_test_error"],
        ),
        claim(
            CLAIMS,
            "true_generalises",
            r["true"]["final_test_error"] < chance / 2,
            chance=chance,
            test_error=r["true"]["final_test_error"],
        ),
    ]
    fig = figure(1, width=6.4, height=4.2)
    ax = fig.subplots()
    for key, col, lab in (("true", BLUE, "true labels"), ("random", VERMILION, "random labels")):
        d = r[key]
        ax.plot(
            d["epoch"], np.array(d["train_error"]) * 100, "-", color=col, label=f"{lab}: training"
        )
        ax.plot(d["epoch"], np.array(d["test_error"]) * 100, "--", color=col, label=f"{lab}: test")
    ax.axhline(chance * 100, color="0.4", lw=1, ls=":", label="chance")
    ax.set_ylim(-2, 100)
    style(
        ax,
        "epoch",
        "error (%)",
        f"Memorisation of random labels, {counted(ds, len(ytr))} (Zhang et al. 2017)",
    )
    lines = [
        f"{k} labels: training error {r[k]['final_train_error']:.3f}, test error "
        f"{r[k]['final_test_error']:.3f}"
        for k in ("true", "random")
    ] + [f"chance: {chance:.3f}"]
    return Outcome(r, fig, lines, claims)
