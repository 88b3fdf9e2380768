"""``flowgraph search``: grid or random search over hyper-parameters, here, on local processes
or on a Dask cluster; prints the trials by validation error and the best one's test error."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .._json import loads_bounded
from ..training.defaults import SPLIT
from .args import (
    check_out_dir,
    fraction,
    nonnegative_int,
    positive_int,
    read_config_text,
    scheduler_address,
)

# how a command-line token becomes a value, per hyper-parameter
_FLOATS = ("lr", "decay", "momentum", "l2", "l1")
_INTS = ("batch_size", "epochs", "warmup")

EPILOG = """\
hyper-parameters: optimizer (sgd, nesterov, adagrad, rmsprop, adam, adamw), lr (default
  by optimizer, as for flowgraph train: 0.2 sgd, nesterov; 0.1 adagrad; 0.003 the others),
  schedule (constant, inverse, power), decay, warmup, momentum (sgd, nesterov, rmsprop),
  hidden, activation (tanh, sigmoid, relu, identity), l2, l1, batch_size, epochs,
  patience (early stopping; none to turn it off).
hidden sizes: hidden=50,100 is one hidden layer of 50 or one of 100; hidden=100x100,50 is
  two layers of 100 or one of 50; 0 means no hidden layer.
space.json: {"lr": {"loguniform": [0.001, 1]}, "momentum": {"uniform": [0, 0.9]},
  "batch_size": {"randint": [16, 129]}, "activation": {"choice": ["tanh", "relu"]},
  "hidden": [50, "100x100"], "epochs": 20}   (a list is a choice; for --grid, the values)

examples:
  flowgraph search --dataset digits --grid lr=0.01,0.1 hidden=50,100 --jobs 2
  flowgraph search --grid optimizer=sgd,nesterov,adam,adamw --set epochs=20
  flowgraph search --random 20 --space space.json --scheduler tcp://host:8786
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "search",
        help="grid or random search over hyper-parameters (local processes or a Dask cluster)",
        description="Train one network per configuration on the training part, compare them on "
        "the validation part, and evaluate the best once on the test part. Writes trials.csv, "
        "search.png and best_model.npz into --out.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", default=None, help="dataset name (default digits)")
    p.add_argument(
        "--data", default=None, metavar="FILE",
        help="your own data instead of --dataset: a .csv or .npz file, as for flowgraph train",
    )  # fmt: skip
    p.add_argument("--label", default=None, metavar="NAME",
                   help="--data: the label column (CSV) or array (NPZ; default y)")
    p.add_argument("--features", default=None, metavar="NAME",
                   help="--data FILE.npz: the feature array (default X)")
    p.add_argument("--data-dir", default=None, help="folder of downloaded datasets (mnist)")
    p.add_argument(
        "--n-samples", type=positive_int, default=None, help="examples of a generated dataset"
    )
    p.add_argument(
        "--valid", type=fraction, default=SPLIT["valid"],
        help=f"validation fraction ({SPLIT['valid']:g}, as flowgraph train)",
    )  # fmt: skip
    p.add_argument(
        "--test", type=fraction, default=SPLIT["test"],
        help=f"test fraction ({SPLIT['test']:g}, as flowgraph train)",
    )  # fmt: skip
    p.add_argument(
        "--grid", nargs="+", action="extend", default=[], metavar="NAME=V1,V2",
        help="grid values (repeat --grid to add more names)",
    )  # fmt: skip
    p.add_argument("--random", type=positive_int, default=None, metavar="N", help="N trials")
    p.add_argument("--space", default=None, metavar="JSON", help="search space file")
    p.add_argument(
        "--set", nargs="+", action="extend", default=[], metavar="NAME=V",
        help="fixed values (repeat --set to add more; a name may not also be in --grid)",
    )  # fmt: skip
    p.add_argument("--jobs", type=int, default=1, help="trials at once on local processes")
    p.add_argument(
        "--scheduler", type=scheduler_address, default=None, metavar="ADDR",
        help="Dask scheduler address, tcp://HOST:PORT",
    )  # fmt: skip
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of the split and the trials (0)"
    )
    p.add_argument("--checkpoint", default=None, help="file of finished trials (resumes)")
    p.add_argument("--out", default="runs/search", help="output folder (runs/search)")
    p.add_argument("--top", type=positive_int, default=20, help="rows of the table printed (20)")
    p.add_argument(  # the same flags as flowgraph train
        "--no-progress", "-q", "--quiet", dest="quiet", action="store_true", help="no progress bar"
    )
    p.set_defaults(run=run)


def parse_token(name: str, token: str, option: str) -> Any:
    """One value of ``name`` written on the command line."""
    from ..select import parse_hidden
    from . import UsageError

    token = token.strip()
    try:
        if name in _FLOATS:
            return float(token)
        if name in _INTS:
            return int(token)
        if name == "patience":
            return None if token.lower() == "none" else int(token)
        if name == "hidden":
            return parse_hidden(token)
    except ValueError as e:
        kind = (
            "a number" if name in _FLOATS else "layer widths" if name == "hidden" else "an integer"
        )
        why = "" if name != "hidden" else f" ({e})"
        raise UsageError(f"{option} {name}={token}: {token!r} is not {kind}{why}") from None
    if name == "schedule" and token.lower() in ("auto", "none"):
        return None
    if name == "optimizer":
        from ..optim import OPTIMIZERS

        if token.lower() not in OPTIMIZERS:
            raise UsageError(
                f"{option} optimizer={token}: unknown optimizer; choose one of "
                f"{', '.join(OPTIMIZERS)}"
            )
        return token.lower()
    return token


def parse_assignments(items: list[str], option: str, *, many: bool) -> dict[str, Any]:
    """``["lr=0.01,0.1", "hidden=50"]`` as {"lr": [0.01, 0.1], "hidden": [(50,)]} (``many``)
    or, for fixed values, {"lr": 0.01}."""
    from ..select import DEFAULTS
    from . import UsageError

    out: dict[str, Any] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise UsageError(f"{option} takes NAME=VALUE{',VALUE' if many else ''}, got {item!r}")
        if name not in DEFAULTS:
            raise UsageError(
                f"{option}: unknown hyper-parameter {name!r}; known: {', '.join(DEFAULTS)}"
            )
        if name in out:
            raise UsageError(f"{option}: {name} is given twice")
        tokens = values.split(",") if many else [values]
        parsed = [parse_token(name, t, option) for t in tokens]
        out[name] = parsed if many else parsed[0]
    return out


MAX_JOBS = 4 * (os.cpu_count() or 1)  # local processes at most: more only wait their turn


def _read_space(path: str, random: bool) -> dict[str, Any]:
    from ..select.space import distribution_from_json
    from . import UsageError

    try:
        spec = loads_bounded(read_config_text(path, "--space"))
    except FileNotFoundError:
        raise UsageError(f"--space: no such file {path}") from None
    except ValueError as e:  # not UTF-8, not JSON, nested too deep, an int too long
        raise UsageError(f"--space {path}: not valid JSON ({e})") from None
    if not isinstance(spec, dict):
        raise UsageError(f"--space {path}: must hold a JSON object of hyper-parameters")
    return {k: distribution_from_json(k, v) if random else v for k, v in spec.items()}


def check_arguments(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """The search space and the output folder, every option checked before any work."""
    from . import UsageError

    if args.random is not None and args.grid:
        raise UsageError("give --grid or --random N, not both")
    if args.random is not None and args.random < 1:
        raise UsageError(f"--random N needs N >= 1 trials, got {args.random}")
    if args.random is not None and args.space is None:
        raise UsageError("--random N needs --space FILE.json with the distributions")
    if args.random is None and not args.grid and args.space is None:
        raise UsageError("give --grid NAME=V1,V2 ... or --random N --space FILE.json")
    if args.scheduler is not None and args.jobs != 1:
        raise UsageError("give --jobs (local processes) or --scheduler (a Dask cluster), not both")
    if args.jobs == 0 or args.jobs < -1:
        raise UsageError(f"--jobs must be a positive number of processes or -1, got {args.jobs}")
    if args.jobs > MAX_JOBS:
        raise UsageError(f"--jobs {args.jobs}: at most {MAX_JOBS} processes on this machine "
                         f"({os.cpu_count()} cores; -1: one per core)")  # fmt: skip
    if not args.data:  # (a file's size is checked as it is read)
        check_data_fits(args.dataset or "digits", args.n_samples)  # before 10^14 points

    out = check_out_dir(args.out)  # before any trial: a bad --out is one line, now
    if args.checkpoint is not None and Path(args.checkpoint).is_dir():
        raise UsageError(f"--checkpoint {args.checkpoint} is a folder; give a file (e.g. s.jsonl)")
    space = _read_space(args.space, args.random is not None) if args.space else {}
    grid = parse_assignments(args.grid, "--grid", many=True)
    fixed = parse_assignments(args.set, "--set", many=False)
    both = sorted(set(grid) & set(fixed))
    if both:
        raise UsageError(f"{', '.join(both)} given in both --grid and --set: choose one")
    space.update(grid)
    for name, value in fixed.items():
        space[name] = [value] if args.random is None else value
    return space, out


def run(args: argparse.Namespace) -> int:
    from ..select import grid_search, load_data, random_search

    space, out = check_arguments(args)
    dataset = _dataset(args)
    data = load_data(dataset, seed=args.seed, valid=args.valid, test=args.test,
                     data_dir=args.data_dir, n_samples=args.n_samples, label=args.label,
                     features=args.features)  # fmt: skip
    options = dict(
        n_jobs=args.jobs,
        scheduler=args.scheduler,
        seed=args.seed,
        checkpoint=args.checkpoint,
        progress=not args.quiet,
    )
    if args.random is not None:
        result = random_search(space, data, args.random, **options)
    else:
        result = grid_search(space, data, **options)
    return report(result, args, out, dataset)


def report(result: Any, args: argparse.Namespace, out: Path, dataset: str) -> int:
    """Write the table, the plot and the best model into ``out``, print the summary; the exit
    status (1, with one line on stderr, when no trial finished or trials were lost)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [result.to_csv(out / "trials.csv")]
    if result.ok_trials and result.varying():
        written.append(out / "search.png")
        result.plot(path=written[-1], title=f"{result.kind} search on {Path(dataset).name}")
    if result.best_model is not None:
        config = _jsonable(result.best)  # type: ignore[arg-type]
        metadata = {**result.best_model.metadata, "config": config,
                    "test_error": result.test_error}  # fmt: skip
        written.append(result.best_model.save(out / "best_model.npz", metadata=metadata))

    head = f"{result.kind} search on {Path(dataset).name}: {len(result.trials)} of "
    head += f"{result.n_planned} trials"
    if result.n_resumed:
        head += f" ({result.n_resumed} from the checkpoint)"
    if result.failed_trials:
        head += f", {len(result.failed_trials)} failed"
    print(head + (" — interrupted" if result.interrupted else ""))
    print(result.format_table(max_rows=args.top))
    best = result.best_trial
    if best is None:
        print("no trial finished: nothing to select")
    else:
        from ..select import format_value

        print(f"best: trial {best['trial']}, validation error {best['valid_error']:.4f}")
        print("  " + " ".join(f"{k}={format_value(v)}" for k, v in result.best.items()))  # type: ignore[union-attr]
        if result.test_error is not None:
            print(f"  test error {result.test_error:.4f} (measured once, on the test part)")
    print("wrote " + ", ".join(str(p) for p in written))
    if result.interrupted:
        return 130
    if result.lost_trials:
        lost = [t["trial"] for t in result.lost_trials]
        print(
            f"flowgraph search: error: {len(lost)} trial(s) lost by the runner even after a retry "
            f"({', '.join(map(str, lost))}): the best above is among the others only and no test "
            "error was measured; run the same command again (with --checkpoint) to finish them",
            file=sys.stderr,
        )
        return 1
    if best is None:
        failed = len(result.failed_trials)
        why = f": {failed} failed ({result.failed_trials[0]['error'][:120]} ...)" if failed else ""
        print(f"flowgraph search: error: no trial finished{why}", file=sys.stderr)
        return 1
    return 0


def check_data_fits(dataset: str, n_samples: int | None) -> None:
    """Refuse, before generating or loading anything, data that cannot fit in memory."""
    from ..training.defaults import n_samples_for
    from ..training.resources import DATA_SHAPES, check_fits

    rows, n_in = DATA_SHAPES.get(dataset.strip().lower(), (0, 2))
    n = n_samples if n_samples is not None else n_samples_for(dataset)
    if n is not None:
        rows = n if dataset.strip().lower() not in DATA_SHAPES else min(rows, n)
    check_fits(rows, [n_in, 1], 1, 8)


def _dataset(args: argparse.Namespace) -> str:
    """--dataset NAME or --data FILE (with --label and --features), checked as train does."""
    from ..training.recipe import check_file_options, check_value
    from .train_cmd import data_option

    given: dict[str, Any] = {"dataset": args.dataset or "digits"}
    data_option(args, given)
    dataset = check_value("dataset", given["dataset"]) if args.data else given["dataset"]
    check_file_options({"dataset": dataset, "n_samples": args.n_samples, "noise": None,
                        "label": args.label, "features": args.features})  # fmt: skip
    return dataset


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
