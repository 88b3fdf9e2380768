"""saddle: critical points of a tiny tanh network, found by Newton's method on grad = 0 (which is
attracted to critical points of every kind): the point with every weight 0 is a saddle, and the
higher the loss of a critical point, the more negative eigenvalues it has (Dauphin et al. 2014).
Minima come from trained networks polished by saddle-free Newton.
"""

from __future__ import annotations

import numpy as np

from ...model import mlp
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


def _tiny_data(ds, quick: bool):
    """The data, pooled until at most 16 inputs (full Hessians at every Newton iteration from
    dozens of starts: the network must be tiny), and its first n examples."""
    X, y, shape = ds["X"], ds["y"], ds["image_shape"]
    while shape and X.shape[1] > 16 and shape[0] % 2 == 0 and shape[1] % 2 == 0:
        X, shape = pool(X, shape), (shape[0] // 2, shape[1] // 2)
    n = min(len(X), 40 if quick else 80)
    return X[:n], y[:n], shape


def _newton_starts(model, y, C: int, quick: bool, seed: int) -> list[np.ndarray]:
    """The symmetric point of the lecture (every weight 0 with tanh, the output biases at the
    best constant prediction; loaded into ``model``), then random points at several scales."""
    P = len(flatten(model))
    rng = np.random.default_rng(seed)
    zero = {k: np.zeros_like(v) for k, v in model.state().items()}
    zero["b2"] = np.log(np.maximum(np.bincount(y, minlength=C) / len(y), 1e-3))
    model.load_state(zero)
    starts = [flatten(model)]
    scales = [0.3, 1.0, 2.0] if quick else [0.1, 0.3, 0.6, 1.0, 1.5, 2.5]
    per = 2 if quick else 5
    for s in scales:
        for _ in range(per):
            starts.append(s * rng.standard_normal(P))
    return starts


def _trained_minima(X, y, sizes, lam: float, n_min: int, quick: bool, seed: int) -> list[dict]:
    """Minima: trained networks polished by saddle-free Newton (which descends negative
    curvature instead of being attracted to it), where it reaches a critical point."""
    found = []
    for k in range(n_min):
        net = mlp(sizes, "tanh", l2=lam, dtype=np.float64, seed=seed + k)
        fit(net, (X, y), epochs=60 if quick else 200, batch_size=10, lr=0.1, seed=seed + k)
        saddle_free_newton(net, X, y, steps=40)
        spec = spectrum(net, X, y)
        if spec.is_critical(1e-7):
            d = spec.to_dict()
            d.update(theta=flatten(net), start=f"trained {k}")
            found.append(d)
    return found


def _results(found: list[dict], P: int, n_starts: int, n_min: int) -> dict:
    pts = sorted(found, key=lambda d: d["loss"])
    zero_pt = next((d for d in found if d["start"] == 0), None)
    minima = [d for d in pts if d["n_negative"] == 0]
    saddles = [d for d in pts if d["n_negative"] > 0 and d["n_positive"] > 0]
    losses = np.array([d["loss"] for d in found])
    idx = np.array([d["index"] for d in found])
    return {
        "parameters": P,
        "newton_starts": n_starts,
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


def _claims(found: list[dict], zero_pt: dict | None, res: dict) -> list:
    losses = np.array([d["loss"] for d in found])
    idx = np.array([d["index"] for d in found])
    med = float(np.median(losses))
    high, low = idx[losses > med], idx[losses <= med]
    tol = 1e-6
    return [
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
            res["n_saddles"] and res["n_minima"],
            n_saddles=res["n_saddles"],
            n_minima=res["n_minima"],
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


def _plot_points(ax, found: list[dict], zero_pt: dict | None) -> None:
    losses = np.array([d["loss"] for d in found])
    idx = np.array([d["index"] for d in found])
    colors = [
        VERMILION if d["n_negative"] else (GREEN if d["n_zero"] <= 1 else "0.6") for d in found
    ]
    ax.scatter(idx, losses, c=colors, s=36, edgecolor="k", lw=0.4, zorder=3)
    ax.scatter([], [], c=VERMILION, label="saddle point")
    ax.scatter([], [], c=GREEN, label="minimum")
    if any(not d["n_negative"] and d["n_zero"] > 1 for d in found):
        ax.scatter([], [], c="0.6", label="degenerate (flat directions, no λ < 0)")
    if zero_pt is not None:
        ax.annotate(
            "all weights 0",
            (zero_pt["index"], zero_pt["loss"]),
            fontsize=8,
            xytext=(-6, -14),
            textcoords="offset points",
            ha="right",
        )
    style(
        ax,
        "index: fraction of negative eigenvalues",
        "training loss",
        f"{len(found)} critical points found by Newton",
    )


def _plot_spectra(ax, zero_pt: dict | None, best_min: dict) -> None:
    for d, col, lab in (
        (zero_pt, VERMILION, "saddle: all weights 0"),
        (best_min, GREEN, "lowest minimum"),
    ):
        if d is None:
            continue
        ev = np.asarray(d["eigenvalues"])
        ax.plot(np.arange(1, len(ev) + 1), ev, "o-", color=col, ms=3, label=lab)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-3)
    style(
        ax,
        "eigenvalue rank (ascending)",
        "eigenvalue λ of H (symmetric log scale)",
        "Hessian spectra",
    )


def _plot_through_saddle(ax, model, zero_pt: dict | None, X, y) -> dict | None:
    """The loss along the most negative and the most positive eigenvector at the saddle; its
    smallest and largest eigenvalues."""
    curvature = None
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
            ax.plot(ts, vals, color=col, label=lab)
        curvature = {"min_eigenvalue": float(w[0]), "max_eigenvalue": float(w[-1])}
    style(ax, "step t along the eigenvector", "training loss", "Through the saddle point")
    return curvature


def _lines(found, n_starts: int, n_min: int, res: dict, zero_pt, best_min) -> list[str]:
    lines = [
        f"{len(found)} critical points from {n_starts} Newton and {n_min} saddle-free Newton "
        f"starts: {res['n_saddles']} saddles, {res['n_minima']} minima",
    ]
    if zero_pt is not None:
        lines.append(
            f"all weights 0: {zero_pt['kind']}, loss {zero_pt['loss']:.4f}, "
            f"{zero_pt['n_negative']} negative / {zero_pt['n_positive']} positive eigenvalues"
        )
    lines.append(f"lowest minimum: loss {best_min['loss']:.4f}, {best_min['kind']}")
    return lines


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y, shape = _tiny_data(ds, quick)
    C, H1, lam = ds["n_classes"], 3 if quick else 4, 1e-3
    model = mlp([X.shape[1], H1, C], "tanh", l2=lam, dtype=np.float64, seed=seed)
    P = len(flatten(model))
    starts = _newton_starts(model, y, C, quick, seed)
    found = critical_points(model, X, y, starts, max_iter=30 if quick else 60)
    n_min = 2 if quick else 4
    found += _trained_minima(X, y, [X.shape[1], H1, C], lam, n_min, quick, seed)
    if not found:
        raise AnalysisError("Newton's method found no critical point; try another --seed")
    pts = sorted(found, key=lambda d: d["loss"])
    zero_pt = next((d for d in found if d["start"] == 0), None)
    minima = [d for d in pts if d["n_negative"] == 0]
    best_min = minima[0] if minima else pts[0]
    res = _results(found, P, len(starts), n_min)
    claims = _claims(found, zero_pt, res)
    fig = figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    _plot_points(ax1, found, zero_pt)
    _plot_spectra(ax2, zero_pt, best_min)
    curvature = _plot_through_saddle(ax3, model, zero_pt, X, y)
    if curvature is not None:
        res["saddle_curvature"] = curvature
    inputs = ds["name"] + (
        f" pooled to {shape[0]} x {shape[1]}" if shape != ds["image_shape"] else ""
    )
    res["inputs"] = inputs
    fig.suptitle(f"Saddle points of a tiny tanh network ({P} parameters, {inputs})")
    return Outcome(res, fig, _lines(found, len(starts), n_min, res, zero_pt, best_min), claims)
