"""adversarial: the fast gradient sign method x + eps sign(grad_x l) lowers a trained network's
test accuracy far more than a random sign perturbation of the same size, and raises its loss
(Szegedy et al. 2014; Goodfellow, Shlens, Szegedy 2015). On images, the original, the
difference and the perturbed image of correctly classified test examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...model import mlp
from .. import data as D
from ..adversarial import accuracy_vs_eps, fgsm
from .common import BLUE, VERMILION, Outcome, claim, examples, figure, fit, style

CLAIMS = {
    "fgsm_beats_random": "at eps = {eps:g}, FGSM leaves a lower test accuracy than random signs "
    "of the same size",
    "loss_rises": "at eps = {eps:g}, FGSM raises the loss of the correctly classified test "
    "{examples}",
    "flips": "at eps = {eps:g}, FGSM misclassifies some correctly classified test {examples}",
}


def _claims(curve: dict, res: dict, eps_show: float, what: str) -> list:
    i_show = int(np.argmin(np.abs(np.asarray(curve["eps"]) - eps_show)))
    return [
        claim(
            CLAIMS,
            "fgsm_beats_random",
            curve["accuracy_fgsm"][i_show] < curve["accuracy_random"][i_show],
            eps=eps_show,
            accuracy_fgsm=curve["accuracy_fgsm"][i_show],
            accuracy_random=curve["accuracy_random"][i_show],
        ),
        claim(
            CLAIMS,
            "loss_rises",
            res["loss_fgsm"] > res["loss_clean"],
            eps=eps_show,
            examples=what,
            loss_clean=res["loss_clean"],
            loss_fgsm=res["loss_fgsm"],
        ),
        claim(
            CLAIMS,
            "flips",
            res["flipped_fraction_at_eps_shown"] > 0,
            eps=eps_show,
            examples=what,
            flipped_fraction=res["flipped_fraction_at_eps_shown"],
        ),
    ]


def _plot_curve(ax, curve: dict, ds) -> None:
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
    style(
        ax,
        "ε (fraction of the pixel range)" if ds["image_shape"] else "ε (each input coordinate)",
        "test accuracy (%)",
        f"Accuracy against ε ({ds['name']})",
    )


def _plot_images(fig, gs, model, Xc, yc, Xa, show, eps_show: float, ds) -> None:
    """One row per example shown: the original, the difference (±eps) and the perturbed one."""
    shape, lo, hi = ds["image_shape"], float(ds["X"].min()), float(ds["X"].max())
    pa = model.predict(Xa)
    proba_c = model.predict_proba(Xc[show])
    proba_a = model.predict_proba(Xa[show])
    for row, i in enumerate(show):
        imgs = (Xc[i], Xa[i] - Xc[i], Xa[i])
        titles = (
            f"correctly classified: {yc[i]} ({proba_c[row].max():.0%})",
            f"difference (±{eps_show:g})",
            f"{'misclassified' if pa[i] != yc[i] else 'still correct'}: {pa[i]} "
            f"({proba_a[row].max():.0%})",
        )
        for col, (img, title) in enumerate(zip(imgs, titles)):
            a = fig.add_subplot(gs[row, col + 1])
            if col == 1:
                a.imshow(img.reshape(shape), cmap="RdBu_r", vmin=-eps_show, vmax=eps_show)
            else:
                a.imshow(img.reshape(shape), cmap="gray_r", vmin=lo, vmax=hi)
            a.set_title(title, fontsize=8)
            a.set_xticks([])
            a.set_yticks([])


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y = ds["X"], ds["y"]
    what = examples(ds)
    n = 400 if quick else 1200
    (Xtr, ytr), (Xte, yte) = D.split(X, y, min(n, len(X) * 2 // 3), seed=seed)
    model = mlp([X.shape[1], 32 if quick else 64, ds["n_classes"]], "tanh", seed=seed)
    fit(model, (Xtr, ytr), epochs=10 if quick else 30, batch_size=16, lr=0.05, seed=seed)
    eps_values = np.linspace(0, 0.3, 7 if quick else 13)
    shape = ds["image_shape"]
    clip = (float(X.min()), float(X.max())) if shape else None  # pixels stay in their range
    curve = accuracy_vs_eps(model, Xte, yte, eps_values, clip=clip, seed=seed)
    eps_show = 0.1
    correct = np.flatnonzero(model.predict(Xte) == yte)
    Xc, yc = Xte[correct], yte[correct]
    Xa = fgsm(model, Xc, yc, eps_show, clip=clip)
    flipped = np.flatnonzero(model.predict(Xa) != yc)
    show = flipped[:3] if len(flipped) >= 3 else np.arange(min(3, len(Xc)))
    res: dict[str, Any] = dict(curve)
    res.update(
        clean_accuracy=curve["accuracy_fgsm"][0],
        eps_shown=eps_show,
        loss_clean=model.loss_value(Xc, yc),
        loss_fgsm=model.loss_value(Xa, yc),
        flipped_fraction_at_eps_shown=len(flipped) / max(1, len(Xc)),
        examples=what,
    )
    claims = _claims(curve, res, eps_show, what)
    if shape:  # the curve, and original / difference / perturbed images beside it
        fig = figure(4, width=3.0, height=2.3 * max(1, len(show)))
        gs = fig.add_gridspec(max(1, len(show)), 4, width_ratios=[2.2, 1, 1, 1])
        _plot_curve(fig.add_subplot(gs[:, 0]), curve, ds)
        _plot_images(fig, gs, model, Xc, yc, Xa, show, eps_show, ds)
    else:  # not images: the curve alone
        fig = figure(1, width=6.0, height=4.2)
        _plot_curve(fig.subplots(), curve, ds)
    fig.suptitle("Adversarial examples (Szegedy et al. 2014), fast gradient sign method")
    lines = [
        "eps " + " ".join(f"{e:5.2f}" for e in curve["eps"]),
        "FGSM " + " ".join(f"{a:5.2f}" for a in curve["accuracy_fgsm"]) + "  (accuracy)",
        "rand " + " ".join(f"{a:5.2f}" for a in curve["accuracy_random"]),
        f"eps = {eps_show}: loss {res['loss_clean']:.3f} -> {res['loss_fgsm']:.3f}, "
        f"{res['flipped_fraction_at_eps_shown']:.0%} of the correctly classified test {what} "
        "misclassified",
    ]
    return Outcome(res, fig, lines, claims)
