"""saddle: critical points of a tiny tanh network, found by Newton's method on grad = 0 (which is
attracted to critical points of every kind): the point with every weight 0 is a saddle, and the
higher the loss of a critical point, the more negative eigenvalues it has (Dauphin et al. 2014).
Minima come from trained networks polished by saddle-free Newton.
"""

from __future__ import annotations

import numpy as np

from ...models import mlp
from ..hessian import hessian
from ..landscape import interpolate
from ..newton import saddle_free_newton
from ..params import AnalysisError, flatten, set_flat
from ..phenomena import critical_points
from ..spectrum import spectrum
from .common import BLUE, GREEN, VERMILION, Outcome, claim, figure, fit, pool, style

CLAIMS = {
    "critical": "every point reported is critical: |grad| < {tol:g}",
    "zero_is_saddle": "all weights 0 is a saddle point (negative and positive eigenvalues)",
    "both_kinds": "Newton finds saddles and saddle-free Newton finds minima: at least one of each",
    "index_grows_with_loss": "the higher the loss, the larger the index: mean index of the "
    "critical points above the median loss > mean index of those below (Dauphin et al. 2014)",
}

KEYS = ("loss", "grad_norm", "n_negative", "n_zero", "n_positive", "index", "kind", "start")


def run(ds, quick: bool, seed: int) -> Outcome:
    # full Hessians at every Newton iteration from dozens of starts: the network must be tiny
    X, y, C, shape = ds["X"], ds["y"], ds["n_classes"], ds["image_shape"]
    while shape and X.shape[1] > 16 and shape[0] % 2 == 0 and shape[1] % 2 == 0:
        X, shape = pool(X, shape), (shape[0] // 2, shape[1] // 2)
    n = min(len(X), 40 if quick else 80)
    X, y = X[:n], y[:n]
    H1 = 3 if quick else 4
    lam = 1e-3
    model = mlp([X.shape[1], H1, C], "tanh", l2=lam, dtype=np.float64, seed=seed)
    P = len(flatten(model))
    rng = np.random.default_rng(seed)
    # the symmetric point of the lecture: every weight 0 (tanh), output biases at the best
    # constant prediction
    zero = {k: np.zeros_like(v) for k, v in model.state().items()}
    zero["b2"] = np.log(np.maximum(np.bincount(y, minlength=C) / n, 1e-3))
    model.load_state(zero)
    starts = [flatten(model)]
    scales = [0.3, 1.0, 2.0] if quick else [0.1, 0.3, 0.6, 1.0, 1.5, 2.5]
    per = 2 if quick else 5
    for s in scales:
        for _ in range(per):
            starts.append(s * rng.standard_normal(P))
    found = critical_points(model, X, y, starts, max_iter=30 if quick else 60)
    # minima: trained networks polished by saddle-free Newton (which descends negative
    # curvature instead of being attracted to it)
    n_min = 2 if quick else 4
    for k in range(n_min):
        net = mlp([X.shape[1], H1, C], "tanh", l2=lam, dtype=np.float64, seed=seed + k)
        fit(net, (X, y), epochs=60 if quick else 200, batch_size=10, lr=0.1, seed=seed + k)
        saddle_free_newton(net, X, y, steps=40)
        spec = spectrum(net, X, y)
        if spec.is_critical(1e-7):
            d = spec.to_dict()
            d.update(theta=flatten(net), start=f"trained {k}")
            found.append(d)
    if not found:
        raise AnalysisError("Newton's method found no critical point; try another --seed")
    pts = sorted(found, key=lambda d: d["loss"])
    zero_pt = next((d for d in found if d["start"] == 0), None)
    minima = [d for d in pts if d["n_negative"] == 0]
    saddles = [d for d in pts if d["n_negative"] > 0 and d["n_positive"] > 0]
    best_min = minima[0] if minima else pts[0]
    losses = np.array([d["loss"] for d in found])
    idx = np.array([d["index"] for d in found])
    med = float(np.median(losses))
    high, low = idx[losses > med], idx[losses <= med]
    res = {
        "parameters": P,
        "newton_starts": len(starts),
        "saddle_free_newton_starts": n_min,
        "critical_points": [{k: d[k] for k in KEYS} for d in pts],
        "zero_weights_point": None
        if zero_pt is None
        else {k: zero_pt[k] for k in ("loss", "n_negative", "n_positive", "index", "kind")},
        "n_saddles": len(saddles),
        "n_minima": len(minima),
        "index_loss_correlation": float(np.corrcoef(losses, idx)[0, 1])
        if len(found) > 2 and np.std(idx) > 0
        else None,
    }
    tol = 1e-6
    claims = [
        claim(
            CLAIMS,
            "critical",
            all(d["grad_norm"] < tol for d in found),
            tol=tol,
            largest_grad_norm=max(d["grad_norm"] for d in found),
            points=len(found),
        ),
        claim(
            CLAIMS,
            "zero_is_saddle",
            zero_pt is not None and zero_pt["n_negative"] > 0 and zero_pt["n_positive"] > 0,
            n_negative=None if zero_pt is None else zero_pt["n_negative"],
            n_positive=None if zero_pt is None else zero_pt["n_positive"],
        ),
        claim(
            CLAIMS,
            "both_kinds",
            saddles and minima,
            n_saddles=len(saddles),
            n_minima=len(minima),
        ),
        claim(
            CLAIMS,
            "index_grows_with_loss",
            len(high) and len(low) and high.mean() > low.mean(),
            median_loss=med,
            mean_index_above=float(high.mean()) if len(high) else None,
            mean_index_below=float(low.mean()) if len(low) else None,
        ),
    ]
    fig = figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    colors = [
        VERMILION if d["n_negative"] else (GREEN if d["n_zero"] <= 1 else "0.6") for d in found
    ]
    ax1.scatter(idx, losses, c=colors, s=36, edgecolor="k", lw=0.4, zorder=3)
    ax1.scatter([], [], c=VERMILION, label="saddle point")
    ax1.scatter([], [], c=GREEN, label="minimum")
    if any(not d["n_negative"] and d["n_zero"] > 1 for d in found):
        ax1.scatter([], [], c="0.6", label="degenerate (flat directions, no λ < 0)")
    if zero_pt is not None:
        ax1.annotate(
            "all weights 0",
            (zero_pt["index"], zero_pt["loss"]),
            fontsize=8,
            xytext=(-6, -14),
            textcoords="offset points",
            ha="right",
        )
    style(
        ax1,
        "index: fraction of negative eigenvalues",
        "training loss",
        f"{len(found)} critical points found by Newton",
    )
    for d, col, lab in (
        (zero_pt, VERMILION, "saddle: all weights 0"),
        (best_min, GREEN, "lowest minimum"),
    ):
        if d is None:
            continue
        ev = np.asarray(d["eigenvalues"])
        ax2.plot(np.arange(1, len(ev) + 1), ev, "o-", color=col, ms=3, label=lab)
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_yscale("symlog", linthresh=1e-3)
    style(
        ax2,
        "eigenvalue rank (ascending)",
        "eigenvalue λ of H (symmetric log scale)",
        "Hessian spectra",
    )
    # the loss along the most negative and the most positive eigenvector at the saddle
    if zero_pt is not None:
        set_flat(model, zero_pt["theta"])
        H = hessian(model, X, y)
        w, V = np.linalg.eigh(0.5 * (H + H.T))
        ts = np.linspace(-1.5, 1.5, 41)
        for vec, col, lab in (
            (V[:, 0], VERMILION, f"most negative eigenvector (λ={w[0]:.2g})"),
            (V[:, -1], BLUE, f"most positive eigenvector (λ={w[-1]:.2g})"),
        ):
            vals = interpolate(
                model, zero_pt["theta"], zero_pt["theta"] + vec, X, y, 41, span=(ts[0], ts[-1])
            )["loss"]
            ax3.plot(ts, vals, color=col, label=lab)
        res["saddle_curvature"] = {"min_eigenvalue": float(w[0]), "max_eigenvalue": float(w[-1])}
    style(ax3, "step t along the eigenvector", "training loss", "Through the saddle point")
    inputs = ds["name"] + (
        f" pooled to {shape[0]} x {shape[1]}" if shape != ds["image_shape"] else ""
    )
    res["inputs"] = inputs
    fig.suptitle(f"Saddle points of a tiny tanh network ({P} parameters, {inputs})")
    lines = [
        f"{len(found)} critical points from {len(starts)} Newton and {n_min} saddle-free Newton "
        f"starts: {res['n_saddles']} saddles, {res['n_minima']} minima",
    ]
    if zero_pt is not None:
        lines.append(
            f"all weights 0: {zero_pt['kind']}, loss {zero_pt['loss']:.4f}, "
            f"{zero_pt['n_negative']} negative / {zero_pt['n_positive']} positive eigenvalues"
        )
    lines.append(f"lowest minimum: loss {best_min['loss']:.4f}, {best_min['kind']}")
    return Outcome(res, fig, lines, claims)
