"""double-descent: the test error of minimum-norm random-feature networks against the hidden
width H peaks at the interpolation threshold H + 1 = N (N training examples) and falls again
beyond it, while the training error is 0 from the threshold on (Belkin et al. 2018). The inputs
are centred on the training mean, so that every random feature is alive on some training point.
"""

from __future__ import annotations

import numpy as np

from .. import data as D
from ..phenomena import double_descent
from .common import BLUE, GREEN, PURPLE, VERMILION, Outcome, claim, counted, figure, style

CLAIMS = {
    "interpolates": "from the threshold on (H + 1 >= N = {n}) the training error is 0",
    "peak_at_threshold": "the test error peaks within {within:.0%} of H + 1 = N = {n}",
    "second_descent": "the widest network's test error is below {fraction:.0%} of the peak's",
}


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    n = 60 if quick else 100
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    n = len(ytr)
    # inputs centred on the training mean: digits' pixels are >= 0, so without it some random
    # ReLU features are 0 on every training point, the features' rank stays below H + 1 and
    # the threshold moves to a larger H
    mu = Xtr.mean(axis=0)
    Xtr, Xte = Xtr - mu, Xte - mu
    if quick:
        widths = [5, 20, 40, n - 10, n - 4, n - 1, n + 4, n + 10, 2 * n, 5 * n]
    else:
        widths = [5, 10, 20, 40, 60, 75, 85, 90, 95, n - 1, n, n + 5]
        widths += [110, 125, 150, 200, 300, 500, 1000, 2000]
    widths = sorted({int(w) for w in widths if w >= 1})
    r = double_descent((Xtr, ytr), (Xte, yte), widths, repeats=2 if quick else 5, seed=seed)
    test, train = np.array(r["test_error"]), np.array(r["train_error"])
    W = np.array(r["width"])
    peak = int(np.argmax(test))
    r["peak_width"] = int(W[peak])
    within, fraction = 0.1, 0.5
    claims = [
        claim(
            CLAIMS,
            "interpolates",
            np.all(train[W + 1 >= n] == 0),
            n=n,
            train_error=train[W + 1 >= n].tolist(),
        ),
        claim(
            CLAIMS,
            "peak_at_threshold",
            abs(W[peak] + 1 - n) <= within * n,
            within=within,
            n=n,
            peak_width=int(W[peak]),
            peak_test_error=float(test[peak]),
        ),
        claim(
            CLAIMS,
            "second_descent",
            test[-1] < fraction * test[peak],
            fraction=fraction,
            widest=int(W[-1]),
            widest_test_error=float(test[-1]),
            peak_test_error=float(test[peak]),
        ),
    ]
    fig = figure(2, width=5.0)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(W, test * 100, "o-", color=VERMILION, ms=4, label="test error")
    ax1.plot(W, train * 100, "o-", color=BLUE, ms=4, label="training error")
    ax1.axvline(n - 1, color="0.4", ls=":", lw=1, label=f"interpolation threshold H + 1 = N = {n}")
    ax1.set_xscale("log")
    style(ax1, "hidden width H (random ReLU features)", "error (%)", "Double descent", legend=False)
    ax1.set_ylim(-2, 125)  # room for the legend above the curves, left of the peak
    ax1.legend(frameon=False, fontsize=8.5, loc="upper left")
    ax2.plot(W, r["test_mse"], "o-", color=PURPLE, ms=4, label="test squared error")
    ax2.plot(W, r["weight_norm"], "o-", color=GREEN, ms=4, label="‖W(2)‖_F")
    ax2.axvline(n - 1, color="0.4", ls=":", lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    style(ax2, "hidden width H", "value", "Squared error and norm of the fit")
    fig.suptitle(f"Minimum-norm fit of {counted(ds, n)} (Belkin et al. 2018)")
    under = [e for w, e in zip(W, test) if w + 1 < n]
    over = [e for w, e in zip(W, test) if w + 1 > n]
    lines = [
        f"N = {n} training points; peak test error {test[peak]:.3f} at H = {W[peak]}",
        f"smallest test error: under-parameterised {min(under):.3f}, over-parameterised "
        f"{min(over):.3f}",
    ]
    return Outcome(r, fig, lines, claims)
