"""The surprising properties of trained networks, each as a function that measures it.

* ``memorization`` — Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017, "Understanding deep
  learning requires rethinking generalization"): a network fits randomly permuted labels; the
  training error falls to 0 while the test error stays at chance.
* ``double_descent`` — Belkin, Hsu, Ma, Mandal (2018, "Reconciling modern machine learning
  practice and the bias-variance trade-off"): sweeping the hidden width H past the
  interpolation threshold (H ~ N training points) the test error rises to a peak, then falls
  again. As in their random-feature experiments, the first layer stays at its random values
  and the output layer is the minimum-norm least-squares fit of the one-hot targets, the
  limit of gradient descent from zero.
* ``batch_size_sharpness`` — Keskar et al. (ICLR 2017): large batches tend to find sharper
  minima (larger top Hessian eigenvalue) that generalise worse.
* ``bias_variance`` — retrain on bootstrap resamples of the training set; the expected
  squared error of the predicted probabilities splits exactly into squared bias and variance::

      E_D ||f_D(x) - e(y)||^2 = ||f_bar(x) - e(y)||^2 + E_D ||f_D(x) - f_bar(x)||^2,

  f_bar(x) = E_D f_D(x), averaged over test points.
* ``l1_sparsity`` — L1 "pushes certain weights to be exactly 0", but only with a proximal
  (soft-thresholding) step; plain subgradient steps sign(W) oscillate around 0 and never land
  on it. L2 shrinks weights without zeroing any.
* ``critical_points`` — Newton's method on the gradient finds critical points of a tiny
  network, whatever their kind; Dauphin et al. (NIPS 2014) observed that the higher the loss
  of a critical point, the more negative eigenvalues it has (its index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models import Model, mlp
from ..optim import SGD
from ..train import Callback, train
from .hessian import objective_hessian
from .params import AnalysisError, flatten, objective, set_flat, to_float64
from .spectrum import spectrum, top_eigenvalues

__all__ = [
    "random_labels",
    "memorization",
    "double_descent",
    "batch_size_sharpness",
    "bias_variance",
    "l1_sparsity",
    "fraction_zero",
    "critical_points",
]


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def random_labels(y: Any, seed: int | np.random.Generator = 0) -> np.ndarray:
    """The labels randomly permuted: the same class frequencies, no relation to the inputs."""
    return _rng(seed).permutation(np.asarray(y))


class _Tracker(Callback):
    """Full training and test error after every ``every`` epochs."""

    def __init__(self, train_data, test_data, every: int):
        self.train_data, self.test_data, self.every = train_data, test_data, every
        self.epoch: list[int] = []
        self.train_error: list[float] = []
        self.test_error: list[float] = []

    def on_epoch_end(self, model, history):
        e = history.epoch[-1]
        if e % self.every == 0 or e == 1:
            self.epoch.append(e)
            self.train_error.append(model.error(*self.train_data))
            self.test_error.append(model.error(*self.test_data))
        return None


def _n_classes(*ys: Any) -> int:
    return int(max(np.max(y) for y in ys)) + 1


def memorization(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    hidden: Sequence[int] = (256,),
    activation: str = "relu",
    epochs: int = 150,
    batch_size: int = 16,
    lr: float = 0.05,
    momentum: float = 0.9,
    every: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Train one network on the true labels and one on randomly permuted labels (Zhang et al.
    2017); return for each the training and test error every ``every`` epochs, and the final
    values. The test set keeps its true labels: a network that memorised random labels is at
    chance on it, error ~ 1 - 1/C."""
    X, y = train_data
    C = _n_classes(y, test_data[1])
    out: dict[str, Any] = {"chance_error": 1.0 - 1.0 / C}
    for name, labels in (("true", np.asarray(y)), ("random", random_labels(y, seed))):
        model = mlp([X.shape[1], *hidden, C], activation, seed=seed)
        tracker = _Tracker((X, labels), test_data, every)
        opt = SGD(model.parameters, lr=lr, momentum=momentum)
        train(
            model,
            (X, labels),
            epochs=epochs,
            batch_size=batch_size,
            optimizer=opt,
            seed=seed,
            progress=False,
            callbacks=[tracker],
        )
        out[name] = {
            "epoch": tracker.epoch,
            "train_error": tracker.train_error,
            "test_error": tracker.test_error,
            "final_train_error": model.error(X, labels),
            "final_test_error": model.error(*test_data),
        }
    return out


def double_descent(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    widths: Sequence[int],
    *,
    activation: str = "relu",
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Training and test error against the hidden width H of a random-feature network.

    For each H: f(x) = softmax(W(2) h(1)(x) + b(2)) with h(1) = g(W(1) x + b(1)) at its random
    (Glorot) initialisation; [W(2), b(2)] is the minimum-norm solution of the least-squares
    problem min sum_t ||a(2)(x_t) - e(y_t)||^2 (``numpy.linalg.lstsq``), which interpolates
    the training set once H + 1 >= N. The features come from the engine's fprop; errors are
    averaged over ``repeats`` random first layers. Also returned: the test squared error and
    ||W(2)||_F (medians over the repeats), which peak at the threshold.
    """
    X, y = np.asarray(train_data[0], dtype=np.float64), np.asarray(train_data[1])
    Xt, yt = np.asarray(test_data[0], dtype=np.float64), np.asarray(test_data[1])
    C = _n_classes(y, yt)
    T = np.eye(C)[y]
    out: dict[str, Any] = {
        "width": [int(w) for w in widths],
        "n_train": len(y),
        "train_error": [],
        "test_error": [],
        "test_mse": [],
        "weight_norm": [],
    }
    for H in widths:
        tr, te, mse, norm = [], [], [], []
        for r in range(repeats):
            model = mlp([X.shape[1], int(H), C], activation, dtype=np.float64, seed=seed + r)
            model.predict_graph.fprop({model.x: X})
            Phi = np.hstack([model["h1"].value, np.ones((len(X), 1))])
            B = np.linalg.lstsq(Phi, T, rcond=None)[0]  # minimum-norm least squares
            W2, b2 = model["W2"], model["b2"]
            W2.value, b2.value = B[:-1].T.copy(), B[-1].copy()
            tr.append(model.error(X, y))
            te.append(model.error(Xt, yt))
            model.predict_graph.fprop({model.x: Xt})
            a = model.logits.value
            mse.append(float(np.mean(np.sum((a - np.eye(C)[yt]) ** 2, axis=1))))
            norm.append(float(np.linalg.norm(W2.value)))
        out["train_error"].append(float(np.mean(tr)))
        out["test_error"].append(float(np.mean(te)))
        out["test_mse"].append(float(np.median(mse)))  # medians: one unlucky draw of
        out["weight_norm"].append(float(np.median(norm)))  # W(1) can dominate a mean
    return out


class _StopAtLoss(Callback):
    """Keep the parameters after the first update at which the full training loss is <= target,
    then stop at the end of that epoch (``train`` stops between epochs only)."""

    def __init__(self, X, y, target: float):
        self.X, self.y, self.target = X, y, float(target)
        self.step: int | None = None
        self.theta: np.ndarray | None = None

    def on_step_end(self, model, step):
        if self.theta is None and model.loss_value(self.X, self.y) <= self.target:
            self.step, self.theta = step, flatten(model)

    def on_epoch_end(self, model, history):
        return self.theta is not None


def batch_size_sharpness(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    batch_sizes: Sequence[int] = (8, 512),
    hidden: Sequence[int] = (32,),
    activation: str = "tanh",
    epochs: Sequence[int] | int = 30,
    lr: float = 0.05,
    momentum: float = 0.0,
    target_loss: float | None = None,
    sharpness_points: int | None = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the same network from the same initialisation with each batch size; report test
    error, training loss and sharpness lambda_max(H) of the training loss (Lanczos on the
    R-operator's H v, on at most ``sharpness_points`` training points). ``epochs`` may give one
    count per batch size.

    ``target_loss``: each run instead stops at the first update after which the (full,
    regularised) training loss l(theta) is <= target_loss, so that the solutions compared are
    equally well fitted (Keskar et al. 2017 compare them at equal training loss); ``epochs`` is
    then the most it may take, and ``reached_target`` says whether it got there. Returns also
    ``steps`` (updates taken) and each solution's parameter vector ``theta``."""
    X, y = train_data
    C = _n_classes(y, test_data[1])
    epochs_list = [int(epochs)] * len(batch_sizes) if np.isscalar(epochs) else list(epochs)
    if len(epochs_list) != len(batch_sizes):
        raise AnalysisError("give one epoch count, or one per batch size")
    n_s = len(X) if sharpness_points is None else min(len(X), int(sharpness_points))
    Xs, ys = X[:n_s], y[:n_s]
    out: dict[str, Any] = {
        "batch_size": [int(b) for b in batch_sizes],
        "epochs": [],
        "steps": [],
        "reached_target": [],
        "target_loss": target_loss,
        "test_error": [],
        "train_error": [],
        "train_loss": [],
        "sharpness": [],
        "theta": [],
    }
    for bs, ep in zip(batch_sizes, epochs_list):
        model = mlp([X.shape[1], *hidden, C], activation, dtype=np.float64, seed=seed)
        opt = SGD(model.parameters, lr=lr, momentum=momentum)
        stop = [] if target_loss is None else [_StopAtLoss(X, y, target_loss)]
        history = train(
            model,
            (X, y),
            epochs=ep,
            batch_size=int(bs),
            optimizer=opt,
            seed=seed,
            progress=False,
            callbacks=stop,
        )
        steps = len(history) * -(-len(X) // int(bs))
        if stop and stop[0].theta is not None:
            set_flat(model, stop[0].theta)
            steps = stop[0].step
        out["epochs"].append(len(history))
        out["steps"].append(int(steps))
        out["reached_target"].append(bool(not stop or stop[0].theta is not None))
        out["test_error"].append(model.error(*test_data))
        out["train_error"].append(model.error(X, y))
        out["train_loss"].append(model.loss_value(X, y))
        out["sharpness"].append(float(top_eigenvalues(model, Xs, ys, 1, seed=seed)[0]))
        out["theta"].append(flatten(model))
    return out


def bias_variance(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    l2_values: Sequence[float] = (0.0, 1e-3, 1e-2, 1e-1),
    n_boot: int = 8,
    hidden: Sequence[int] = (32,),
    activation: str = "tanh",
    epochs: int = 30,
    batch_size: int = 16,
    lr: float = 0.05,
    reseed: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Squared bias and variance of the predicted probabilities against the L2 strength lambda.

    For each lambda, ``n_boot`` networks (same initialisation) are trained on bootstrap
    resamples D_b of the training set; with f_b(x) their probabilities on test point x,
    f_bar = mean_b f_b and e(y) the one-hot label::

        bias^2   = mean_x ||f_bar(x) - e(y)||^2
        variance = mean_x mean_b ||f_b(x) - f_bar(x)||^2

    and their sum is the mean squared error mean_x mean_b ||f_b(x) - e(y)||^2 exactly.
    ``reseed``: each retraining also starts from a fresh random initialisation (the variance
    then covers everything that changes from one training run to the next); otherwise all
    start from the same theta_0 and only the training set varies.
    """
    X, y = train_data
    Xt, yt = test_data
    C = _n_classes(y, yt)
    E = np.eye(C)[np.asarray(yt)]
    rng = _rng(seed)
    boots = [rng.integers(0, len(X), len(X)) for _ in range(n_boot)]
    out: dict[str, Any] = {
        "l2": [float(v) for v in l2_values],
        "bias2": [],
        "variance": [],
        "mse": [],
        "test_error": [],
        "ensemble_test_error": [],
    }
    for lam in l2_values:
        probs, errs = [], []
        for b, idx in enumerate(boots):
            init_seed = seed + b if reseed else seed
            model = mlp([X.shape[1], *hidden, C], activation, l2=lam, seed=init_seed)
            opt = SGD(model.parameters, lr=lr, momentum=0.9)
            train(
                model,
                (X[idx], y[idx]),
                epochs=epochs,
                batch_size=batch_size,
                optimizer=opt,
                seed=seed + b,
                progress=False,
            )
            probs.append(model.predict_proba(Xt).astype(np.float64))
            errs.append(model.error(Xt, yt))
        P = np.stack(probs)  # (B, N, C)
        f_bar = P.mean(axis=0)
        out["bias2"].append(float(np.mean(np.sum((f_bar - E) ** 2, axis=1))))
        out["variance"].append(float(np.mean(np.sum((P - f_bar) ** 2, axis=2))))
        out["mse"].append(float(np.mean(np.sum((P - E) ** 2, axis=2))))
        out["test_error"].append(float(np.mean(errs)))
        out["ensemble_test_error"].append(float(np.mean(f_bar.argmax(axis=1) != yt)))
    return out


def fraction_zero(model: Model) -> float:
    """The fraction of weights (not biases) that are exactly 0."""
    total = sum(W.value.size for W in model.weights)
    return float(sum(np.count_nonzero(W.value == 0) for W in model.weights) / total)


def l1_sparsity(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    lambdas: Sequence[float] = (1e-4, 1e-3, 3e-3, 1e-2),
    hidden: Sequence[int] = (64,),
    activation: str = "tanh",
    epochs: int = 30,
    batch_size: int = 16,
    lr: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """The fraction of weights exactly 0 and the test error, for each lambda, with three ways of
    regularising: "l1_subgradient" (lambda sum |W| in the loss, its gradient lambda sign(W) in
    the plain SGD step), "l1_proximal" (the same objective; after each gradient step on the
    data term, the proximal step W <- sign(W) max(|W| - alpha lambda, 0) of ``SGD(l1_prox=)``)
    and "l2" (lambda sum W^2). The weights of the largest lambda's models are returned too."""
    X, y = train_data
    C = _n_classes(y, test_data[1])
    sizes = [X.shape[1], *hidden, C]
    methods = ("l1_subgradient", "l1_proximal", "l2")
    out: dict[str, Any] = {"lambda": [float(v) for v in lambdas]}
    for m in methods:
        out[m] = {"fraction_zero": [], "test_error": [], "weights": None}
    for lam in lambdas:
        for m in methods:
            if m == "l1_subgradient":
                model = mlp(sizes, activation, l1=lam, seed=seed)
                opt = SGD(model.parameters, lr=lr)
            elif m == "l1_proximal":
                model = mlp(sizes, activation, seed=seed)
                opt = SGD(model.parameters, lr=lr, l1_prox=lam, l1_params=model.weights)
            else:
                model = mlp(sizes, activation, l2=lam, seed=seed)
                opt = SGD(model.parameters, lr=lr)
            train(
                model,
                (X, y),
                epochs=epochs,
                batch_size=batch_size,
                optimizer=opt,
                seed=seed,
                progress=False,
            )
            out[m]["fraction_zero"].append(fraction_zero(model))
            out[m]["test_error"].append(model.error(*test_data))
            out[m]["weights"] = np.concatenate([W.value.ravel() for W in model.weights])
    return out


def critical_points(
    model: Model,
    X: Any,
    y: Any,
    starts: Sequence[Any],
    *,
    max_iter: int = 60,
    grad_tol: float = 1e-9,
) -> list[dict[str, Any]]:
    """Run Newton's method on grad(theta) = 0 from each start theta (a parameter vector); keep
    the critical points it converges to, with their Hessian spectrum.

    Step: delta = -H^+ grad (least squares: H may be singular), halved until ||grad||
    decreases (delta is a descent direction of ||grad||^2 / 2, whose gradient is H grad).
    Newton's method is attracted to critical points of every kind, saddles included (Dauphin
    et al. 2014): exactly what is needed to find them. Returns one dict per converged start:
    loss, grad_norm, n_negative, n_zero, n_positive, index, kind, eigenvalues, theta, start.
    """
    found = []
    if model.dtype != np.float64:
        model = to_float64(model)
    obj = objective(model, X, y)
    try:
        for s, theta0 in enumerate(starts):
            theta = np.asarray(theta0, dtype=np.float64).copy()
            g = obj.grad(theta)
            gn = float(np.linalg.norm(g))
            for _ in range(max_iter):
                if gn < grad_tol or not np.isfinite(gn):
                    break
                H, _ = objective_hessian(obj, "exact", 0.0, "critical_points")
                delta = -np.linalg.lstsq(H, g, rcond=1e-12)[0]
                t = 1.0
                while t > 1e-6:
                    g_new = obj.grad(theta + t * delta)
                    gn_new = float(np.linalg.norm(g_new))
                    if gn_new < gn:
                        break
                    t *= 0.5
                else:
                    break
                theta, g, gn = theta + t * delta, g_new, gn_new
            if gn < grad_tol * 100:
                obj.set(theta)
                spec = spectrum(model, X, y)
                d = spec.to_dict()
                d.update(theta=theta, start=s)
                found.append(d)
    finally:
        obj.restore()
    return found
