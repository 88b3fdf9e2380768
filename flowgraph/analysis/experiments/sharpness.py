"""sharpness: small against large batches (Keskar et al. 2017), trained to the same training loss.

For each of several seeds (a new training set and initialisation each), the same tanh MLP is
trained from the same theta_0 with the same plain SGD step alpha, once with batches of 8 and
once with the full training set, each until the first update after which the training loss
is <= a target. Then, at each solution theta*:

* lambda_max(H), the top eigenvalue of the Hessian of the training loss (Lanczos on exact
  H v products): the curvature in the sharpest direction;
* l(theta* + r d) - l(theta*) for random unit directions d (||d|| = 1) at distances r, the
  same directions for both solutions: ~ r^2 tr(H) / (2P), the mean curvature;
* the same with filter-normalised directions (each unit's perturbation scaled to its weights,
  Li et al. 2018), which does not reward a solution for merely having larger weights;
* the test error.

Keskar et al. report that large batches find sharper minima that generalise worse. On these
small problems the sharpness effect is clear on every seed; the test-error gap is not: the
experiment reports it with its spread, and its figure and text say what the numbers show.
"""

from __future__ import annotations

import numpy as np

from ...model import mlp
from .. import data as D
from ..landscape import loss_rise
from ..params import set_flat
from ..phenomena import batch_size_sharpness
from .common import GREEN, PURPLE, Outcome, claim, counted, figure, style

CLAIMS = {
    "same_loss": "both batch sizes reach the target training loss {target:g} on every seed, "
    "their mean training losses within {tol:.0%} of the target of each other",
    "sharper_lambda": "the large-batch minimum is sharper by lambda_max(H), on average and on at "
    "least {min_fraction:.0%} of the seeds (paired by seed)",
    "sharper_random": "the loss rises more around the large-batch minimum along random "
    "directions of norm r = {radius:g}, on average and on at least {min_fraction:.0%} of the seeds",
}


def _summary(values) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std())}


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y, C = ds["X"], ds["y"], ds["n_classes"]
    n = min(200 if quick else 500, len(X) // 2)
    hidden = 16 if quick else 32
    target = 0.05 if quick else 0.02
    n_seeds = 5 if quick else 8
    lr = 0.5
    small = 8
    radii = np.linspace(0, 3, 4 if quick else 7)
    filter_radius = 0.3
    n_dirs = 6 if quick else 10
    per_seed = {
        k: {"train_loss": [], "steps": [], "reached": [], "test_error": [], "train_error": []}
        for k in ("small", "large")
    }
    for k in per_seed:
        per_seed[k].update(lambda_max=[], rise=[], rise_filter=[])
    seeds = [seed + i for i in range(n_seeds)]
    for s in seeds:
        (Xtr, ytr), (Xte, yte) = D.split(X, y, n, n_test=1000, seed=s)
        r = batch_size_sharpness(
            (Xtr, ytr),
            (Xte, yte),
            batch_sizes=(small, n),
            epochs=(100, 3000),
            hidden=(hidden,),
            lr=lr,
            target_loss=target,
            sharpness_points=None,
            seed=s,
        )
        model = mlp([X.shape[1], hidden, C], "tanh", dtype=np.float64, seed=s)
        for i, key in enumerate(("small", "large")):
            d = per_seed[key]
            d["train_loss"].append(r["train_loss"][i])
            d["train_error"].append(r["train_error"][i])
            d["test_error"].append(r["test_error"][i])
            d["steps"].append(r["steps"][i])
            d["reached"].append(r["reached_target"][i])
            d["lambda_max"].append(r["sharpness"][i])
            set_flat(model, r["theta"][i])
            # the same random directions around both solutions: one generator seed per seed
            d["rise"].append(
                loss_rise(model, Xtr, ytr, radii, n_directions=n_dirs, seed=1000 + s)["mean"]
            )
            d["rise_filter"].append(
                loss_rise(
                    model,
                    Xtr,
                    ytr,
                    [filter_radius],
                    n_directions=n_dirs,
                    normalise="filter",
                    seed=1000 + s,
                )["mean"][0]
            )
    S, L = per_seed["small"], per_seed["large"]
    lam_s, lam_l = np.array(S["lambda_max"]), np.array(L["lambda_max"])
    rise_s, rise_l = np.array(S["rise"])[:, -1], np.array(L["rise"])[:, -1]
    filt_s, filt_l = np.array(S["rise_filter"]), np.array(L["rise_filter"])
    err_s, err_l = np.array(S["test_error"]), np.array(L["test_error"])
    gap = (err_l - err_s) * 100  # percentage points, paired by seed
    gap_clear = bool(np.mean(gap > 0) >= 0.8 and gap.mean() > gap.std())
    min_fraction, tol = 0.8, 0.15
    loss_s, loss_l = np.mean(S["train_loss"]), np.mean(L["train_loss"])
    res = {
        "seeds": seeds,
        "n_train": n,
        "hidden": hidden,
        "lr": lr,
        "batch_size": [small, n],
        "target_loss": target,
        "radius": radii.tolist(),
        "filter_radius": filter_radius,
        "small": S,
        "large": L,
        "lambda_max": {"small": _summary(lam_s), "large": _summary(lam_l)},
        "loss_rise_at_max_radius": {"small": _summary(rise_s), "large": _summary(rise_l)},
        "loss_rise_filter_normalised": {"small": _summary(filt_s), "large": _summary(filt_l)},
        "test_error": {"small": _summary(err_s), "large": _summary(err_l)},
        "test_error_gap_points": {
            **_summary(gap),
            "large_worse_on": int(np.sum(gap > 0)),
            "of_seeds": len(seeds),
            "clear": gap_clear,
        },
    }
    claims = [
        claim(
            CLAIMS,
            "same_loss",
            all(S["reached"]) and all(L["reached"]) and abs(loss_s - loss_l) <= tol * target,
            target=target,
            tol=tol,
            train_loss_small=float(loss_s),
            train_loss_large=float(loss_l),
        ),
        claim(
            CLAIMS,
            "sharper_lambda",
            np.mean(lam_l > lam_s) >= min_fraction and lam_l.mean() > lam_s.mean(),
            min_fraction=min_fraction,
            seeds_sharper=int(np.sum(lam_l > lam_s)),
            of_seeds=len(seeds),
            mean_small=float(lam_s.mean()),
            mean_large=float(lam_l.mean()),
        ),
        claim(
            CLAIMS,
            "sharper_random",
            np.mean(rise_l > rise_s) >= min_fraction and rise_l.mean() > rise_s.mean(),
            radius=float(radii[-1]),
            min_fraction=min_fraction,
            seeds_sharper=int(np.sum(rise_l > rise_s)),
            of_seeds=len(seeds),
            mean_small=float(rise_s.mean()),
            mean_large=float(rise_l.mean()),
        ),
    ]
    K = len(seeds)
    gap_text = (
        f"test error {err_s.mean():.1%} vs {err_l.mean():.1%}: gap {gap.mean():+.1f} ± "
        f"{gap.std():.1f} points, large batch worse on {int(np.sum(gap > 0))} of {K} seeds"
    )
    verdict = (
        "the large batch also generalises worse"
        if gap_clear
        else "no clear test-error gap at this scale"
    )
    res["test_error_verdict"] = verdict

    fig = figure(3, width=4.5, height=4.0)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    labels = [f"batch {small}", f"batch {n}\n(full)"]
    colors = (GREEN, PURPLE)
    x = np.array([0, 1])
    for a, b in zip(lam_s, lam_l):
        ax1.plot(x, [a, b], "-", color="0.6", lw=0.8, zorder=1)
    for i, (vals, col) in enumerate(zip((lam_s, lam_l), colors)):
        ax1.scatter([i] * K, vals, color=col, s=18, zorder=2)
        ax1.errorbar(
            i + 0.12, vals.mean(), yerr=vals.std(), fmt="D", color="k", ms=5, capsize=4, zorder=3
        )
    ax1.errorbar([], [], yerr=[], fmt="D", color="k", ms=5, capsize=4, label="mean ± std")
    ax1.plot([], [], "-", color="0.6", lw=0.8, label="one seed (paired)")
    ax1.set_xticks(x, labels)
    ax1.set_xlim(-0.4, 1.5)
    ax1.set_ylim(bottom=0)
    style(
        ax1,
        "",
        "λmax(H) of the training loss",
        f"Top Hessian eigenvalue: ×{lam_l.mean() / lam_s.mean():.2f}, "
        f"larger on {int(np.sum(lam_l > lam_s))}/{K} seeds",
        loc="lower right",
    )
    for key, col, lab in (("small", GREEN, labels[0]), ("large", PURPLE, f"batch {n}")):
        R = np.array(per_seed[key]["rise"])
        m, sd = R.mean(axis=0), R.std(axis=0)
        ax2.plot(radii, m, "o-", color=col, ms=4, label=f"{lab}: mean ± std over seeds")
        ax2.fill_between(radii, m - sd, m + sd, color=col, alpha=0.2, lw=0)
    style(
        ax2,
        "distance r along random unit directions d (‖d‖ = 1)",
        "loss rise  l(θ* + r d) − l(θ*)",
        f"Random directions: ×{rise_l.mean() / rise_s.mean():.2f} at r = {radii[-1]:g}",
        loc="upper left",
    )
    ax2.text(
        0.98,
        0.03,
        f"filter-normalised, t = {filter_radius:g}:\n"
        f"{filt_s.mean():.3f} ± {filt_s.std():.3f} vs {filt_l.mean():.3f} ± {filt_l.std():.3f}"
        f"\n(×{filt_l.mean() / filt_s.mean():.2f}, larger on {int(np.sum(filt_l > filt_s))}/{K})",
        transform=ax2.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.25",
    )
    w = 0.55
    for i, (vals, col) in enumerate(zip((err_s, err_l), colors)):
        ax3.bar(i, vals.mean() * 100, w, yerr=vals.std() * 100, capsize=5, color=col, alpha=0.55)
        ax3.scatter(i + np.linspace(-0.15, 0.15, K), vals * 100, color="k", s=10, zorder=3)
    ax3.set_xticks(x, labels)
    ax3.set_ylim(0, max(err_s.max(), err_l.max()) * 100 * 1.15)
    style(
        ax3,
        "",
        "test error (%)",
        f"Test error: gap {gap.mean():+.1f} ± {gap.std():.1f} points",
        legend=False,
    )
    # the legend under the axes, where neither bars nor points can hide it
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor="0.75", edgecolor="k", label=f"bar: mean ± std over {K} seeds"),
        Line2D([], [], ls="", marker="o", color="k", ms=3, label="one seed"),
    ]
    ax3.legend(
        handles=handles,
        frameon=False,
        fontsize=8.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
    )
    # the headline says what the claims found, not what the paper found
    if claims[1].holds and claims[2].holds:
        headline = "Large batches find sharper minima"
    elif claims[1].holds or claims[2].holds:
        by = "λmax" if claims[1].holds else "the loss along random directions"
        headline = f"Large batches find sharper minima by {by} only"
    else:
        headline = "No consistent sharpness difference between the batch sizes"
    res["sharpness_verdict"] = headline
    fig.suptitle(
        f"{headline} at equal training loss {target:g} (Keskar et al. 2017); {verdict} "
        f"({counted(ds, n)}, {K} seeds)"
    )
    lines = [
        f"{K} seeds, {counted(ds, n)}, tanh MLP with {hidden} hidden units, SGD alpha = {lr:g}, "
        f"each trained until the training loss <= {target:g}",
    ]
    for key, bs in (("small", small), ("large", n)):
        d = per_seed[key]
        lines.append(
            f"batch {bs:4d}: {np.mean(d['steps']):.0f} updates, training loss "
            f"{np.mean(d['train_loss']):.4f}, lambda_max {np.mean(d['lambda_max']):.3f} ± "
            f"{np.std(d['lambda_max']):.3f}, loss rise at r = {radii[-1]:g} "
            f"{np.array(d['rise'])[:, -1].mean():.4f} ± {np.array(d['rise'])[:, -1].std():.4f}, "
            f"test error {np.mean(d['test_error']):.3f} ± {np.std(d['test_error']):.3f}"
        )
    lines.append(
        f"filter-normalised directions (t = {filter_radius:g}): rise {filt_s.mean():.4f} vs "
        f"{filt_l.mean():.4f} (larger for the large batch on {int(np.sum(filt_l > filt_s))} "
        f"of {K} seeds)"
    )
    lines.append(f"{headline.lower()}; {gap_text}: {verdict}")
    return Outcome(res, fig, lines, claims)
