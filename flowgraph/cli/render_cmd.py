"""``flowgraph render``: draw a saved model's flow graph, optionally with values, gradients,
the fprop/bprop order and a gradient check, computed on a small batch of its dataset."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .._json import loads_bounded


def add_parser(sub) -> None:
    p = sub.add_parser(
        "render",
        help="draw a saved model's flow graph (SVG, PNG or PDF) with Graphviz",
        description="Draw the flow graph of MODEL.npz (written by `flowgraph train` or "
        "Model.save, any graph). With --values, --grads or --check, fprop and bprop run on a "
        "small batch first: of --feed DATA.npz (arrays named after the model's Inputs), or of "
        "the model's dataset (named in the model file or metrics.json beside it, or by "
        "--dataset) for a model with Inputs x and y. Exit status 1 when any check of --check "
        "fails (a box, or a parameter's gradient end to end).",
    )
    p.add_argument("model", metavar="MODEL.npz", help="a model file saved by flowgraph")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=None,
        help="picture to write; the suffix picks the format: .svg, .png, .pdf or .dot "
        "(default: MODEL with suffix .svg)",
    )
    p.add_argument("--values", action="store_true", help="show each node's value after fprop")
    p.add_argument("--grads", action="store_true", help="show each node's gradient after bprop")
    p.add_argument("--order", action="store_true", help="number boxes in fprop and bprop order")
    p.add_argument(
        "--check",
        action="store_true",
        help="check every box against finite differences and colour it pass/fail/kink",
    )
    p.add_argument("--no-shapes", action="store_true", help="do not label arrows with shapes")
    p.add_argument("--no-group", action="store_true", help="do not draw layers as clusters")
    p.add_argument(
        "--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"], help="layout direction"
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="dataset for the batch (default: the one the model file or metrics.json names)",
    )
    p.add_argument("--data-dir", default=None, help="folder of the dataset files (MNIST)")
    p.add_argument("--batch", type=int, default=8, help="examples in the batch (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed choosing the batch (default 0)")
    from .model_args import add_model_arguments

    add_model_arguments(p)
    p.set_defaults(run=run)


def _dataset_name(model: Any, model_path: Path) -> str | None:
    """The dataset a model was trained on, from its saved metadata or a metrics.json beside."""
    sources: list[Any] = [getattr(model, "metadata", None) or {}]
    metrics = model_path.parent / "metrics.json"
    if metrics.is_file():
        try:  # a hint only: a file too large, too deep or not JSON is passed over
            if metrics.stat().st_size <= 2**24:
                sources.append(loads_bounded(metrics.read_bytes()))
        except (OSError, ValueError):
            pass
    for source in sources:
        if not isinstance(source, dict):
            continue
        for where in (source, source.get("config"), source.get("data")):
            if not isinstance(where, dict):
                continue
            name = where.get("dataset")
            if isinstance(name, dict):
                name = name.get("name")
            if isinstance(name, str) and name:
                return name
    return None


def _batch(model: Any, args: argparse.Namespace, model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    from . import UsageError

    name = args.dataset or _dataset_name(model, model_path)
    if name is None:
        raise UsageError(
            f"{model_path} does not say which dataset it was trained on; --values, --grads and "
            "--check need a batch of data: pass --dataset NAME (e.g. --dataset digits)"
        )
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    from ..datasets import get_dataset

    metadata = getattr(model, "metadata", None) or {}
    data_dir = args.data_dir
    if data_dir is None and name == metadata.get("dataset"):
        data_dir = metadata.get("data_dir")
    X, y, _ = get_dataset(name, data_dir=data_dir, seed=args.seed)
    from ..model import MLP

    X = np.asarray(X, dtype=np.float64)
    n_in = model.parameters[0].value.shape[1] if isinstance(model, MLP) else X.shape[-1]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise UsageError(
            f"dataset {name!r} has inputs of shape {X.shape[1:]} but the model takes {n_in} "
            "features; pass the --dataset it was trained on"
        )
    n_classes = model.n_classes if model.n_classes is not None else np.inf
    if len(y) and int(np.max(y)) >= n_classes:
        raise UsageError(
            f"dataset {name!r} has labels up to {int(np.max(y))} but the model has {n_classes} "
            "classes; pass the --dataset it was trained on"
        )
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(len(X), size=min(args.batch, len(X)), replace=False))
    return X[rows], np.asarray(y)[rows]  # raw: as_feed applies the model's preprocessing


def _feed(model: Any, args: argparse.Namespace, model_path: Path) -> dict:
    """A batch for the whole graph: rows of --feed, or of the model's dataset (x and y), as
    the graph reads them (x', the model's preprocessing applied once)."""
    from . import UsageError
    from .model_args import feed_for

    if args.feed is None:
        names = {i.name for i in model.inputs}
        if names != {"x", "y"}:
            raise UsageError(
                f"{model_path} reads Inputs {sorted(names)}; --values, --grads and --check need "
                "a batch of them: pass --feed DATA.npz (np.savez(path, name=array, ...))"
            )
        X, y = _batch(model, args, model_path)
        return dict(model.as_feed({"x": X, "y": y}, graph="all", what="the batch"))
    if args.batch < 1:
        raise UsageError(f"--batch must be at least 1, got {args.batch}")
    arrays = feed_for(model, args.feed)
    missing = [i.name for i in model.inputs if i.name not in arrays]
    if missing:
        raise UsageError(f"--feed {args.feed} has no array for Input(s) {missing}")
    # every Input (the output's too, where the loss does not read them): lengths, NaN, labels
    # checked, x' of a model with a preprocessing
    feed = model.as_feed(arrays, graph="all", what=f"--feed {args.feed}")
    n = len(next(iter(feed.values())))
    rng = np.random.default_rng(args.seed)
    rows = np.sort(rng.choice(n, size=min(args.batch, n), replace=False))
    return {node: value[rows] for node, value in feed.items()}


def run(args: argparse.Namespace) -> int:
    from ..check import check_graph
    from ..render import render
    from .model_args import load

    model_path = Path(args.model)
    model = load(model_path, args)
    graph = model.graph
    report = None
    if args.values or args.grads or args.check:
        feed = _feed(model, args, model_path)
        if args.check:
            report = check_graph(graph, feed, seed=args.seed)  # leaves fprop/bprop values
        else:
            graph.fprop(feed)
            graph.bprop()
    out = Path(args.output) if args.output else model_path.with_suffix(".svg")
    written = render(
        graph,
        out,
        values=args.values,
        grads=args.grads,
        shapes=not args.no_shapes,
        order=args.order,
        check=report,
        rankdir=args.rankdir,
        group=not args.no_group,
    )
    print(f"wrote {written}")
    if report is not None:
        first = report.first_failing_box
        wrong = [c.name for c in report.parameters if not c.ok]
        if first is not None:
            failing = [n for n, r in report.boxes.items() if not r.ok]
            print(
                f"gradient check: {len(failing)} box(es) fail ({', '.join(failing)}); "
                f"first failing box: '{first}' ({report.boxes[first].box})"
            )
        elif wrong:  # every box passes alone, yet a parameter's gradient is wrong: still a failure
            print(
                f"gradient check: every box passes on its own, but the gradient is wrong for "
                f"parameter(s) {', '.join(wrong)}"
            )
        else:
            kinks = [n for n, r in report.boxes.items() if r.status == "kink"]
            extra = f" ({len(kinks)} at kinks: {', '.join(kinks)})" if kinks else ""
            print(f"gradient check: no box fails{extra}")
        if not report.ok:
            return 1
    return 0
