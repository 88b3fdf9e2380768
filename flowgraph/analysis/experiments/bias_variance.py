"""bias-variance: networks retrained on bootstrap resamples (and from new initialisations); the
expected squared error of their predicted probabilities splits exactly into squared bias and
variance, E ||f_D - e(y)||^2 = ||f_bar - e(y)||^2 + E ||f_D - f_bar||^2, and as the L2 strength
lambda grows the squared bias rises while the variance falls.
"""

from __future__ import annotations

import numpy as np

from .. import data as D
from ..phenomena import bias_variance
from .common import BLUE, GREEN, PURPLE, VERMILION, Outcome, claim, counted, figure, style

CLAIMS = {
    "exact_split": "bias^2 + variance = squared error at every lambda (to {rtol:g} relative)",
    "bias_rises": "bias^2 at the largest lambda ({lam:g}) is above bias^2 at lambda = 0",
    "variance_falls": "the variance at the largest lambda ({lam:g}) is below the variance at "
    "lambda = 0",
}


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    # a small training set and a wide network: the regime where variance matters
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(60, len(X) // 2), n_test=1000, seed=seed)
    l2s = [0.0, 1e-3, 1e-2, 3e-2] if quick else [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    r = bias_variance(
        (Xtr, ytr),
        (Xte, yte),
        l2_values=l2s,
        n_boot=3 if quick else 10,
        hidden=(32,) if quick else (64,),
        epochs=20 if quick else 60,
        batch_size=10,
        seed=seed,
    )
    best = int(np.argmin(r["mse"]))
    r["best_l2"] = l2s[best]
    b2, var, mse = (np.array(r[k]) for k in ("bias2", "variance", "mse"))
    rtol = 1e-9
    claims = [
        claim(
            CLAIMS,
            "exact_split",
            np.allclose(b2 + var, mse, rtol=rtol, atol=0),
            rtol=rtol,
            largest_relative_gap=float(np.max(np.abs(b2 + var - mse) / mse)),
        ),
        claim(
            CLAIMS,
            "bias_rises",
            b2[-1] > b2[0],
            lam=l2s[-1],
            bias2_at_0=float(b2[0]),
            bias2_at_largest=float(b2[-1]),
        ),
        claim(
            CLAIMS,
            "variance_falls",
            var[-1] < var[0],
            lam=l2s[-1],
            variance_at_0=float(var[0]),
            variance_at_largest=float(var[-1]),
        ),
    ]
    fig = figure(2, width=5.0)
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(l2s))
    ax1.plot(x, b2, "o-", color=BLUE, label="bias²")
    ax1.plot(x, var, "s-", color=VERMILION, label="variance")
    ax1.plot(x, mse, "^--", color="0.3", label="bias² + variance = squared error")
    ax1.plot(x[best], mse[best], "*", color="k", ms=12, label=f"best λ = {l2s[best]:g}")
    ax1.set_xticks(x, [f"{v:g}" for v in l2s])
    style(ax1, "L2 strength λ", "mean over test points", "Decomposition of the squared error")
    ax2.plot(x, np.array(r["test_error"]) * 100, "o-", color=PURPLE, label="single networks")
    ax2.plot(
        x,
        np.array(r["ensemble_test_error"]) * 100,
        "s--",
        color=GREEN,
        label="average prediction f̄",
    )
    ax2.set_xticks(x, [f"{v:g}" for v in l2s])
    style(ax2, "L2 strength λ", "test error (%)", "Classification error")
    fig.suptitle(
        f"Bias and variance over bootstrap resamples and initialisations ({counted(ds, len(ytr))})"
    )
    lines = [
        f"lambda {lam:<7g} bias^2 {b:.4f}  variance {v:.4f}  sum {m:.4f}  test error {e:.3f}"
        for lam, b, v, m, e in zip(l2s, b2, var, mse, r["test_error"])
    ]
    return Outcome(r, fig, lines, claims)
