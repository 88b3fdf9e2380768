"""l1-sparsity: L1 regularisation pushes weights to exactly 0, but only with a proximal
(soft-thresholding) step W <- sign(W) max(|W| - alpha lambda, 0); subgradient steps
lambda sign(W) oscillate around 0 and never land on it, and L2 shrinks without zeroing.
"""

from __future__ import annotations

import numpy as np

from .. import data as D
from ..phenomena import l1_sparsity
from .common import BLUE, GREEN, ORANGE, Outcome, claim, figure, style

CLAIMS = {
    "proximal_zeros": "with the proximal step, at lambda = {lam:g} at least {min_zero:.0%} of "
    "the weights are exactly 0",
    "subgradient_none": "with subgradient steps, no weight is exactly 0 at any lambda",
    "l2_none": "with L2, no weight is exactly 0 at any lambda",
}

METHODS = (
    ("l1_subgradient", ORANGE, "L1, subgradient steps"),
    ("l1_proximal", GREEN, "L1, proximal step"),
    ("l2", BLUE, "L2"),
)


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    n = 200 if quick else 600
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    lams = [1e-3, 3e-2] if quick else [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    r = l1_sparsity(
        (Xtr, ytr),
        (Xte, yte),
        lambdas=lams,
        hidden=(32,) if quick else (64,),
        epochs=8 if quick else 20,
        seed=seed,
    )
    min_zero = 0.1
    claims = [
        claim(
            CLAIMS,
            "proximal_zeros",
            r["l1_proximal"]["fraction_zero"][-1] >= min_zero,
            lam=lams[-1],
            min_zero=min_zero,
            fraction_zero=r["l1_proximal"]["fraction_zero"][-1],
        ),
        claim(
            CLAIMS,
            "subgradient_none",
            max(r["l1_subgradient"]["fraction_zero"]) == 0,
            fraction_zero=r["l1_subgradient"]["fraction_zero"],
        ),
        claim(
            CLAIMS,
            "l2_none",
            max(r["l2"]["fraction_zero"]) == 0,
            fraction_zero=r["l2"]["fraction_zero"],
        ),  # fmt: skip
    ]
    fig = figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for key, col, lab in METHODS:
        ax1.plot(lams, np.array(r[key]["fraction_zero"]) * 100, "o-", color=col, label=lab)
        ax2.plot(lams, np.array(r[key]["test_error"]) * 100, "o-", color=col, label=lab)
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    style(ax1, "λ", "weights exactly 0 (%)", "Sparsity")
    style(ax2, "λ", "test error (%)", "Test error")
    bins = np.linspace(-8, 0.5, 40)
    for key, col, lab in METHODS:
        w = np.abs(r[key]["weights"])
        nz = w[w > 0]
        ax3.hist(
            np.log10(nz),
            bins=bins,
            color=col,
            alpha=0.55,
            label=f"{lab}: {np.mean(w == 0):.0%} exactly 0",
        )
    style(ax3, "log10 |W_ij| (non-zero weights)", "count", f"Weights at λ = {lams[-1]:g}")
    fig.suptitle(f"L1 pushes weights to exactly 0 — with a proximal step ({ds['name']})")
    res = {"lambda": r["lambda"]}
    for key, _, _ in METHODS:
        res[key] = {k: v for k, v in r[key].items() if k != "weights"}
    lines = [
        f"{key:15s} "
        + "  ".join(
            f"l={lam:g}: {z:.1%} zero, err {e:.3f}"
            for lam, z, e in zip(lams, r[key]["fraction_zero"], r[key]["test_error"])
        )
        for key, _, _ in METHODS
    ]
    return Outcome(res, fig, lines, claims)
