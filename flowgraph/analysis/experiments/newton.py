"""newton: Newton's method converges in a few steps on a convex problem (L2-regularised
logistic regression), where gradient descent with its largest stable step crawls; on a small
tanh MLP at its initialisation the Hessian is indefinite, so the pure Newton step is not a
descent method there.
"""

from __future__ import annotations

import numpy as np

from ...model import mlp
from .. import data as D
from ..hessian import hessian
from ..newton import newton_step
from ..params import flatten, objective, set_flat
from ..spectrum import spectrum
from .common import BLUE, GREEN, PURPLE, VERMILION, Outcome, claim, figure, pool, style

CLAIMS = {
    "newton_converges": "logistic regression: Newton's method reaches |grad| < {tol:g} within "
    "{max_steps} steps",
    "gd_behind": "logistic regression: gradient descent (step 1/lambda_max) is still more than "
    "{gap:g} above the minimum after {steps} steps",
    "mlp_indefinite": "tanh MLP at initialisation: the Hessian has negative eigenvalues "
    "(indefinite: no minimum there)",
}


def _logistic_regression(X, y, C: int, quick: bool, seed: int) -> dict:
    """Convex: softmax regression with L2, from theta = 0, by Newton's method and by full-batch
    gradient descent with the largest stable step 1 / lambda_max at the optimum."""
    lam = 1e-3
    model = mlp([X.shape[1], C], l2=lam, dtype=np.float64, seed=seed)
    P = len(flatten(model))
    set_flat(model, np.zeros(P))
    newton_loss, newton_grad = [model.loss_value(X, y)], []
    for _ in range(8 if quick else 10):
        r = newton_step(model, X, y, damping=1e-8)
        newton_loss.append(r.loss_after)
        newton_grad.append(r.grad_norm)
    lam_max = float(np.linalg.eigvalsh(hessian(model, X, y))[-1])
    gd_model = mlp([X.shape[1], C], l2=lam, dtype=np.float64, seed=seed)
    set_flat(gd_model, np.zeros(P))
    obj = objective(gd_model, X, y)
    theta = np.zeros(P)
    gd_loss = []
    for _ in range(100 if quick else 400):
        g = obj.grad(theta)
        gd_loss.append(float(obj.output.value))
        theta = theta - g / lam_max
    return {
        "P": P,
        "newton_loss": newton_loss,
        "newton_grad": newton_grad,
        "loss_star": min(newton_loss),
        "lam_max": lam_max,
        "gd_loss": gd_loss,
        "spec": spectrum(model, X, y),
    }


def _results(lr: dict, spec, forced, converged: list[int]) -> dict:
    gd_loss, lr_spec = lr["gd_loss"], lr["spec"]
    return {
        "logistic_regression": {
            "parameters": lr["P"],
            "newton_loss": lr["newton_loss"],
            "newton_grad_norm": lr["newton_grad"],
            "gd_loss": gd_loss,
            "gd_step": 1 / lr["lam_max"],
            "min_eigenvalue": float(lr_spec.eigenvalues.min()),
            "n_zero_eigenvalues": lr_spec.n_zero,
            "newton_steps_to_1e-8": converged[0] if converged else None,
            "gd_excess_loss_at_end": gd_loss[-1] - lr["loss_star"],
        },
        "mlp": {
            "parameters": len(spec.eigenvalues),
            "n_negative": spec.n_negative,
            "n_zero": spec.n_zero,
            "n_positive": spec.n_positive,
            "min_eigenvalue": float(spec.eigenvalues.min()),
            "max_eigenvalue": float(spec.eigenvalues.max()),
            "loss_before_newton": forced.loss_before,
            "loss_after_newton": forced.loss_after,
        },
    }


def _claims(lr: dict, spec, converged: list[int], tol: float) -> list:
    gd_loss, loss_star = lr["gd_loss"], lr["loss_star"]
    max_steps = 8
    gap = 1e-4
    return [
        claim(
            CLAIMS,
            "newton_converges",
            converged and converged[0] <= max_steps,
            tol=tol,
            max_steps=max_steps,
            steps_taken=converged[0] if converged else None,
            grad_norms=lr["newton_grad"],
        ),
        claim(
            CLAIMS,
            "gd_behind",
            gd_loss[-1] - loss_star > gap,
            gap=gap,
            steps=len(gd_loss),
            excess_loss=gd_loss[-1] - loss_star,
        ),
        claim(
            CLAIMS,
            "mlp_indefinite",
            spec.n_negative > 0 and spec.n_positive > 0,
            n_negative=spec.n_negative,
            n_positive=spec.n_positive,
            min_eigenvalue=float(spec.eigenvalues.min()),
        ),
    ]


def _figure(lr: dict, spec, forced):
    newton_loss, gd_loss, loss_star = lr["newton_loss"], lr["gd_loss"], lr["loss_star"]
    fig = figure(3, width=4.4)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.semilogy(
        np.arange(len(newton_loss)),
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
    style(
        ax1,
        "iteration (full batch)",
        "loss − min loss",
        f"Convex: logistic regression ({lr['P']} parameters)",
    )
    ax2.hist(lr["spec"].eigenvalues, bins=40, color=GREEN, alpha=0.8, label="logistic regression")
    ax2.hist(spec.eigenvalues, bins=40, color=PURPLE, alpha=0.7, label="tanh MLP at init")
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_yscale("log")
    style(
        ax2,
        "eigenvalue of the Hessian H",
        "count",
        f"tanh MLP at init: {spec.n_negative} of {len(spec.eigenvalues)} eigenvalues < 0",
    )
    labels = ["before", "after Newton\nstep"]
    ax3.bar(labels, [forced.loss_before, forced.loss_after], color=[BLUE, VERMILION], width=0.5)
    for i, v in enumerate([forced.loss_before, forced.loss_after]):
        ax3.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=9)
    style(ax3, "", "training loss", "MLP: Newton step with indefinite H", legend=False)
    return fig


def run(ds, quick: bool, seed: int) -> Outcome:
    X, y, C = pool(ds["X"], ds["image_shape"]), ds["y"], ds["n_classes"]
    n = 150 if quick else 500
    (Xtr, ytr), _ = D.split(X, y, min(n, len(X) - 1), seed=seed)
    lr = _logistic_regression(Xtr, ytr, C, quick, seed)
    # non-convex: a small tanh MLP at its random initialisation
    mlp_model = mlp([X.shape[1], 4 if quick else 8, C], "tanh", dtype=np.float64, seed=seed)
    spec = spectrum(mlp_model, Xtr, ytr)
    forced = newton_step(mlp_model, Xtr, ytr, allow_indefinite=True)
    tol = 1e-8
    converged = [i + 1 for i, g in enumerate(lr["newton_grad"]) if g < tol]
    res = _results(lr, spec, forced, converged)
    claims = _claims(lr, spec, converged, tol)
    fig = _figure(lr, spec, forced)
    inputs = ds["name"] + (" pooled to 4 x 4" if X.shape[1] != ds["X"].shape[1] else "")
    res["inputs"] = inputs
    fig.suptitle(
        f"Newton's method is only practical with few parameters and local convexity ({inputs})"
    )
    gd_loss, loss_star = lr["gd_loss"], lr["loss_star"]
    lines = [
        f"logistic regression ({lr['P']} parameters): Newton |grad| per step "
        + ", ".join(f"{g:.1e}" for g in lr["newton_grad"]),
        f"gradient descent after {len(gd_loss)} steps: loss - min = {gd_loss[-1] - loss_star:.2e}",
        f"tanh MLP at init ({len(spec.eigenvalues)} parameters): {spec.n_negative} negative, "
        f"{spec.n_zero} zero, {spec.n_positive} positive eigenvalues; the Newton step moves the "
        f"loss {forced.loss_before:.4f} -> {forced.loss_after:.4f}",
    ]
    return Outcome(res, fig, lines, claims)
