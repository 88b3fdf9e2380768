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

from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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


def _setup(ds, quick: bool, seed: int) -> dict:
    """The sizes of the experiment: training set, width, target loss, seeds, radii."""
    return {
        "n": min(200 if quick else 500, len(ds["X"]) // 2),
        "hidden": 16 if quick else 32,
        "target": 0.05 if quick else 0.02,
        "seeds": [seed + i for i in range(5 if quick else 8)],
        "lr": 0.5,
        "small": 8,
        "radii": np.linspace(0, 3, 4 if quick else 7),
        "filter_radius": 0.3,
        "n_dirs": 6 if quick else 10,
    }


def _measure(ds, cfg: dict) -> dict:
    """Per seed and batch size ("small", "large"): training loss and error, steps, whether the
    target was reached, test error, lambda_max and the loss rises around the solution."""
    X, y, C = ds["X"], ds["y"], ds["n_classes"]
    n, hidden, radii, n_dirs = cfg["n"], cfg["hidden"], cfg["radii"], cfg["n_dirs"]
    keys = ("train_loss", "steps", "reached", "test_error", "train_error")
    per_seed: dict[str, dict[str, list[Any]]] = {
        k: {key: [] for key in keys} for k in ("small", "large")
    }
    for k in per_seed:
        per_seed[k].update(lambda_max=[], rise=[], rise_filter=[])
    for s in cfg["seeds"]:
        (Xtr, ytr), (Xte, yte) = D.split(X, y, n, n_test=1000, seed=s)
        r = batch_size_sharpness(
            (Xtr, ytr),
            (Xte, yte),
            batch_sizes=(cfg["small"], n),
            epochs=(100, 3000),
            hidden=(hidden,),
            lr=cfg["lr"],
            target_loss=cfg["target"],
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
                    [cfg["filter_radius"]],
                    n_directions=n_dirs,
                    normalise="filter",
                    seed=1000 + s,
                )["mean"][0]
            )
    return per_seed


def _paired(per_seed: dict) -> dict:
    """The per-seed numbers the claims and the figure compare, as arrays: small vs large."""
    S, L = per_seed["small"], per_seed["large"]
    err_s, err_l = np.array(S["test_error"]), np.array(L["test_error"])
    gap = (err_l - err_s) * 100  # percentage points, paired by seed
    return {
        "lam_s": np.array(S["lambda_max"]),
        "lam_l": np.array(L["lambda_max"]),
        "rise_s": np.array(S["rise"])[:, -1],
        "rise_l": np.array(L["rise"])[:, -1],
        "filt_s": np.array(S["rise_filter"]),
        "filt_l": np.array(L["rise_filter"]),
        "err_s": err_s,
        "err_l": err_l,
        "gap": gap,
        "gap_clear": bool(np.mean(gap > 0) >= 0.8 and gap.mean() > gap.std()),
        "loss_s": np.mean(S["train_loss"]),
        "loss_l": np.mean(L["train_loss"]),
    }


def _results(cfg: dict, per_seed: dict, p: dict) -> dict:
    gap = p["gap"]
    return {
        "seeds": cfg["seeds"],
        "n_train": cfg["n"],
        "hidden": cfg["hidden"],
        "lr": cfg["lr"],
        "batch_size": [cfg["small"], cfg["n"]],
        "target_loss": cfg["target"],
        "radius": cfg["radii"].tolist(),
        "filter_radius": cfg["filter_radius"],
        "small": per_seed["small"],
        "large": per_seed["large"],
        "lambda_max": {"small": _summary(p["lam_s"]), "large": _summary(p["lam_l"])},
        "loss_rise_at_max_radius": {"small": _summary(p["rise_s"]), "large": _summary(p["rise_l"])},
        "loss_rise_filter_normalised": {
            "small": _summary(p["filt_s"]),
            "large": _summary(p["filt_l"]),
        },
        "test_error": {"small": _summary(p["err_s"]), "large": _summary(p["err_l"])},
        "test_error_gap_points": {
            **_summary(gap),
            "large_worse_on": int(np.sum(gap > 0)),
            "of_seeds": len(cfg["seeds"]),
            "clear": p["gap_clear"],
        },
    }


def _claims(cfg: dict, per_seed: dict, p: dict) -> list:
    S, L = per_seed["small"], per_seed["large"]
    lam_s, lam_l, rise_s, rise_l = p["lam_s"], p["lam_l"], p["rise_s"], p["rise_l"]
    target, K = cfg["target"], len(cfg["seeds"])
    min_fraction, tol = 0.8, 0.15
    return [
        claim(
            CLAIMS,
            "same_loss",
            all(S["reached"])
            and all(L["reached"])
            and abs(p["loss_s"] - p["loss_l"]) <= tol * target,
            target=target,
            tol=tol,
            train_loss_small=float(p["loss_s"]),
            train_loss_large=float(p["loss_l"]),
        ),
        claim(
            CLAIMS,
            "sharper_lambda",
            np.mean(lam_l > lam_s) >= min_fraction and lam_l.mean() > lam_s.mean(),
            min_fraction=min_fraction,
            seeds_sharper=int(np.sum(lam_l > lam_s)),
            of_seeds=K,
            mean_small=float(lam_s.mean()),
            mean_large=float(lam_l.mean()),
        ),
        claim(
            CLAIMS,
            "sharper_random",
            np.mean(rise_l > rise_s) >= min_fraction and rise_l.mean() > rise_s.mean(),
            radius=float(cfg["radii"][-1]),
            min_fraction=min_fraction,
            seeds_sharper=int(np.sum(rise_l > rise_s)),
            of_seeds=K,
            mean_small=float(rise_s.mean()),
            mean_large=float(rise_l.mean()),
        ),
    ]


def _headline(claims: list) -> str:
    """What the claims found (not what the paper found)."""
    if claims[1].holds and claims[2].holds:
        return "Large batches find sharper minima"
    if claims[1].holds or claims[2].holds:
        by = "λmax" if claims[1].holds else "the loss along random directions"
        return f"Large batches find sharper minima by {by} only"
    return "No consistent sharpness difference between the batch sizes"


def _plot_lambda(ax, cfg: dict, p: dict, labels: list) -> None:
    lam_s, lam_l, K = p["lam_s"], p["lam_l"], len(cfg["seeds"])
    x = np.array([0, 1])
    for a, b in zip(lam_s, lam_l):
        ax.plot(x, [a, b], "-", color="0.6", lw=0.8, zorder=1)
    for i, (vals, col) in enumerate(zip((lam_s, lam_l), (GREEN, PURPLE))):
        ax.scatter([i] * K, vals, color=col, s=18, zorder=2)
        ax.errorbar(
            i + 0.12, vals.mean(), yerr=vals.std(), fmt="D", color="k", ms=5, capsize=4, zorder=3
        )
    ax.errorbar([], [], yerr=[], fmt="D", color="k", ms=5, capsize=4, label="mean ± std")
    ax.plot([], [], "-", color="0.6", lw=0.8, label="one seed (paired)")
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.4, 1.5)
    ax.set_ylim(bottom=0)
    style(
        ax,
        "",
        "λmax(H) of the training loss",
        f"Top Hessian eigenvalue: ×{lam_l.mean() / lam_s.mean():.2f}, "
        f"larger on {int(np.sum(lam_l > lam_s))}/{K} seeds",
        loc="lower right",
    )


def _plot_rise(ax, cfg: dict, per_seed: dict, p: dict, labels: list) -> None:
    radii, n, K = cfg["radii"], cfg["n"], len(cfg["seeds"])
    filt_s, filt_l = p["filt_s"], p["filt_l"]
    for key, col, lab in (("small", GREEN, labels[0]), ("large", PURPLE, f"batch {n}")):
        R = np.array(per_seed[key]["rise"])
        m, sd = R.mean(axis=0), R.std(axis=0)
        ax.plot(radii, m, "o-", color=col, ms=4, label=f"{lab}: mean ± std over seeds")
        ax.fill_between(radii, m - sd, m + sd, color=col, alpha=0.2, lw=0)
    style(
        ax,
        "distance r along random unit directions d (‖d‖ = 1)",
        "loss rise  l(θ* + r d) − l(θ*)",
        f"Random directions: ×{p['rise_l'].mean() / p['rise_s'].mean():.2f} at r = {radii[-1]:g}",
        loc="upper left",
    )
    ax.text(
        0.98,
        0.03,
        f"filter-normalised, t = {cfg['filter_radius']:g}:\n"
        f"{filt_s.mean():.3f} ± {filt_s.std():.3f} vs {filt_l.mean():.3f} ± {filt_l.std():.3f}"
        f"\n(×{filt_l.mean() / filt_s.mean():.2f}, larger on {int(np.sum(filt_l > filt_s))}/{K})",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.25",
    )


def _plot_error(ax, cfg: dict, p: dict, labels: list) -> None:
    err_s, err_l, gap, K = p["err_s"], p["err_l"], p["gap"], len(cfg["seeds"])
    w = 0.55
    for i, (vals, col) in enumerate(zip((err_s, err_l), (GREEN, PURPLE))):
        ax.bar(i, vals.mean() * 100, w, yerr=vals.std() * 100, capsize=5, color=col, alpha=0.55)
        ax.scatter(i + np.linspace(-0.15, 0.15, K), vals * 100, color="k", s=10, zorder=3)
    ax.set_xticks(np.array([0, 1]), labels)
    ax.set_ylim(0, max(err_s.max(), err_l.max()) * 100 * 1.15)
    style(
        ax,
        "",
        "test error (%)",
        f"Test error: gap {gap.mean():+.1f} ± {gap.std():.1f} points",
        legend=False,
    )
    # the legend under the axes, where neither bars nor points can hide it
    handles = [
        Patch(facecolor="0.75", edgecolor="k", label=f"bar: mean ± std over {K} seeds"),
        Line2D([], [], ls="", marker="o", color="k", ms=3, label="one seed"),
    ]
    ax.legend(
        handles=handles,
        frameon=False,
        fontsize=8.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
    )


def _lines(ds, cfg: dict, per_seed: dict, p: dict, headline: str, verdict: str) -> list[str]:
    radii, K, n = cfg["radii"], len(cfg["seeds"]), cfg["n"]
    err_s, err_l, gap = p["err_s"], p["err_l"], p["gap"]
    filt_s, filt_l = p["filt_s"], p["filt_l"]
    lines = [
        f"{K} seeds, {counted(ds, n)}, tanh MLP with {cfg['hidden']} hidden units, "
        f"SGD alpha = {cfg['lr']:g}, each trained until the training loss <= {cfg['target']:g}",
    ]
    for key, bs in (("small", cfg["small"]), ("large", n)):
        d = per_seed[key]
        lines.append(
            f"batch {bs:4d}: {np.mean(d['steps']):.0f} updates, training loss "
            f"{np.mean(d['train_loss']):.4f}, lambda_max {np.mean(d['lambda_max']):.3f} ± "
            f"{np.std(d['lambda_max']):.3f}, loss rise at r = {radii[-1]:g} "
            f"{np.array(d['rise'])[:, -1].mean():.4f} ± {np.array(d['rise'])[:, -1].std():.4f}, "
            f"test error {np.mean(d['test_error']):.3f} ± {np.std(d['test_error']):.3f}"
        )
    lines.append(
        f"filter-normalised directions (t = {cfg['filter_radius']:g}): rise {filt_s.mean():.4f} "
        f"vs {filt_l.mean():.4f} (larger for the large batch on {int(np.sum(filt_l > filt_s))} "
        f"of {K} seeds)"
    )
    gap_text = (
        f"test error {err_s.mean():.1%} vs {err_l.mean():.1%}: gap {gap.mean():+.1f} ± "
        f"{gap.std():.1f} points, large batch worse on {int(np.sum(gap > 0))} of {K} seeds"
    )
    lines.append(f"{headline.lower()}; {gap_text}: {verdict}")
    return lines


def run(ds, quick: bool, seed: int) -> Outcome:
    cfg = _setup(ds, quick, seed)
    per_seed = _measure(ds, cfg)
    p = _paired(per_seed)
    res = _results(cfg, per_seed, p)
    claims = _claims(cfg, per_seed, p)
    verdict = (
        "the large batch also generalises worse"
        if p["gap_clear"]
        else "no clear test-error gap at this scale"
    )
    res["test_error_verdict"] = verdict
    headline = _headline(claims)
    res["sharpness_verdict"] = headline
    fig = figure(3, width=4.5, height=4.0)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    labels = [f"batch {cfg['small']}", f"batch {cfg['n']}\n(full)"]
    _plot_lambda(ax1, cfg, p, labels)
    _plot_rise(ax2, cfg, per_seed, p, labels)
    _plot_error(ax3, cfg, p, labels)
    fig.suptitle(
        f"{headline} at equal training loss {cfg['target']:g} (Keskar et al. 2017); {verdict} "
        f"({counted(ds, cfg['n'])}, {len(cfg['seeds'])} seeds)"
    )
    return Outcome(res, fig, _lines(ds, cfg, per_seed, p, headline, verdict), claims)
