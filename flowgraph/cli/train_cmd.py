"""``flowgraph train`` and ``flowgraph evaluate``: the main job, end to end.

``train`` loads a data set, splits it into training / validation / test parts (stratified,
from ``--seed``), fits the preprocessing on the training part only, builds the lecture's MLP

    a(k) = b(k) + W(k) h(k-1),  h(k) = g(a(k)),  f(x) = softmax(a(L+1)),

minimises 1/T sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)| with SGD
(momentum beta, decreasing rate alpha_t, early stopping on the validation error; or another
``--optimizer``: nesterov, adagrad, rmsprop, adam, adamw), prints a
summary and writes model.npz, metrics.json, curves.png, graph.svg and, for 2-D sets,
boundary.png. ``evaluate`` re-creates the same test split from the model's metadata and
prints the error, the accuracy and the confusion matrix.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..callbacks import CSVLogger
from ..defaults import (
    DECAY,
    HYPERPARAMETERS,
    LR_BY_OPTIMIZER,
    MOMENTUM_BY_OPTIMIZER,
    SPLIT,
    TWO_D,
    TWO_D_LR,
    TWO_D_SAMPLES,
    augment_for,
    lr_for,
)
from ..model.preprocessing import Preprocessing
from ..optim import SCHEDULES
from ..train import Callback
from .args import (
    check_out_dir,
    fraction,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)

# Defaults of `flowgraph train`: flowgraph.defaults, shared with `flowgraph search`
_H = HYPERPARAMETERS
DEFAULTS = {
    "dataset": "digits",
    **{k: _H[k] for k in ("activation", "lr", "momentum", "schedule", "warmup", "l2", "l1",
                          "batch_size", "epochs", "patience")},  # fmt: skip
    "hidden": list(_H["hidden"]),
    "decay": None,  # per schedule: DECAY
    "optimizer": _H["optimizer"],  # and lr, momentum by optimizer when not given
    "seed": 0,
    "dtype": "float32",
    **SPLIT,
    "preprocess": "auto",
    "augment": "auto",
}
PREPROCESS = ("auto", "standardize", "scale", "none")
INITS = {"glorot": "glorot_uniform", "normal": "normal", "constant": "constant", "zeros": "zeros"}
MANIFEST = "manifest.json"  # written last: the run's files are complete once it exists
RESUME = "resume.npz"  # where a run stands after its last finished epoch (--resume DIR)
RESUME_FORMAT = "flowgraph-resume"
AUGMENT = ("auto", "shifts", "none")


def _width(text: str) -> int:
    """A hidden width for --hidden: a whole number >= 1, or none / 0 for no hidden layer."""
    if text.strip().lower() in ("none", "0"):
        return 0
    return positive_int(text)


def _warn_ignored(args: argparse.Namespace) -> None:
    """Say so when an option given has no effect, rather than silently dropping it."""
    import sys

    notes = []
    if args.schedule == "constant" and args.decay is not None:
        notes.append("--decay is ignored with --schedule constant (alpha_t = alpha)")
    if args.schedule == "constant" and args.warmup:
        notes.append("--warmup is ignored with --schedule constant (every update uses alpha)")
    if args.l1 and args.l1_prox:
        notes.append("--l1 and --l1-prox both penalise |W|: the penalty is applied twice")
    for note in notes:
        print(f"flowgraph train: warning: {note}", file=sys.stderr)


def add_parser(sub) -> None:
    from ..model.mlp import ACTIVATIONS

    d = DEFAULTS
    p = sub.add_parser(
        "train",
        help="train an MLP with SGD (default: digits, 2 x 100 tanh units) and save it",
        description="Train the lecture's multilayer network with SGD, momentum, a decreasing "
        "learning rate, L2/L1 penalties and early stopping on the validation error. Prints a "
        "progress bar and a summary; writes model.npz, metrics.json, curves.png, graph.svg "
        "and (2-D sets) boundary.png to --out. Ctrl-C stops at the end of the batch and keeps "
        "the best model so far.",
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", default=d["dataset"], metavar="NAME",
        help="digits, moons, circles, spirals, xor, blobs or mnist (default: digits)",
    )  # fmt: skip
    data.add_argument("--data-dir", default=None, metavar="DIR", help="directory of MNIST files")
    data.add_argument(
        "--n-samples", type=positive_int, default=None, metavar="N",
        help=f"examples to generate for a 2-D set (default {TWO_D_SAMPLES}) or to draw from "
        "digits/MNIST (default: all)",
    )  # fmt: skip
    data.add_argument(
        "--noise", type=nonnegative_float, default=None, metavar="SIGMA",
        help="standard deviation of the noise of a 2-D set (default: the set's own)",
    )  # fmt: skip
    data.add_argument(
        "--valid", type=fraction, default=d["valid"], metavar="FRAC",
        help="fraction held out for validation / early stopping (default 0.15)",
    )  # fmt: skip
    data.add_argument(
        "--test", type=fraction, default=d["test"], metavar="FRAC",
        help="fraction held out for the test error (default 0.15; MNIST uses its test set)",
    )  # fmt: skip
    data.add_argument(
        "--preprocess", choices=PREPROCESS, default=d["preprocess"],
        help="inputs: standardize (fitted on the training part), scale (digits: x / 16), none; "
        "auto = standardize, except scale for digits and none for MNIST",
    )  # fmt: skip
    data.add_argument(
        "--augment", choices=AUGMENT, default=d["augment"],
        help="shifts: add 4 copies of each training image moved by one pixel (up, down, left, "
        "right); auto = shifts for digits, none otherwise",
    )  # fmt: skip
    net = p.add_argument_group("network")
    net.add_argument(
        "--hidden", type=_width, nargs="*", default=d["hidden"], metavar="H",
        help="hidden layer widths H_1 .. H_L (default: 100 100; none or 0 for softmax "
        "regression)",
    )  # fmt: skip
    net.add_argument(
        "--init", choices=list(INITS), default="glorot",
        help="initial weights: glorot (U[-b, b], b = sqrt(6 / (fan_in + fan_out))), normal, "
        "constant or zeros (the lecture's symmetry demonstration: every unit stays the same)",
    )  # fmt: skip
    net.add_argument(
        "--activation", choices=list(ACTIVATIONS), default=d["activation"],
        help="hidden unit g (default tanh)",
    )  # fmt: skip
    net.add_argument(
        "--l2",
        type=nonnegative_float,
        default=d["l2"],
        help=f"lambda of sum_k ||W(k)||^2 (default {d['l2']:g})",
    )
    net.add_argument("--l1", type=nonnegative_float, default=d["l1"], help="lambda of |W|")
    net.add_argument(
        "--l1-prox", type=nonnegative_float, default=0.0, metavar="LAMBDA",
        help="L1 by the proximal step after each update, w <- sign(w) max(|w| - alpha_t "
        "lambda, 0): weights become exactly 0 (the weights only, never the biases)",
    )  # fmt: skip
    net.add_argument("--dtype", choices=["float32", "float64"], default=d["dtype"])
    sgd = p.add_argument_group("training")
    sgd.add_argument(
        "--lr", type=positive_float, default=None,
        help="alpha; the default depends on --optimizer: "
        + ", ".join(f"{k} {v:g}" for k, v in LR_BY_OPTIMIZER.items())
        + f" (tuned on digits; torch.optim's are 0.01 for adagrad and rmsprop, 0.001 for adam); "
        f"sgd and nesterov take {TWO_D_LR:g} on the 2-D sets, where a large step keeps a "
        "100 x 100 network at a straight boundary",
    )  # fmt: skip
    sgd.add_argument(
        "--momentum", type=nonnegative_float, default=None, metavar="BETA",
        help="beta of grad_bar = grad + beta grad_bar (default 0.9 for sgd and nesterov, 0 for "
        "rmsprop; --momentum 0 --optimizer sgd is plain SGD; adagrad and adam take none)",
    )  # fmt: skip
    _add_optimizer_arguments(p)
    sgd.add_argument(
        "--schedule", choices=list(SCHEDULES), default=d["schedule"],
        help="alpha_t: constant, inverse = alpha / (1 + delta t), power = alpha / t^delta",
    )  # fmt: skip
    sgd.add_argument(
        "--decay", type=nonnegative_float, default=None, metavar="DELTA",
        help=f"delta of the schedule (default {DECAY['inverse']:g} for inverse, "
        f"{DECAY['power']:g} for power)",
    )  # fmt: skip
    sgd.add_argument(
        "--warmup", type=nonnegative_int, default=d["warmup"], metavar="N",
        help="first N updates at the fixed rate alpha",
    )  # fmt: skip
    sgd.add_argument(
        "--batch-size", type=positive_int, default=d["batch_size"],
        help=f"examples per update (1 = per-example SGD; default {d['batch_size']})",
    )  # fmt: skip
    sgd.add_argument(
        "--epochs", type=positive_int, default=None,
        help=f"at most, in all (default {d['epochs']}; with --resume, the run's own)",
    )  # fmt: skip
    sgd.add_argument(
        "--patience", type=nonnegative_int, default=d["patience"],
        help=f"early stopping look-ahead in epochs (default {d['patience']}; 0 = none)",
    )  # fmt: skip
    run_ = p.add_argument_group("run")
    run_.add_argument(
        "--seed", type=nonnegative_int, default=d["seed"],
        help="seed of the split, the initial weights and the order of examples (default 0)",
    )  # fmt: skip
    run_.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default runs/<timestamp>)"
    )
    run_.add_argument(  # the same flags as flowgraph search
        "--no-progress", "-q", "--quiet", dest="no_progress", action="store_true",
        help="no progress bar",
    )  # fmt: skip
    run_.add_argument(
        "--resume", default=None, metavar="DIR",
        help=f"continue the run in DIR from its last finished epoch ({RESUME}, written after "
        "every epoch), up to --epochs in all; every other option is that run's own. The result "
        "is that of one uninterrupted run, bit for bit",
    )  # fmt: skip
    p.set_defaults(run=run_train)

    e = sub.add_parser(
        "evaluate",
        help="error, accuracy and confusion matrix of a saved model on its test split",
        description="Load MODEL (a model.npz written by `flowgraph train` or `search`), "
        "re-create the test split it was trained with (or that of --dataset), feed it to the "
        "model, which applies its own preprocessing, and print the error, the accuracy and the "
        "confusion matrix. With --feed, the arrays are raw data too.",
    )
    e.add_argument("model", metavar="MODEL", help="a model.npz from flowgraph train")
    e.add_argument(
        "--dataset", default=None, metavar="NAME",
        help="data set to evaluate on (default: the one the model was trained on)",
    )  # fmt: skip
    e.add_argument("--data-dir", default=None, metavar="DIR", help="directory of MNIST files")
    e.add_argument(
        "--split", choices=["test", "valid", "train"], default="test",
        help="which part of the split to evaluate (default test)",
    )  # fmt: skip
    e.add_argument("--plot", default=None, metavar="PNG", help="also draw the confusion matrix")
    from .model_args import add_model_arguments

    add_model_arguments(e)  # --boxes, --feed: a model of any graph, on arrays of your own
    e.set_defaults(run=run_evaluate)


def _add_optimizer_arguments(p) -> None:
    from ..optim import OPTIMIZERS

    o = p.add_argument_group(
        "optimizer", "the update rule (flowgraph.optim: torch.optim's rules and option defaults)"
    )
    o.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"],
        help="sgd (the lecture's, with --momentum), nesterov (SGD with Nesterov momentum), "
        "adagrad, rmsprop, adam, adamw (Adam with decoupled weight decay); default sgd. "
        "Each takes only its own options below.",
    )  # fmt: skip
    o.add_argument("--beta1", type=nonnegative_float, default=None,
                   help="adam, adamw: decay of the gradient's average m (default 0.9)")
    o.add_argument("--beta2", type=nonnegative_float, default=None,
                   help="adam, adamw: decay of the squared gradient's average v (default 0.999)")
    o.add_argument("--rho", type=nonnegative_float, default=None,
                   help="rmsprop: decay of the squared gradient's average (torch's alpha; "
                   "default 0.99)")
    o.add_argument("--eps", type=nonnegative_float, default=None,
                   help="adagrad, rmsprop, adam, adamw: added to sqrt(v) (default 1e-10 for "
                   "adagrad, 1e-8 for the others)")
    o.add_argument("--weight-decay", type=nonnegative_float, default=None, metavar="LAMBDA",
                   help="adds LAMBDA theta to grad (every parameter, biases too; --l2 penalises "
                   "the weights in the graph instead); adamw: the decoupled decay "
                   "theta *= 1 - alpha_t LAMBDA (default 0, adamw 0.01)")
    o.add_argument("--dampening", type=nonnegative_float, default=None,
                   help="sgd: grad_bar = (1 - d) grad + beta grad_bar (default 0)")
    o.add_argument("--centered", action="store_true",
                   help="rmsprop: divide by the gradient's estimated standard deviation")
    o.add_argument("--amsgrad", action="store_true",
                   help="adam, adamw: use the largest v so far (AMSGrad)")  # fmt: skip


_OPTIMIZER_FLAGS = ("beta1", "beta2", "rho", "eps", "weight_decay", "dampening")


def _optimizer_config(args: argparse.Namespace) -> dict[str, Any]:
    """The optimizer, its rate and the options given, with each default resolved."""
    name = args.optimizer
    config: dict[str, Any] = {
        "optimizer": name,
        "lr": args.lr if args.lr is not None else lr_for(args.dataset, name),
        "momentum": args.momentum if args.momentum is not None else MOMENTUM_BY_OPTIMIZER.get(name),
    }
    config.update({k: getattr(args, k) for k in _OPTIMIZER_FLAGS if getattr(args, k) is not None})
    config.update({k: True for k in ("centered", "amsgrad") if getattr(args, k)})
    return config


def _make_optimizer(config: dict[str, Any], parameters, schedule, **shared: Any):
    """The optimizer of ``config``; an option it does not take is a usage error naming it."""
    from ..optim import OPTIONS, make_optimizer
    from . import UsageError

    name = config["optimizer"]
    options = {k: config.get(k) for k in ("momentum", *_OPTIMIZER_FLAGS, "centered", "amsgrad")}
    wrong = [k for k, v in options.items() if v is not None and k not in OPTIONS[name]]
    if wrong:
        flags = lambda ks: ", ".join("--" + k.replace("_", "-") for k in ks)  # noqa: E731
        raise UsageError(
            f"--optimizer {name} does not take {flags(wrong)}; it takes {flags(OPTIONS[name])}"
        )
    try:
        return make_optimizer(name, parameters, schedule, **shared, **options)
    except ValueError as e:
        raise UsageError(str(e)) from None


# -- data ---------------------------------------------------------------------------------------


def _load_parts(
    dataset: str, data_dir: str | None, split: dict[str, Any]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Raw (X, y) for train / valid / test, reproducibly from ``split`` (valid, test, seed, and
    for generated sets n_samples and noise).

    MNIST keeps its official test set and takes the validation part from its training set."""
    from .. import datasets
    from . import UsageError

    name = dataset.strip().lower()
    if name not in datasets.DATASETS:
        raise UsageError(
            f"unknown dataset {dataset!r}; choose one of {', '.join(datasets.DATASETS)}"
        )
    if name != "mnist" and data_dir is not None:
        raise UsageError(f"--data-dir is for mnist; {name} needs no files")
    X, y, info = datasets.get_dataset(
        name, data_dir=data_dir, seed=split["seed"], n_samples=split.get("n_samples"),
        noise=split.get("noise"),
    )  # fmt: skip
    if name == "mnist":
        start = info["test_start"]
        train, valid, _ = datasets.split(
            X[:start], y[:start], valid=split["valid"], test=0.0, seed=split["seed"]
        )
        parts = {"train": train, "valid": valid, "test": (X[start:], y[start:])}
    else:
        train, valid, test = datasets.split(
            X, y, valid=split["valid"], test=split["test"], seed=split["seed"]
        )
        parts = {"train": train, "valid": valid, "test": test}
    empty = [k for k, (_, yk) in parts.items() if len(yk) == 0]
    if empty:  # found now, not as a NaN error after the training
        raise UsageError(
            f"{name} has {len(y)} examples: its {' and '.join(empty)} split would be empty "
            f"(--valid {split['valid']}, --test {split['test']}); use larger fractions"
        )
    return parts, info


# -- train --------------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.lr is None:
        args.lr = lr_for(args.dataset, args.optimizer)
    decay = DECAY[args.schedule] if args.decay is None else args.decay
    return {
        "dataset": args.dataset.strip().lower(),
        "data_dir": args.data_dir,
        "hidden": [h for h in args.hidden if h],  # none / 0: no hidden layer
        "activation": args.activation,
        "l2": args.l2,
        "l1": args.l1,
        "l1_prox": args.l1_prox,
        "init": args.init,
        "dtype": args.dtype,
        **_optimizer_config(args),
        "schedule": args.schedule,
        "decay": decay,
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "patience": args.patience,
        "seed": args.seed,
        "valid": args.valid,
        "test": args.test,
        "preprocess": args.preprocess,
        "augment": args.augment,
    }


def _table(rows: list[tuple[str, float]]) -> str:
    lines = ["          error   accuracy"]
    lines += [f"{name:<8}{err:8.4f}   {1 - err:8.4f}" for name, err in rows]
    return "\n".join(lines)


def run_train(args: argparse.Namespace) -> int:
    from .. import optim
    from ..model import mlp
    from ..train import DivergenceError, EarlyStopping, TrainState, train
    from . import UsageError

    point = None
    if args.resume is not None:  # the run's own options, its parameters and where it stood
        point = read_resume_point(Path(args.resume))
        epochs = args.epochs
        args = argparse.Namespace(**{**vars(args), **point["args"]})
        args.out, args.no_progress = args.resume, args.no_progress
        args.epochs = epochs if epochs is not None else point["args"]["epochs"]
        stopping = point["state"].get("stopping") or {}
        if args.patience and stopping.get("wait", 0) >= args.patience:
            raise UsageError(
                f"--resume {args.resume}: that run stopped early after epoch "
                f"{point['state']['epoch']} (no better validation error in {args.patience} "
                "epochs): there is nothing to continue"
            )
        if args.epochs <= point["state"]["epoch"]:
            raise UsageError(
                f"--resume {args.resume}: the run already has {point['state']['epoch']} epochs; "
                f"give --epochs above that (it was {point['args']['epochs']})"
            )
    if args.epochs is None:
        args.epochs = DEFAULTS["epochs"]

    if 0 in args.hidden and len(args.hidden) > 1:
        raise UsageError(f"--hidden {' '.join(map(str, args.hidden))}: none / 0 stands alone")
    config = _config(args)
    if config["momentum"] is not None and config["momentum"] >= 1:
        raise UsageError(f"--momentum must lie in [0, 1), got {args.momentum}")
    if args.valid + args.test >= 1:
        raise UsageError(f"--valid + --test must be below 1, got {args.valid + args.test:g}")
    if config["schedule"] == "power" and not (0.5 < config["decay"] <= 1):
        raise UsageError(f"--schedule power needs 0.5 < --decay <= 1, got {config['decay']:g}")
    out = Path(args.out) if args.out else Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
    check_out_dir(out)  # a bad --out is one line now, not a traceback after the training

    split = {"valid": args.valid, "test": args.test, "seed": args.seed}
    if args.n_samples is not None or config["dataset"] in TWO_D:
        split["n_samples"] = args.n_samples or TWO_D_SAMPLES
    if args.noise is not None:
        split["noise"] = args.noise
    _warn_ignored(args)
    parts, info = _load_parts(config["dataset"], args.data_dir, split)
    name = info["name"]
    augment = args.augment if args.augment != "auto" else augment_for(name)
    config["augment"] = augment
    if augment == "shifts" and not info["image_shape"]:
        raise UsageError(f"--augment shifts needs images; {name} is not an image set")
    preprocessing = Preprocessing.fit(
        parts["train"][0], args.preprocess, dataset=name,
        image_shape=info["image_shape"] if augment == "shifts" else None,
    )  # fmt: skip
    fit = preprocessing.augment(*parts["train"])  # shifted copies of the raw training images
    n_in, n_classes = parts["train"][0].shape[1], info["n_classes"]
    sizes = [n_in, *config["hidden"], n_classes]
    model = mlp(sizes, config["activation"], config["l2"], config["l1"], args.dtype, args.seed,
                weight_init=INITS[args.init])  # fmt: skip
    # the model owns its input pipeline: it is fed raw data from here on, saved with it
    model.preprocessing = preprocessing
    schedule = optim.make_schedule(config["schedule"], config["lr"], config["decay"], args.warmup)
    optimizer = _make_optimizer(
        config, model.parameters, schedule, l1_prox=args.l1_prox, l1_params=model.weights
    )
    stopper = EarlyStopping(args.patience) if args.patience else None
    counts = "  /  ".join(f"{len(parts[k][1])} {k}" for k in ("train", "valid", "test"))
    if augment == "shifts":
        counts += f"; trained on {len(fit[1])} with shifted copies"
    print(f"{name}: {info['n_samples']} examples ({counts}), {info['n_classes']} classes")
    print(f"network {' -> '.join(map(str, sizes))}, {config['activation']}, l2 = {config['l2']:g}"
          + (f", l1 = {config['l1']:g}" if config["l1"] else ""))  # fmt: skip
    print(f"{optimizer!r}, batch size {args.batch_size}", flush=True)

    # a run's files are whole only once its manifest is written, last; an older one goes first
    (out / MANIFEST).unlink(missing_ok=True)
    state = TrainState()
    if point is not None:
        model.load_state(point["params"])
        optimizer.load_state(point["optimizer"])
        state = TrainState.from_dict(point["state"], best_state=point["best"])
        print(f"resuming {args.out} after epoch {state.epoch} of {args.epochs}", flush=True)
    # one row per epoch as it trains: a killed run keeps it (a resumed one, its earlier rows)
    log = CSVLogger(out / "metrics.csv", history=state.history if point is not None else None)
    resume_point = _ResumePoint(out / RESUME, optimizer, state, _run_args(args))
    start = time.perf_counter()
    diverged = None
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as such below
        try:
            history = train(
                model, fit, parts["valid"], epochs=args.epochs,
                batch_size=args.batch_size, optimizer=optimizer, early_stopping=stopper,
                seed=args.seed, progress=not args.no_progress, callbacks=[resume_point, log],
                state=state,
            )  # fmt: skip
        except DivergenceError as e:  # the model holds the last good parameters: keep them
            if e.history is None:
                raise
            diverged, history = e, e.history
    seconds = time.perf_counter() - start
    errors = {k: model.error(*parts[k]) for k in ("train", "valid", "test")}  # raw data

    print()
    print(_table([(k, errors[k]) for k in ("train", "valid", "test")]))
    stop_note = (
        "diverged"
        if diverged is not None
        else f"stopped early: no better validation error in {args.patience} epochs"
        if history.stopped_early
        else "interrupted"
        if history.interrupted
        else "epoch limit"
    )
    print(f"epochs {len(history)} (best {history.best_epoch}, {stop_note}), {seconds:.1f} s")

    metrics = {
        **{f"{k}_accuracy": 1 - v for k, v in errors.items()},
        **{f"{k}_error": v for k, v in errors.items()},
        "epochs": len(history),
        "best_epoch": history.best_epoch,
        "seconds": seconds,
        "stopped_early": history.stopped_early,
        "interrupted": history.interrupted,
        "diverged": diverged is not None,
        "config": config,
        "dataset": info,
        "history": history.to_dict(),
    }
    metadata = {
        "dataset": name,
        "data_dir": args.data_dir,
        "split": split,
        "preprocessing": preprocessing.to_dict(),  # also the model's own, saved with it
        "n_classes": n_classes,
        "metrics": {k: metrics[k] for k in metrics if k not in ("history", "dataset")},
    }
    written = _write_outputs(out, model, history, metrics, metadata, parts, name)
    if (out / RESUME).is_file():
        written.append(RESUME)
    write_manifest(out, written, interrupted=history.interrupted, epochs=len(history),
                   diverged=diverged is not None)  # fmt: skip
    written.append(MANIFEST)
    if history.interrupted:
        print(
            f"interrupted (Ctrl-C or SIGTERM) in epoch {len(history)}: kept the best model so far "
            f"(epoch {history.best_epoch}) and wrote every output"
        )
    print(f"wrote {out}/: {', '.join(written)}")
    if diverged is not None:
        import sys

        print(f"flowgraph train: error: {diverged}; every output was written", file=sys.stderr)
        return 1
    return 130 if history.interrupted else 0


def _run_args(args: argparse.Namespace) -> dict[str, Any]:
    """The options that define a run (what --resume takes back), as JSON."""
    skip = {"run", "command", "resume", "out", "no_progress"}
    return {k: v for k, v in vars(args).items() if k not in skip}


class _ResumePoint(Callback):
    """After every epoch, ``resume.npz``: the current parameters, the optimiser's state, the
    TrainState (and early stopping's best parameters) and the run's options; no pickle."""

    def __init__(self, path: Path, optimizer: Any, state: Any, run_args: dict[str, Any]):
        self.path, self.optimizer, self.state, self.args = path, optimizer, state, run_args

    def on_epoch_end(self, model: Any, history: Any) -> bool:
        from .._atomic import atomic_write

        if self.state.epoch != history.epoch[-1]:  # an epoch cut short: keep the last point
            return False

        arrays = {f"param/{p.name}": p.value for p in model.parameters}
        for name, value in (self.state.best_state or {}).items():
            arrays[f"best/{name}"] = value
        opt = self.optimizer.state()
        buffers = {}
        for key, value in opt.items():
            if isinstance(value, list) and key != "names":
                buffers[key] = [a is not None for a in value]
                for i, a in enumerate(value):
                    if a is not None:
                        arrays[f"opt/{key}/{i}"] = a
        scalars = {k: v for k, v in opt.items() if k not in buffers}
        meta = {"format": RESUME_FORMAT, "version": 1, "args": self.args, "buffers": buffers,
                "state": self.state.to_dict(), "optimizer": scalars}  # fmt: skip
        arrays["__meta__"] = np.array(json.dumps(meta))
        atomic_write(self.path, lambda f: np.savez(f, **arrays), suffix=".npz")
        return False


def read_resume_point(folder: Path) -> dict[str, Any]:
    """What ``_ResumePoint`` wrote in ``folder``, checked; a bad file is one clear line."""
    from . import UsageError

    path = folder / RESUME
    if not path.is_file():
        raise UsageError(f"--resume {folder}: no {RESUME} there (written after each epoch of a "
                         "flowgraph train run)")  # fmt: skip
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["__meta__"]))
            arrays = {k: f[k] for k in f.files if k != "__meta__"}
        if meta.get("format") != RESUME_FORMAT or meta.get("version") != 1:
            raise ValueError("not a flowgraph resume point")
        opt = dict(meta["optimizer"])
        for key, present in meta["buffers"].items():
            opt[key] = [arrays[f"opt/{key}/{i}"] if has else None for i, has in enumerate(present)]
        best = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")} or None
        params = {k[6:]: v for k, v in arrays.items() if k.startswith("param/")}
        return {"args": meta["args"], "state": meta["state"], "optimizer": opt,
                "params": params, "best": best}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f"--resume {folder}: {RESUME} cannot be read ({e})") from None


def write_manifest(out: Path, names: list[str], **facts: Any) -> None:
    """``manifest.json``, written last: the run's files with their SHA-256, so that a reader
    never takes a mix of two runs or a half-written picture for a finished run."""
    import hashlib

    from .._atomic import atomic_write

    files = {}
    for name in names:
        data = (out / name).read_bytes()
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    doc = {"format": "flowgraph-run", "version": 1, "files": files, **facts}
    text = json.dumps(doc, indent=2)
    atomic_write(out / MANIFEST, lambda f: f.write(text.encode() + b"\n"))


def _write_outputs(out, model, history, metrics, metadata, parts, name) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.npz", metadata=metadata)
    from .._atomic import atomic_write

    text = json.dumps(metrics, indent=2, allow_nan=True)
    atomic_write(out / "metrics.json", lambda f: f.write(text.encode() + b"\n"))
    written = ["model.npz", "metrics.json", "metrics.csv"]
    history.plot(out / "curves.png", title=f"{name}: error per epoch")
    written.append("curves.png")
    skipped = _render_graph(model, out / "graph.svg")
    if skipped:
        print(f"graph.svg skipped: {skipped}")
    else:
        written.append("graph.svg")
    if name in TWO_D:
        from ..plots import plot_decision_boundary

        (X, y), (Xt, yt) = parts["train"], parts["test"]
        plot_decision_boundary(  # raw points: the model applies its preprocessing
            model, X, y, out / "boundary.png", X_test=Xt, y_test=yt,
            title=f"{name}: decision regions",
        )  # fmt: skip
        written.append("boundary.png")
    return written


def _render_graph(model, path: Path) -> str | None:
    """Draw the trained model's graph to ``path``; the reason when it cannot be drawn."""
    try:
        from ..render import render
    except ImportError as e:
        return f"the rendering module is not available ({e})"
    if shutil.which("dot") is None:
        return "Graphviz's `dot` is not on PATH (sudo apt-get install graphviz)"
    from ..errors import FlowgraphError

    try:
        render(model.graph, path)
    except (FlowgraphError, OSError) as e:
        return str(e)
    return None


# -- evaluate -----------------------------------------------------------------------------------


def run_evaluate(args: argparse.Namespace) -> int:
    from ..io import ModelFileError
    from ..model import MLP
    from ..plots import confusion_matrix, format_confusion, plot_confusion
    from . import UsageError
    from .model_args import load

    path = Path(args.model)
    if not path.is_file():
        raise UsageError(f"no model file at {path}")
    model = load(path, args)
    if args.feed is not None:
        return _evaluate_feed(model, path, args)
    meta = model.metadata
    split = meta.get("split")
    if not isinstance(split, dict):
        raise ModelFileError(
            f"{path} holds no dataset split in its metadata (was it written by `flowgraph "
            "train` or `search`?); pass --feed DATA.npz to evaluate it on arrays of your own"
        )
    if not (model.classifier and {i.name for i in model.inputs} == {"x", "y"}):
        raise UsageError(f"{path}: evaluating on a dataset needs a classifier of x and y: --feed")
    dataset = args.dataset or meta.get("dataset")
    if not dataset:
        raise UsageError(f"{path} does not name its dataset; pass --dataset")
    data_dir = args.data_dir if args.data_dir is not None else (
        meta.get("data_dir") if dataset == meta.get("dataset") else None
    )  # fmt: skip
    parts, info = _load_parts(dataset, data_dir, split)
    X, y = parts[args.split]
    n_in = model.parameters[0].value.shape[1] if isinstance(model, MLP) else X.shape[1]
    n_classes = model.n_classes if model.n_classes is not None else info["n_classes"]
    if X.shape[1] != n_in or info["n_classes"] > n_classes:
        raise UsageError(
            f"the model takes {n_in} inputs and {n_classes} classes; {info['name']} has "
            f"{X.shape[1]} features and {info['n_classes']} classes"
        )
    # raw data: the model applies its own preprocessing (saved with it)
    loss = model.loss_value(X, y)  # also refuses an empty split, NaN, bad labels
    pred = model.predict(X)
    M = confusion_matrix(y, pred, n_classes)
    error = 1 - np.trace(M) / M.sum()
    print(f"{path}: {info['name']}, {args.split} split of seed {split['seed']}: {len(y)} examples")
    print(f"error {error:.4f}   accuracy {1 - error:.4f}   loss {loss:.4f}")
    print(format_confusion(M))
    if args.plot:
        plot_confusion(M, args.plot, title=f"{info['name']} ({args.split}): error {error:.4f}")
        print(f"wrote {args.plot}")
    return 0


def _evaluate_feed(model, path: Path, args: argparse.Namespace) -> int:
    """``evaluate --feed DATA.npz``: the loss of any model on the arrays, and for a classifier
    its error and confusion matrix."""
    from ..plots import confusion_matrix, format_confusion, plot_confusion
    from . import UsageError
    from .model_args import feed_for

    arrays = feed_for(model, args.feed)
    result = model.evaluate(arrays)
    print(f"{path}: {result['examples']} examples of {args.feed}")
    if result["error"] is None:
        print(f"loss {result['loss']:.6g}")
        if args.plot:
            raise UsageError("--plot draws a confusion matrix: the model has no classifier output")
        return 0
    print(f"error {result['error']:.4f}   accuracy {1 - result['error']:.4f}   "
          f"loss {result['loss']:.6g}")  # fmt: skip
    P = model.predict_proba(arrays)
    M = confusion_matrix(np.asarray(arrays[model.labels.name]), P.argmax(axis=1), P.shape[1])
    print(format_confusion(M))
    if args.plot:
        plot_confusion(M, args.plot, title=f"{path.name}: error {result['error']:.4f}")
        print(f"wrote {args.plot}")
    return 0
