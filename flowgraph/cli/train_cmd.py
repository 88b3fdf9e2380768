"""``flowgraph train``: the main job, end to end; ``flowgraph evaluate`` is registered here too.

``train`` parses its options and hands them to the training recipe
(:mod:`flowgraph.training.recipe`: data split stratified from ``--seed``, the preprocessing
fitted on the training part only, the lecture's MLP

    a(k) = b(k) + W(k) h(k-1),  h(k) = g(a(k)),  f(x) = softmax(a(L+1)),

trained on 1/T sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)| with SGD
(momentum beta, decreasing rate alpha_t, early stopping on the validation error; or another
``--optimizer``), then prints a summary and has :mod:`flowgraph.training.outputs` write
model.npz, metrics.json, curves.png, graph.svg and, for 2-D sets, boundary.png. A signal at any
moment leaves a whole run (its manifest written) or one ``--resume`` completes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ..datasets import is_data_file
from ..errors import FlowgraphError
from ..optim import OPTIMIZERS
from ..plots import plot_decision_boundary
from ..training.defaults import (
    DECAY,
    INITS,
    LR_BY_OPTIMIZER,
    RUN_DEFAULTS,
    TWO_D,
    TWO_D_LR,
    TWO_D_SAMPLES,  # fmt: skip
)
from ..training.outputs import errors_of, stop_note, write_outputs
from ..training.recipe import (
    AUGMENT,
    CHOICES,
    DTYPES,
    PREPROCESS,
    RUN_OPTIONS,
    SCHEDULES,
    ignored_options,  # fmt: skip
    resolve,
)
from ..training.resources import blas_threads
from ..training.resume_file import RESUME
from ..training.run import Run, prepare, resume_point, train_run
from ..training.signals import StopFlag
from . import evaluate_cmd
from .args import (
    check_out_dir,
    fraction,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)


def _width(text: str) -> int:
    """A hidden width for --hidden: a whole number >= 1, or none / 0 for no hidden layer."""
    if text.strip().lower() in ("none", "0"):
        return 0
    return positive_int(text)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an MLP with SGD (default: digits, 2 x 100 tanh units) and save it",
        description="Train the lecture's multilayer network with SGD, momentum, a decreasing "
        "learning rate, L2/L1 penalties and early stopping on the validation error. Prints a "
        "progress bar and a summary; writes model.npz, metrics.json, curves.png, graph.svg "
        "and (2-D sets) boundary.png to --out. Ctrl-C stops at the end of the batch and keeps "
        "the best model so far.",
    )
    _add_data_arguments(p)
    _add_network_arguments(p)
    _add_training_arguments(p)
    _add_run_arguments(p)
    p.set_defaults(run=run_train)

    evaluate_cmd.add_parser(sub)


def _add_data_arguments(p) -> None:
    """--dataset, the split, the preprocessing."""
    data = p.add_argument_group("data")
    data.add_argument(
        "--dataset", default=None, metavar="NAME",
        help="digits, moons, circles, spirals, xor, blobs or mnist (default: digits)",
    )  # fmt: skip
    data.add_argument(
        "--data", default=None, metavar="FILE",
        help="your own data instead of --dataset: FILE.csv (a header row; the label column is "
        "--label, default the last; the other columns are numbers) or FILE.npz (arrays X and "
        "y, or --features and --label); labels may be names",
    )  # fmt: skip
    data.add_argument("--label", default=None, metavar="NAME",
                      help="--data: the label column (CSV) or array (NPZ)")
    data.add_argument("--features", default=None, metavar="NAME",
                      help="--data FILE.npz: the feature array (default X)")
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
        "--valid", type=fraction, default=None, metavar="FRAC",
        help="fraction held out for validation / early stopping (default 0.15)",
    )  # fmt: skip
    data.add_argument(
        "--test", type=fraction, default=None, metavar="FRAC",
        help="fraction held out for the test error (default 0.15; MNIST uses its test set)",
    )  # fmt: skip
    data.add_argument(
        "--preprocess", choices=PREPROCESS, default=None,
        help="inputs: standardize (fitted on the training part), scale (digits: x / 16), none; "
        "auto = standardize, except scale for digits and none for MNIST",
    )  # fmt: skip
    data.add_argument(
        "--augment", choices=AUGMENT, default=None,
        help="shifts: add 4 copies of each training image moved by one pixel (up, down, left, "
        "right); auto = shifts for digits, none otherwise",
    )  # fmt: skip


def _add_network_arguments(p) -> None:
    """--hidden, --init, --activation, the penalties, --dtype."""
    d = RUN_DEFAULTS
    net = p.add_argument_group("network")
    net.add_argument(
        "--hidden", type=_width, nargs="*", default=None, metavar="H",
        help="hidden layer widths H_1 .. H_L (default: 100 100; none or 0 for softmax "
        "regression)",
    )  # fmt: skip
    net.add_argument(
        "--init", choices=list(INITS), default=None,
        help="initial weights: glorot (U[-b, b], b = sqrt(6 / (fan_in + fan_out))), normal, "
        "constant or zeros (the lecture's symmetry demonstration: every unit stays the same)",
    )  # fmt: skip
    net.add_argument(
        "--activation", choices=CHOICES["activation"], default=None,
        help="hidden unit g (default tanh)",
    )  # fmt: skip
    net.add_argument(
        "--l2",
        type=nonnegative_float,
        default=None,
        help=f"lambda of sum_k ||W(k)||^2 (default {d['l2']:g})",
    )
    net.add_argument("--l1", type=nonnegative_float, default=None, help="lambda of |W|")
    net.add_argument(
        "--l1-prox", type=nonnegative_float, default=None, metavar="LAMBDA",
        help="L1 by the proximal step after each update, w <- sign(w) max(|w| - alpha_t "
        "lambda, 0): weights become exactly 0 (the weights only, never the biases)",
    )  # fmt: skip
    net.add_argument("--dtype", choices=DTYPES, default=None, help="float32 (default) or float64")
    net.add_argument("--dropout", type=nonnegative_float, default=None, metavar="P",
                     help="inverted dropout with probability P after each hidden layer")
    net.add_argument("--batch-norm", action="store_true",
                     help="batch norm of each hidden layer's a(k) (running statistics saved)")


def _add_training_arguments(p) -> None:
    """--lr, --momentum, the optimizer, the schedule, batches, epochs, patience."""
    d = RUN_DEFAULTS
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
        "--schedule", choices=list(SCHEDULES), default=None,
        help="alpha_t: constant, inverse = alpha / (1 + delta t), power = alpha / t^delta",
    )  # fmt: skip
    sgd.add_argument(
        "--decay", type=nonnegative_float, default=None, metavar="DELTA",
        help=f"delta of the schedule (default {DECAY['inverse']:g} for inverse, "
        f"{DECAY['power']:g} for power)",
    )  # fmt: skip
    sgd.add_argument(
        "--warmup", type=nonnegative_int, default=None, metavar="N",
        help="first N updates at the fixed rate alpha",
    )  # fmt: skip
    sgd.add_argument(
        "--batch-size", type=positive_int, default=None,
        help=f"examples per update (1 = per-example SGD; default {d['batch_size']})",
    )  # fmt: skip
    sgd.add_argument(
        "--epochs", type=positive_int, default=None,
        help=f"at most, in all (default {d['epochs']}; with --resume, the run's own)",
    )  # fmt: skip
    sgd.add_argument(
        "--patience", type=nonnegative_int, default=None,
        help=f"early stopping look-ahead in epochs (default {d['patience']}; 0 = none)",
    )  # fmt: skip


def _add_run_arguments(p) -> None:
    """--seed, --out, progress, --threads, --resume."""
    run_ = p.add_argument_group("run")
    run_.add_argument(
        "--seed", type=nonnegative_int, default=None,
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
        "--threads", type=nonnegative_int, default=1, metavar="N",
        help="BLAS threads (default 1, about twice as fast as more for these small products; "
        "0: the library's own choice)",
    )  # fmt: skip
    run_.add_argument(
        "--resume", default=None, metavar="DIR",
        help=f"continue the run in DIR from its last finished epoch ({RESUME}, written after "
        "every epoch), up to --epochs in all; every other option is that run's own. The result "
        "is that of one uninterrupted run, bit for bit",
    )  # fmt: skip


def _add_optimizer_arguments(p) -> None:
    o = p.add_argument_group(
        "optimizer", "the update rule (flowgraph.optim: torch.optim's rules and option defaults)"
    )
    o.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=None,
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


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run's options the command line gave (None: not given; the recipe's default)."""
    return {k: getattr(args, k) for k in RUN_OPTIONS
            if getattr(args, k, None) is not None and getattr(args, k) is not False}  # fmt: skip


def data_option(args: argparse.Namespace, given: dict[str, Any]) -> None:
    """``--data FILE`` in ``given`` as the dataset it stands for (train and search)."""
    from . import UsageError

    if args.data is None:
        return
    if args.dataset is not None:
        raise UsageError("give --dataset NAME or --data FILE, not both")
    if not is_data_file(args.data):
        raise UsageError(f"--data takes a .csv or .npz file, got {args.data!r}")
    given["dataset"] = args.data


def _configure(args: argparse.Namespace) -> tuple[dict[str, Any], dict | None, Path]:
    """The run's configuration, where a resumed one stood, and its folder."""
    given = given_options(args)
    data_option(args, given)
    if args.resume is None:
        out = Path(args.out) if args.out else Path("runs") / datetime.now().strftime(
            "%Y%m%d-%H%M%S")  # fmt: skip
        check_out_dir(out)  # a bad --out is one line now, not a traceback after the training
        for note in ignored_options(given):
            print(f"flowgraph train: warning: {note}", file=sys.stderr)
        return resolve(given), None, out
    out = Path(args.resume)
    elsewhere = args.out is not None and Path(args.out).resolve() != out.resolve()
    config, point = resume_point(out, given, [f"--out {args.out}"] if elsewhere else [])
    return config, point, out


def run_train(args: argparse.Namespace) -> int:
    with StopFlag() as stop, blas_threads(args.threads):  # a signal from here on: see below
        config, point, out = _configure(args)
        run = prepare(config, out, point)
        if stop.set:  # before the first step: nothing learnt, nothing to keep
            raise KeyboardInterrupt
        _print_header(run, args.resume)
        train_run(run, progress=not args.no_progress)
        errors = errors_of(run)  # raw data: the model applies its preprocessing
        print()
        print(_table([(k, errors[k]) for k in ("train", "valid", "test")]))
        print(f"epochs {len(run.history)} (best {run.history.best_epoch}, {stop_note(run)}), "
              f"{run.seconds:.1f} s", flush=True)  # fmt: skip
        # a signal while the outputs are written waits for them: the run is whole after all
        written = write_outputs(run, errors, pictures=[_graph_svg, _boundary_png])
    if run.history.interrupted:
        print(f"interrupted (Ctrl-C or SIGTERM) in epoch {len(run.history)}: kept the best model "
              f"so far (epoch {run.history.best_epoch}) and wrote every output")  # fmt: skip
    elif stop.set:
        print("stopped (Ctrl-C or SIGTERM) after the training: wrote every output first")
    print(f"wrote {out}/: {', '.join(written)}")
    if run.diverged is not None:
        print(f"flowgraph train: error: {run.diverged}; every output was written", file=sys.stderr)
        return 1
    return 130 if run.history.interrupted or stop.set else 0


def _print_header(run: Run, resume: str | None) -> None:
    c, info, parts = run.config, run.info, run.parts
    counts = "  /  ".join(f"{len(parts[k][1])} {k}" for k in ("train", "valid", "test"))
    if c["augment"] == "shifts":
        counts += f"; trained on {len(run.fit_data[1])} with shifted copies"
    sizes = [parts["train"][0].shape[1], *c["hidden"], info["n_classes"]]
    print(f"{info['name']}: {info['n_samples']} examples ({counts}), {info['n_classes']} classes")
    if info.get("classes"):
        names = ", ".join(f"{k}={name}" for k, name in enumerate(info["classes"]))
        print(f"classes {names[:200]}{'...' * (len(names) > 200)}")
    print(f"network {' -> '.join(map(str, sizes))}, {c['activation']}, l2 = {c['l2']:g}"
          + (f", l1 = {c['l1']:g}" if c["l1"] else ""))  # fmt: skip
    print(f"{run.optimizer!r}, batch size {c['batch_size']}", flush=True)
    if run.resumed:
        print(f"resuming {resume} after epoch {run.state.epoch} of {c['epochs']}", flush=True)


def _table(rows: list[tuple[str, float]]) -> str:
    lines = ["          error   accuracy"]
    lines += [f"{name:<8}{err:8.4f}   {1 - err:8.4f}" for name, err in rows]
    return "\n".join(lines)


def _graph_svg(run: Run, out: Path) -> str | None:
    """graph.svg: the trained model's graph; None (and why, printed) when it cannot be drawn."""
    try:
        from ..render import render
    except ImportError as e:
        why: str | None = f"the rendering module is not available ({e})"
    else:
        why = None
        if shutil.which("dot") is None:
            why = "Graphviz's `dot` is not on PATH (sudo apt-get install graphviz)"
        else:
            try:
                render(run.model.graph, out / "graph.svg")
            except (FlowgraphError, OSError) as e:
                why = str(e)
    if why:
        print(f"graph.svg skipped: {why}")
        return None
    return "graph.svg"


def _boundary_png(run: Run, out: Path) -> str | None:
    """boundary.png: the decision regions of a 2-D set, with its raw points."""
    if run.info["name"] not in TWO_D and not (run.info.get("classes") and
                                               run.info["n_features"] == 2):  # fmt: skip
        return None
    (X, y), (Xt, yt) = run.parts["train"], run.parts["test"]
    plot_decision_boundary(run.model, X, y, out / "boundary.png", X_test=Xt, y_test=yt,
                           title=f"{run.info['name']}: decision regions")  # fmt: skip
    return "boundary.png"
