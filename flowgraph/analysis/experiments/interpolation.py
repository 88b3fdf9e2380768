"""interpolation: the loss along the straight line from initialisation to solution falls without
bumps (Goodfellow, Vinyals and Saxe 2015); permuting the hidden units gives the same function
with other parameters, and the straight line between the two climbs a barrier: the loss is not
convex. A 2-D slice through the solution along two filter-normalised random directions.
"""

from __future__ import annotations

import numpy as np

from ...model import mlp
from .. import data as D
from ..landscape import interpolate, permute_hidden, random_direction, slice_2d
from ..params import flatten, set_flat
from .common import BLUE, VERMILION, Outcome, claim, figure, fit, style

CLAIMS = {
    "monotone": "the training loss decreases monotonically from the initialisation (alpha = 0) to "
    "the solution (alpha = 1) (Goodfellow et al. 2015)",
    "learnt": "the solution's training loss is below half the initialisation's",
    "same_function": "permuting the hidden units changes the outputs by less than {tol:g}",
    "barrier": "the straight line between the solution and its permutation climbs above both "
    "ends: the loss is not convex",
}


def _proba_at(model, theta, X):
    saved = flatten(model)
    try:
        set_flat(model, theta)
        return model.predict_proba(X)
    finally:
        set_flat(model, saved)


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    n = 200 if quick else 600
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) // 2), n_test=1000, seed=seed)
    H1 = 16 if quick else 32
    model = mlp([X.shape[1], H1, ds["n_classes"]], "tanh", dtype=np.float64, seed=seed)
    theta0 = flatten(model)
    fit(model, (Xtr, ytr), epochs=10 if quick else 40, batch_size=16, lr=0.05, seed=seed)
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
    inside = [v for a, v in zip(line["alpha"], line["loss"]) if -1e-9 <= a <= 1 + 1e-9]
    rises = np.diff(inside)
    barrier = max(perm_line["loss"]) - max(perm_line["loss"][0], perm_line["loss"][-1])
    res = {
        "init_to_solution": line,
        "solution_to_permuted": perm_line,
        "permutation_max_output_change": same,
        "slice": sl,
        "monotone_decrease_on_[0,1]": bool(np.all(rises <= 1e-9)),
        "barrier_between_permutations": barrier,
    }
    tol = 1e-10
    claims = [
        claim(CLAIMS, "monotone", np.all(rises <= 1e-9), largest_increase=float(rises.max())),
        claim(
            CLAIMS,
            "learnt",
            inside[-1] < 0.5 * inside[0],
            loss_at_init=inside[0],
            loss_at_solution=inside[-1],
        ),
        claim(CLAIMS, "same_function", same < tol, tol=tol, max_output_change=same),
        claim(CLAIMS, "barrier", barrier > 0, barrier=barrier),
    ]
    fig = figure(3, width=4.4)
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
    style(ax1, "α:  θ = (1−α) θ_init + α θ_trained", "loss", "Initialisation → solution")
    ax2.plot(perm_line["alpha"], perm_line["loss"], color=BLUE, label="training loss")
    ax2.plot(perm_line["alpha"], perm_line["valid_loss"], color=VERMILION, label="test loss")
    style(ax2, "α:  θ = (1−α) θ* + α π(θ*)", "loss", "Solution → same function, units permuted")
    L = np.log10(np.asarray(sl["loss"]))
    cs = ax3.contourf(sl["alpha"], sl["beta"], L, levels=20, cmap="viridis")
    ax3.contour(sl["alpha"], sl["beta"], L, levels=10, colors="w", linewidths=0.4, alpha=0.6)
    ax3.plot([0], [0], "*", color="w", ms=12, mec="k", label="θ*")
    fig.colorbar(cs, ax=ax3, label="log10 training loss")
    style(ax3, "α (direction d1)", "β (direction d2)", "2-D slice θ* + α d1 + β d2", legend=False)
    ax3.legend(loc="upper right", framealpha=0.85, fontsize=8.5)
    fig.suptitle(f"Loss landscape of a tanh MLP on {ds['name']} (Goodfellow, Vinyals, Saxe 2015)")
    lines = [
        f"init -> solution: training loss {inside[0]:.4f} -> {inside[-1]:.4f}, monotone on "
        f"[0, 1]: {res['monotone_decrease_on_[0,1]']}",
        f"permuting {H1} hidden units changes the outputs by at most {same:.1e}; the straight "
        f"line between them climbs by {barrier:.4f}",
    ]
    return Outcome(res, fig, lines, claims)
