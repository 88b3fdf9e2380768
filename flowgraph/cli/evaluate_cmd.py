"""``flowgraph evaluate``: a saved model's error, accuracy and confusion matrix.

The model is fed raw data and applies its own preprocessing (saved with it). Without
``--feed``, the test split it was trained with is re-created from its metadata (the recipe's
:func:`~flowgraph.training.recipe.load_parts`, the same as ``flowgraph train``'s).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..io import ModelFileError
from ..model import MLP
from ..plots import confusion_matrix, format_confusion, plot_confusion
from ..training.recipe import load_parts
from . import UsageError
from .args import check_out_file
from .model_args import add_model_arguments, feed_for, load


def add_parser(sub) -> None:
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
    add_model_arguments(e)  # --boxes, --feed: a model of any graph, on arrays of your own
    e.set_defaults(run=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:

    path = Path(args.model)
    if not path.is_file():
        raise UsageError(f"no model file at {path}")
    if args.plot is not None:  # before the work: a bad --plot is one line, now
        check_out_file(args.plot, "--plot")
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
    parts, info = load_parts(dataset, data_dir, split)
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
    names = meta.get("classes")  # a data file's own labels, in the order of the classes
    print(format_confusion(M, names if isinstance(names, list) and len(names) == n_classes
                           else None))  # fmt: skip
    if args.plot:
        plot_confusion(M, args.plot, title=f"{info['name']} ({args.split}): error {error:.4f}")
        print(f"wrote {args.plot}")
    return 0


def _evaluate_feed(model, path: Path, args: argparse.Namespace) -> int:
    """``evaluate --feed DATA.npz``: the loss of any model on the arrays, and for a classifier
    its error and confusion matrix."""

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
