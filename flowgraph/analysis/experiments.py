"""Each phenomenon of the lecture end to end: ``run_experiment(name)`` or, from a shell,
``flowgraph experiment NAME [--dataset D] [--out DIR] [--quick]``.

Every experiment trains the networks it needs with the engine, measures with
:mod:`flowgraph.analysis`, prints its key numbers, and writes ``NAME.png`` (the figure) and
``NAME.json`` (the numbers) into the output directory. Defaults take well under two minutes on
two cores; ``quick=True`` is a reduced run of a few seconds (what the test suite runs).

    newton          Newton's method: quadratic convergence on a convex problem (logistic
                    regression), and an indefinite Hessian on a small MLP.
    saddle          critical points of a tiny network, found by Newton's method: saddles with
                    more negative eigenvalues the higher their loss (Dauphin et al. 2014).
    sharpness       small vs large batches: test error and lambda_max (Keskar et al. 2017).
    interpolation   the loss along initialisation -> solution (Goodfellow, Vinyals, Saxe
                    2015), between a solution and its permutation, and a 2-D slice.
    lottery         iterative magnitude pruning: winning tickets vs random re-initialisation
                    (Frankle and Carbin 2019).
    adversarial     FGSM: accuracy against eps, original / difference / perturbed digits
                    (Szegedy et al. 2014).
    memorization    random labels fitted perfectly, test error at chance (Zhang et al. 2017).
    double-descent  test error against hidden width across the interpolation threshold
                    (Belkin et al. 2018).
    bias-variance   squared bias and variance against the L2 strength lambda.
    l1-sparsity     weights exactly 0 with L1's proximal step; none with subgradients or L2.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..models import mlp
from ..optim import SGD
from ..train import train
from . import data as D
from .adversarial import accuracy_vs_eps, fgsm
from .hessian import hessian, newton_step, saddle_free_newton, spectrum, top_eigenvalues
from .landscape import interpolate, permute_hidden, random_direction, slice_2d
from .lottery import lottery_ticket
from .params import AnalysisError, flatten, objective, set_flat
from .phenomena import (
    batch_size_sharpness,
    bias_variance,
    critical_points,
    double_descent,
    l1_sparsity,
    memorization,
)

__all__ = ["EXPERIMENTS", "DEFAULT_DATASETS", "run_experiment"]

# Okabe-Ito colours: distinguishable by colour-blind readers, as in History.plot
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
)


def _figure(ncols: int, *, width: float = 4.6, height: float = 3.8, nrows: int = 1):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained", dpi=110)
    return fig


def _style(ax, xlabel: str, ylabel: str, title: str, legend: bool = True) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3, lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8.5)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if np.isfinite(v) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write through a temporary file in the same directory, then rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _train(model, data, *, epochs, batch_size, lr, momentum=0.9, seed=0, **kw):
    opt = SGD(model.parameters, lr=lr, momentum=momentum, **kw)
    return train(
        model, data, epochs=epochs, batch_size=batch_size, optimizer=opt, seed=seed, progress=False
    )


def _dataset(name: str, seed: int, data_dir, n: int | None = None) -> dict[str, Any]:
    return D.load(name, seed=seed, n=n, data_dir=data_dir)


# -- newton -------------------------------------------------------------------------------------
def _pool(X: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """Average 2 x 2 blocks of pixels (8 x 8 digits -> 4 x 4): few parameters, for Newton."""
    if not shape or shape[0] % 2 or shape[1] % 2:
        return X
    h, w = shape
    return X.reshape(len(X), h // 2, 2, w // 2, 2).mean(axis=(2, 4)).reshape(len(X), -1)


def _newton(ds, quick, seed):
    X, y, C = _pool(ds["X"], ds["image_shape"]), ds["y"], ds["n_classes"]
    n = 150 if quick else 500
    (Xtr, ytr), _ = D.split(X, y, min(n, len(X) - 1), seed=seed)
    lam = 1e-3
    # convex: logistic (softmax) regression with L2; Newton from theta = 0
    lr_model = mlp([X.shape[1], C], l2=lam, dtype=np.float64, seed=seed)
    P = len(flatten(lr_model))
    set_flat(lr_model, np.zeros(P))
    newton_loss, newton_grad = [lr_model.loss_value(Xtr, ytr)], []
    for _ in range(6 if quick else 10):
        r = newton_step(lr_model, Xtr, ytr, damping=1e-8)
        newton_loss.append(r.loss_after)
        newton_grad.append(r.grad_norm)
    loss_star = min(newton_loss)
    # gradient descent, full batch, with the largest stable step 1 / lambda_max at the optimum
    lam_max = float(np.linalg.eigvalsh(hessian(lr_model, Xtr, ytr))[-1])
    gd_model = mlp([X.shape[1], C], l2=lam, dtype=np.float64, seed=seed)
    set_flat(gd_model, np.zeros(P))
    obj = objective(gd_model, Xtr, ytr)
    theta = np.zeros(P)
    gd_loss = []
    for _ in range(100 if quick else 400):
        g = obj.grad(theta)
        gd_loss.append(float(obj.output.value))
        theta = theta - g / lam_max
    # non-convex: a small tanh MLP at its random initialisation
    mlp_model = mlp([X.shape[1], 4 if quick else 8, C], "tanh", dtype=np.float64, seed=seed)
    spec = spectrum(mlp_model, Xtr, ytr)
    forced = newton_step(mlp_model, Xtr, ytr, allow_indefinite=True)
    lr_spec = spectrum(lr_model, Xtr, ytr)
    res = {
        "logistic_regression": {
            "parameters": P,
            "newton_loss": newton_loss,
            "newton_grad_norm": newton_grad,
            "gd_loss": gd_loss,
            "gd_step": 1 / lam_max,
            "min_eigenvalue": float(lr_spec.eigenvalues.min()),
            "n_zero_eigenvalues": lr_spec.n_zero,
            "newton_steps_to_1e-8": int(np.argmax(np.array(newton_grad) < 1e-8))
            if min(newton_grad) < 1e-8
            else None,
            "gd_excess_loss_at_end": gd_loss[-1] - loss_star,
        },
        "mlp": {
            "parameters": len(spec.eigenvalues),
            "n_negative": spec.n_negative,
            "n_positive": spec.n_positive,
            "min_eigenvalue": float(spec.eigenvalues.min()),
            "max_eigenvalue": float(spec.eigenvalues.max()),
            "loss_before_newton": forced.loss_before,
            "loss_after_newton": forced.loss_after,
        },
    }
    fig = _figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    it_n = np.arange(len(newton_loss))
    ax1.semilogy(
        it_n,
        np.maximum(np.array(newton_loss) - loss_star, 1e-16),
        "o-",
        color=VERMILION,
        label="Newton: θ ← θ − H⁻¹∇l",
    )
    ax1.semilogy(
        np.arange(len(gd_loss)),
        np.maximum(np.array(gd_loss) - loss_star, 1e-16),
        color=BLUE,
        label="gradient descent, α = 1/λmax",
    )
    ax1.set_ylim(bottom=1e-16)
    _style(
        ax1,
        "iteration (full batch)",
        "loss − min loss",
        f"Convex: logistic regression ({P} parameters)",
    )
    ev = lr_spec.eigenvalues
    ax2.hist(ev, bins=40, color=GREEN, alpha=0.8, label="logistic regression")
    ax2.hist(spec.eigenvalues, bins=40, color=PURPLE, alpha=0.7, label="tanh MLP at init")
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_yscale("log")
    _style(
        ax2,
        "eigenvalue of the Hessian H",
        "count",
        f"tanh MLP at init: {spec.n_negative} of {len(spec.eigenvalues)} eigenvalues < 0",
    )
    labels = ["before", "after Newton\nstep"]
    ax3.bar(labels, [forced.loss_before, forced.loss_after], color=[BLUE, VERMILION], width=0.5)
    for i, v in enumerate([forced.loss_before, forced.loss_after]):
        ax3.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=9)
    _style(ax3, "", "training loss", "MLP: Newton step with indefinite H", legend=False)
    inputs = ds["name"] + (" pooled to 4 x 4" if X.shape[1] != ds["X"].shape[1] else "")
    res["inputs"] = inputs
    fig.suptitle(
        f"Newton's method is only practical with few parameters and local convexity ({inputs})"
    )
    lines = [
        f"logistic regression ({P} parameters): Newton |grad| per step "
        + ", ".join(f"{g:.1e}" for g in newton_grad),
        f"gradient descent after {len(gd_loss)} steps: loss - min = {gd_loss[-1] - loss_star:.2e}",
        f"tanh MLP at init ({len(spec.eigenvalues)} parameters): {spec.n_negative} negative "
        f"eigenvalues, Newton step moves the loss {forced.loss_before:.4f} -> "
        f"{forced.loss_after:.4f}",
    ]
    return res, fig, lines


# -- saddle -------------------------------------------------------------------------------------
def _saddle(ds, quick, seed):
    # full Hessians at every Newton iteration from dozens of starts: the network must be tiny
    X, y, C, shape = ds["X"], ds["y"], ds["n_classes"], ds["image_shape"]
    while shape and X.shape[1] > 16 and shape[0] % 2 == 0 and shape[1] % 2 == 0:
        X, shape = _pool(X, shape), (shape[0] // 2, shape[1] // 2)
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
    zero[f"b{2}"] = np.log(np.maximum(np.bincount(y, minlength=C) / n, 1e-3))
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
        _train(net, (X, y), epochs=60 if quick else 200, batch_size=10, lr=0.1, seed=seed + k)
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
    best_min = minima[0] if minima else pts[0]
    res = {
        "parameters": P,
        "newton_starts": len(starts),
        "saddle_free_newton_starts": n_min,
        "critical_points": [
            {
                k: d[k]
                for k in (
                    "loss",
                    "grad_norm",
                    "n_negative",
                    "n_zero",
                    "n_positive",
                    "index",
                    "kind",
                    "start",
                )
            }
            for d in pts
        ],
        "zero_weights_point": None
        if zero_pt is None
        else {k: zero_pt[k] for k in ("loss", "n_negative", "n_positive", "index", "kind")},
        "n_saddles": sum(d["n_negative"] > 0 for d in found),
        "n_minima": len(minima),
        "index_loss_correlation": float(
            np.corrcoef([d["loss"] for d in found], [d["index"] for d in found])[0, 1]
        )
        if len(found) > 2 and np.std([d["index"] for d in found]) > 0
        else None,
    }
    fig = _figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    losses = [d["loss"] for d in found]
    idx = [d["index"] for d in found]
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
            xytext=(8, -12),
            textcoords="offset points",
        )
    _style(
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
        ax2.plot(
            np.arange(1, len(ev) + 1),
            ev,
            "o-",
            color=col,
            ms=3,
            label=lab,
        )
    ax2.axhline(0, color="k", lw=0.8)
    ax2.set_yscale("symlog", linthresh=1e-3)
    _style(
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
    _style(ax3, "step t along the eigenvector", "training loss", "Through the saddle point")
    inputs = ds["name"] + (
        f" pooled to {shape[0]} x {shape[1]}" if shape != ds["image_shape"] else ""
    )
    res["inputs"] = inputs
    fig.suptitle(f"Saddle points of a tiny tanh network ({P} parameters, {inputs})")
    lines = [
        f"{len(found)} critical points from {len(starts)} Newton and {n_min} saddle-free Newton "
        f"starts: {res['n_saddles']} saddles, "
        f"{res['n_minima']} minima",
    ]
    if zero_pt is not None:
        lines.append(
            f"all weights 0: {zero_pt['kind']}, loss {zero_pt['loss']:.4f}, "
            f"{zero_pt['n_negative']} negative / {zero_pt['n_positive']} positive eigenvalues"
        )
    lines.append(f"lowest minimum: loss {best_min['loss']:.4f}, {best_min['kind']}")
    return res, fig, lines


# -- sharpness ----------------------------------------------------------------------------------
def _sharpness(ds, quick, seed):
    X, y = ds["X"], ds["y"]
    n = 200 if quick else 600
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    small, large = 8, len(Xtr)
    epochs = (5, 150) if quick else (30, 1000)
    r = batch_size_sharpness(
        (Xtr, ytr),
        (Xte, yte),
        batch_sizes=(small, large),
        epochs=epochs,
        hidden=(16,) if quick else (32,),
        lr=0.5,
        sharpness_points=None,
        seed=seed,
    )
    ta, tb = r["theta"]
    model = mlp([X.shape[1], 16 if quick else 32, ds["n_classes"]], "tanh", dtype=np.float64)
    line = interpolate(
        model, ta, tb, Xtr, ytr, 21 if quick else 41, span=(-1.0, 2.0), valid=(Xte, yte)
    )
    # the loss along each solution's own top eigenvector v (unit norm): 0.5 lambda_max t^2
    ts = np.linspace(-1, 1, 21 if quick else 41)
    around = {}
    for name, th in (("small", ta), ("large", tb)):
        set_flat(model, th)
        _, vec = top_eigenvalues(model, Xtr, ytr, 1, seed=seed, return_vectors=True)
        curve = interpolate(model, th, th + vec[:, 0], Xtr, ytr, len(ts), span=(-1, 1))["loss"]
        around[name] = (np.asarray(curve) - curve[len(ts) // 2]).tolist()
    res = {k: v for k, v in r.items() if k != "theta"}
    res.update(interpolation=line, top_eigenvector_t=ts, top_eigenvector_loss_increase=around)
    fig = _figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(line["alpha"], line["loss"], color=BLUE, label="training loss")
    ax1.plot(line["alpha"], line["valid_loss"], color=VERMILION, label="test loss")
    ax1.axvline(0, color="0.5", ls=":", lw=1)
    ax1.axvline(1, color="0.5", ls=":", lw=1)
    ax1.text(0, ax1.get_ylim()[1], f" batch {small}", va="top", fontsize=8)
    ax1.text(1, ax1.get_ylim()[1], f" batch {large}", va="top", fontsize=8)
    _style(ax1, "α:  θ = (1−α) θ_small + α θ_large", "loss", "Between the two solutions")
    for key, col, bs, lam in (
        ("small", GREEN, small, r["sharpness"][0]),
        ("large", PURPLE, large, r["sharpness"][1]),
    ):
        ax2.plot(ts, around[key], color=col, label=f"batch {bs}: λmax = {lam:.3g}")
    _style(
        ax2,
        "t:  θ + t v,  v the top eigenvector of H (unit norm)",
        "training loss − loss at the solution",
        "Along the sharpest direction",
    )
    x = np.arange(2)
    w = 0.38
    ax3.bar(x - w / 2, r["sharpness"], w, color=ORANGE, label="sharpness λmax(H)")
    ax3b = ax3.twinx()
    ax3b.bar(x + w / 2, np.array(r["test_error"]) * 100, w, color=SKY, label="test error (%)")
    ax3.set_xticks(x, [f"batch {small}\n{epochs[0]} epochs", f"batch {large}\n{epochs[1]} epochs"])
    ax3b.set_ylabel("test error (%)")
    h1, l1 = ax3.get_legend_handles_labels()
    h2, l2 = ax3b.get_legend_handles_labels()
    ax3.legend(h1 + h2, l1 + l2, frameon=False, fontsize=8.5, loc="upper left")
    _style(ax3, "", "λmax of the training loss", "Sharpness and test error", legend=False)
    fig.suptitle("Large batches find sharper minima (Keskar et al. 2017)")
    lines = [
        f"batch {bs:4d} ({ep} epochs): sharpness lambda_max = {s:.3f}, training loss {tl:.4f}, "
        f"test error {te:.3f}"
        for bs, ep, s, tl, te in zip(
            r["batch_size"], r["epochs"], r["sharpness"], r["train_loss"], r["test_error"]
        )
    ]
    return res, fig, lines


# -- interpolation ------------------------------------------------------------------------------
def _interpolation(ds, quick, seed):
    X, y = ds["X"], ds["y"]
    n = 200 if quick else 600
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    H1 = 16 if quick else 32
    model = mlp([X.shape[1], H1, ds["n_classes"]], "tanh", dtype=np.float64, seed=seed)
    theta0 = flatten(model)
    _train(model, (Xtr, ytr), epochs=10 if quick else 40, batch_size=16, lr=0.05)
    theta1 = flatten(model)
    steps = 21 if quick else 41
    line = interpolate(model, theta0, theta1, Xtr, ytr, steps, span=(-0.25, 1.25), valid=(Xte, yte))
    perm = np.random.default_rng(seed).permutation(H1)
    state = permute_hidden(model, 1, perm, inplace=False)
    permuted = np.concatenate([np.ravel(state[p.name]) for p in model.parameters])
    same = float(np.abs(model.predict_proba(Xte) - _proba_at(model, permuted, Xte)).max())
    perm_line = interpolate(model, theta1, permuted, Xtr, ytr, steps, valid=(Xte, yte))
    g = 11 if quick else 25
    d1, d2 = random_direction(model, seed + 1), random_direction(model, seed + 2)
    sl = slice_2d(model, Xtr, ytr, d1, d2, span=1.0, steps=g)
    res = {
        "init_to_solution": line,
        "solution_to_permuted": perm_line,
        "permutation_max_output_change": same,
        "slice": sl,
        "monotone_decrease_on_[0,1]": bool(
            np.all(np.diff([v for a, v in zip(line["alpha"], line["loss"]) if 0 <= a <= 1]) <= 1e-9)
        ),
        "barrier_between_permutations": max(perm_line["loss"])
        - max(perm_line["loss"][0], perm_line["loss"][-1]),
    }
    fig = _figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(line["alpha"], line["loss"], color=BLUE, label="training loss")
    ax1.plot(line["alpha"], line["valid_loss"], color=VERMILION, label="test loss")
    ax1b = ax1.twinx()
    ax1b.plot(
        line["alpha"],
        np.array(line["valid_error"]) * 100,
        "--",
        color="0.4",
        label="test error (%)",
    )
    ax1b.set_ylabel("test error (%)")
    ax1b.legend(frameon=False, fontsize=8.5, loc="center right")
    _style(ax1, "α:  θ = (1−α) θ_init + α θ_trained", "loss", "Initialisation → solution")
    ax2.plot(perm_line["alpha"], perm_line["loss"], color=BLUE, label="training loss")
    ax2.plot(perm_line["alpha"], perm_line["valid_loss"], color=VERMILION, label="test loss")
    _style(ax2, "α:  θ = (1−α) θ* + α π(θ*)", "loss", "Solution → same function, units permuted")
    L = np.log10(np.asarray(sl["loss"]))
    cs = ax3.contourf(sl["alpha"], sl["beta"], L, levels=20, cmap="viridis")
    ax3.contour(sl["alpha"], sl["beta"], L, levels=10, colors="w", linewidths=0.4, alpha=0.6)
    ax3.plot([0], [0], "*", color="w", ms=12, mec="k", label="θ*")
    fig.colorbar(cs, ax=ax3, label="log10 training loss")
    _style(ax3, "α (direction d1)", "β (direction d2)", "2-D slice θ* + α d1 + β d2")
    ax3.legend(loc="upper right", framealpha=0.85, fontsize=8.5)
    fig.suptitle(f"Loss landscape of a tanh MLP on {ds['name']} (Goodfellow, Vinyals, Saxe 2015)")
    lines = [
        f"init -> solution: training loss {line['loss'][np.searchsorted(line['alpha'], 0)]:.4f}"
        f" -> {line['loss'][-1 - (steps // 6)]:.4f}, monotone on [0, 1]: "
        f"{res['monotone_decrease_on_[0,1]']}",
        f"permuting {H1} hidden units changes the outputs by at most {same:.1e}; the straight "
        f"line between them climbs by {res['barrier_between_permutations']:.4f}",
    ]
    return res, fig, lines


def _proba_at(model, theta, X):
    saved = flatten(model)
    try:
        set_flat(model, theta)
        return model.predict_proba(X)
    finally:
        set_flat(model, saved)


# -- lottery ------------------------------------------------------------------------------------
def _lottery(ds, quick, seed):
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
    res = r.to_dict()
    res["pruned_weights_exactly_zero"] = bool(zero_ok)
    fig = _figure(1, width=6.2, height=4.2)
    ax = fig.subplots()
    pct = np.array(r.remaining) * 100
    ax.plot(
        pct,
        np.array(r.ticket_error) * 100,
        "o-",
        color=GREEN,
        label="winning ticket  m ⊙ θ0 (rewound)",
    )
    ax.plot(
        pct,
        np.array(r.random_error) * 100,
        "s--",
        color=VERMILION,
        label="same mask, random re-init  m ⊙ θ0'",
    )
    ax.set_xscale("log")
    ax.invert_xaxis()
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(pct, [f"{p:.1f}" for p in pct])
    _style(
        ax,
        "weights remaining (%)",
        "test error (%)",
        f"Lottery tickets: iterative magnitude pruning, 50% per round ({ds['name']})",
    )
    lines = [
        f"{p:5.1f}% weights: ticket test error {t:.3f}, random re-init {q:.3f}"
        for p, t, q in zip(pct, r.ticket_error, r.random_error)
    ] + [f"pruned weights exactly 0 after training: {zero_ok}"]
    return res, fig, lines


# -- adversarial --------------------------------------------------------------------------------
def _adversarial(ds, quick, seed):
    X, y = ds["X"], ds["y"]
    n = 400 if quick else 1200
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) * 2 // 3), seed=seed)
    model = mlp([X.shape[1], 32 if quick else 64, ds["n_classes"]], "tanh", seed=seed)
    _train(model, (Xtr, ytr), epochs=10 if quick else 30, batch_size=16, lr=0.05)
    eps_values = np.linspace(0, 0.3, 7 if quick else 13)
    lo, hi = float(X.min()), float(X.max())
    clip = (lo, hi) if ds["image_shape"] else None  # pixels stay in their range
    curve = accuracy_vs_eps(model, Xte, yte, eps_values, clip=clip, seed=seed)
    eps_show = 0.1
    correct = np.flatnonzero(model.predict(Xte) == yte)
    Xc, yc = Xte[correct], yte[correct]
    Xa = fgsm(model, Xc, yc, eps_show, clip=clip)
    pa = model.predict(Xa)
    flipped = np.flatnonzero(pa != yc)
    show = flipped[:3] if len(flipped) >= 3 else np.arange(min(3, len(Xc)))
    loss_clean = model.loss_value(Xc, yc)
    loss_adv = model.loss_value(Xa, yc)
    res = dict(curve)
    res.update(
        clean_accuracy=curve["accuracy_fgsm"][0],
        eps_shown=eps_show,
        loss_clean=loss_clean,
        loss_fgsm=loss_adv,
        flipped_fraction_at_eps_shown=len(flipped) / max(1, len(Xc)),
    )
    shape = ds["image_shape"]
    if shape:  # the curve, and original / difference / perturbed images beside it
        fig = _figure(4, width=3.0, height=2.3 * max(1, len(show)))
        gs = fig.add_gridspec(max(1, len(show)), 4, width_ratios=[2.2, 1, 1, 1])
        ax = fig.add_subplot(gs[:, 0])
    else:  # not images: the curve alone
        fig = _figure(1, width=6.0, height=4.2)
        ax = fig.subplots()
    ax.plot(
        curve["eps"],
        np.array(curve["accuracy_fgsm"]) * 100,
        "o-",
        color=VERMILION,
        label="FGSM  x + ε sign(∇x l)",
    )
    ax.plot(
        curve["eps"],
        np.array(curve["accuracy_random"]) * 100,
        "s--",
        color=BLUE,
        label="random signs  x + ε s",
    )
    ax.set_ylim(0, 100)
    _style(
        ax,
        "ε (fraction of the pixel range)" if shape else "ε",
        "test accuracy (%)",
        "Accuracy against ε",
    )
    if shape:
        proba_c = model.predict_proba(Xc[show])
        proba_a = model.predict_proba(Xa[show])
        for row, i in enumerate(show):
            imgs = (Xc[i], Xa[i] - Xc[i], Xa[i])
            titles = (
                f"{yc[i]} ({proba_c[row].max():.0%})",
                f"difference (±{eps_show:g})",
                f"{pa[i]} ({proba_a[row].max():.0%})",
            )
            for col, (img, title) in enumerate(zip(imgs, titles)):
                a = fig.add_subplot(gs[row, col + 1])
                if col == 1:
                    a.imshow(img.reshape(shape), cmap="RdBu_r", vmin=-eps_show, vmax=eps_show)
                else:
                    a.imshow(img.reshape(shape), cmap="gray_r", vmin=lo, vmax=hi)
                a.set_title(
                    (
                        "correctly classified: "
                        if col == 0
                        else "badly classified: "
                        if col == 2
                        else ""
                    )
                    + title,
                    fontsize=8,
                )
                a.set_xticks([])
                a.set_yticks([])
    fig.suptitle("Adversarial examples (Szegedy et al. 2014), fast gradient sign method")
    lines = [
        "eps " + " ".join(f"{e:5.2f}" for e in curve["eps"]),
        "FGSM " + " ".join(f"{a:5.2f}" for a in curve["accuracy_fgsm"]) + "  (accuracy)",
        "rand " + " ".join(f"{a:5.2f}" for a in curve["accuracy_random"]),
        f"eps = {eps_show}: loss {loss_clean:.3f} -> {loss_adv:.3f}, "
        f"{res['flipped_fraction_at_eps_shown']:.0%} of correct test digits misclassified",
    ]
    return res, fig, lines


# -- memorization -------------------------------------------------------------------------------
def _memorization(ds, quick, seed):
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
    fig = _figure(1, width=6.4, height=4.2)
    ax = fig.subplots()
    for key, col, lab in (("true", BLUE, "true labels"), ("random", VERMILION, "random labels")):
        d = r[key]
        ax.plot(
            d["epoch"],
            np.array(d["train_error"]) * 100,
            "-",
            color=col,
            label=f"{lab}: training error",
        )
        ax.plot(
            d["epoch"], np.array(d["test_error"]) * 100, "--", color=col, label=f"{lab}: test error"
        )
    ax.axhline(r["chance_error"] * 100, color="0.4", lw=1, ls=":", label="chance")
    ax.set_ylim(-2, 100)
    _style(
        ax,
        "epoch",
        "error (%)",
        f"Memorisation of random labels, {len(ytr)} {ds['name']} examples (Zhang et al. 2017)",
    )
    lines = [
        f"{k} labels: training error {r[k]['final_train_error']:.3f}, test error "
        f"{r[k]['final_test_error']:.3f}"
        for k in ("true", "random")
    ] + [f"chance: {r['chance_error']:.3f}"]
    return r, fig, lines


# -- double descent -----------------------------------------------------------------------------
def _double_descent(ds, quick, seed):
    X, y = ds["X"], ds["y"]
    n = 60 if quick else 100
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    n = len(ytr)
    if quick:
        widths = [5, 20, 40, n - 10, n, n + 10, 2 * n, 5 * n]
    else:
        widths = sorted(
            {
                5,
                10,
                20,
                40,
                60,
                75,
                85,
                90,
                95,
                n - 1,
                n,
                n + 5,
                110,
                125,
                150,
                200,
                300,
                500,
                1000,
                2000,
            }
        )
    widths = sorted({int(w) for w in widths if w >= 1})
    r = double_descent((Xtr, ytr), (Xte, yte), widths, repeats=2 if quick else 5, seed=seed)
    fig = _figure(2, width=5.0)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot(
        r["width"], np.array(r["test_error"]) * 100, "o-", color=VERMILION, ms=4, label="test error"
    )
    ax1.plot(
        r["width"], np.array(r["train_error"]) * 100, "o-", color=BLUE, ms=4, label="training error"
    )
    ax1.axvline(n - 1, color="0.4", ls=":", lw=1, label=f"interpolation threshold H + 1 = N = {n}")
    ax1.set_xscale("log")
    _style(ax1, "hidden width H (random ReLU features)", "error (%)", "Double descent")
    ax1.set_ylim(-2, 110)  # room for the legend above the peak
    ax1.legend(frameon=False, fontsize=8.5, loc="upper right")
    ax2.plot(r["width"], r["test_mse"], "o-", color=PURPLE, ms=4, label="test squared error")
    ax2.plot(r["width"], r["weight_norm"], "o-", color=GREEN, ms=4, label="‖W(2)‖_F")
    ax2.axvline(n - 1, color="0.4", ls=":", lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    _style(ax2, "hidden width H", "value", "Squared error and norm of the fit")
    fig.suptitle(f"Minimum-norm fit of {n} {ds['name']} examples (Belkin et al. 2018)")
    peak = int(np.argmax(r["test_error"]))
    r["peak_width"] = r["width"][peak]
    lines = [
        f"N = {n} training points; peak test error {r['test_error'][peak]:.3f} at H = "
        f"{r['width'][peak]}",
        f"smallest test error: under-parameterised {min(e for w, e in zip(r['width'], r['test_error']) if w < n - 1):.3f}, "  # noqa: E501
        f"over-parameterised {min(e for w, e in zip(r['width'], r['test_error']) if w > n):.3f}",
    ]
    return r, fig, lines


# -- bias and variance --------------------------------------------------------------------------
def _bias_variance(ds, quick, seed):
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
    fig = _figure(2, width=5.0)
    ax1, ax2 = fig.subplots(1, 2)
    x = np.arange(len(l2s))
    ax1.plot(x, r["bias2"], "o-", color=BLUE, label="bias²")
    ax1.plot(x, r["variance"], "s-", color=VERMILION, label="variance")
    ax1.plot(x, r["mse"], "^--", color="0.3", label="bias² + variance = squared error")
    ax1.plot(x[best], r["mse"][best], "*", color="k", ms=12, label=f"best λ = {l2s[best]:g}")
    ax1.set_xticks(x, [f"{v:g}" for v in l2s])
    _style(ax1, "L2 strength λ", "mean over test points", "Decomposition of the squared error")
    ax2.plot(x, np.array(r["test_error"]) * 100, "o-", color=PURPLE, label="single networks")
    ax2.plot(
        x,
        np.array(r["ensemble_test_error"]) * 100,
        "s--",
        color=GREEN,
        label="average prediction f̄",
    )
    ax2.set_xticks(x, [f"{v:g}" for v in l2s])
    _style(ax2, "L2 strength λ", "test error (%)", "Classification error")
    fig.suptitle(
        "Bias and variance over bootstrap resamples and initialisations "
        f"({len(ytr)} {ds['name']} examples)"
    )
    lines = [
        f"lambda {lam:<7g} bias^2 {b:.4f}  variance {v:.4f}  sum {m:.4f}  test error {e:.3f}"
        for lam, b, v, m, e in zip(l2s, r["bias2"], r["variance"], r["mse"], r["test_error"])
    ]
    return r, fig, lines


# -- L1 sparsity --------------------------------------------------------------------------------
def _l1_sparsity(ds, quick, seed):
    X, y = ds["X"], ds["y"]
    n = 200 if quick else 600
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    lams = [1e-3, 1e-2] if quick else [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    r = l1_sparsity(
        (Xtr, ytr),
        (Xte, yte),
        lambdas=lams,
        hidden=(32,) if quick else (64,),
        epochs=5 if quick else 20,
        seed=seed,
    )
    methods = (
        ("l1_subgradient", ORANGE, "L1, subgradient steps"),
        ("l1_proximal", GREEN, "L1, proximal step"),
        ("l2", BLUE, "L2"),
    )
    fig = _figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for key, col, lab in methods:
        ax1.plot(lams, np.array(r[key]["fraction_zero"]) * 100, "o-", color=col, label=lab)
        ax2.plot(lams, np.array(r[key]["test_error"]) * 100, "o-", color=col, label=lab)
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    _style(ax1, "λ", "weights exactly 0 (%)", "Sparsity")
    _style(ax2, "λ", "test error (%)", "Test error")
    bins = np.linspace(-8, 0.5, 40)
    for key, col, lab in methods:
        w = np.abs(r[key]["weights"])
        nz = w[w > 0]
        ax3.hist(
            np.log10(nz),
            bins=bins,
            color=col,
            alpha=0.55,
            label=f"{lab}: {np.mean(w == 0):.0%} exactly 0",
        )
    _style(ax3, "log10 |W_ij| (non-zero weights)", "count", f"Weights at λ = {lams[-1]:g}")
    fig.suptitle(f"L1 pushes weights to exactly 0 — with a proximal step ({ds['name']})")
    res = {"lambda": r["lambda"]}
    for key, _, _ in methods:
        res[key] = {k: v for k, v in r[key].items() if k != "weights"}
    lines = [
        f"{key:15s} "
        + "  ".join(
            f"l={lam:g}: {z:.1%} zero, err {e:.3f}"
            for lam, z, e in zip(lams, r[key]["fraction_zero"], r[key]["test_error"])
        )
        for key, _, _ in methods
    ]
    return res, fig, lines


EXPERIMENTS: dict[str, Callable] = {
    "newton": _newton,
    "saddle": _saddle,
    "sharpness": _sharpness,
    "interpolation": _interpolation,
    "lottery": _lottery,
    "adversarial": _adversarial,
    "memorization": _memorization,
    "double-descent": _double_descent,
    "bias-variance": _bias_variance,
    "l1-sparsity": _l1_sparsity,
}
"""Experiment name -> runner(dataset, quick, seed) -> (numbers, figure, summary lines)."""

DEFAULT_DATASETS = {name: "digits" for name in EXPERIMENTS} | {"saddle": "blobs"}
"""The dataset each experiment uses unless told otherwise (saddle needs a tiny network)."""


def run_experiment(
    name: str,
    *,
    dataset: str | None = None,
    out: str | os.PathLike = ".",
    quick: bool = False,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run experiment ``name``; write ``out/NAME.png`` and ``out/NAME.json``; return the numbers.

    ``echo`` receives the summary lines (None: silent). The JSON holds the experiment's
    numbers with ``name``, ``dataset``, ``quick``, ``seed``, ``seconds`` and the paths.
    """
    if name not in EXPERIMENTS:
        raise AnalysisError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    dataset = dataset or DEFAULT_DATASETS[name]
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ds = _dataset(dataset, seed, data_dir)
    res, fig, lines = EXPERIMENTS[name](ds, quick, seed)
    seconds = time.perf_counter() - start
    png, js = out_dir / f"{name}.png", out_dir / f"{name}.json"
    _atomic_write(png, lambda p: fig.savefig(p, format="png"))
    record = {
        "name": name,
        "dataset": ds["name"],
        "source": ds["source"],
        "quick": quick,
        "seed": seed,
        "seconds": seconds,
        "figure": str(png),
        "results": res,
    }
    text = json.dumps(_jsonable(record), indent=1)

    def write_json(p: str) -> None:
        with open(p, "w") as f:
            f.write(text + "\n")

    _atomic_write(js, write_json)
    if echo is not None:
        echo(f"experiment {name} on {ds['name']}{' (quick)' if quick else ''}: {seconds:.1f} s")
        for line in lines:
            echo("  " + line)
        echo(f"  wrote {png} and {js}")
    return _jsonable(record)
