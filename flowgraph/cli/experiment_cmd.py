"""``flowgraph experiment NAME``: one phenomenon of the lecture, end to end, with its figure."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from ..analysis.experiments import EXPERIMENTS

    names = ", ".join(EXPERIMENTS)
    p = sub.add_parser(
        "experiment",
        help="reproduce a property of trained networks (Newton, saddles, lottery tickets, ...)",
        description="Run one experiment: train the networks it needs, print its key numbers, "
        "and write OUT/NAME.png (the figure) and OUT/NAME.json (the numbers). Experiments: "
        f"{names}. Each checks the claims it makes against its own numbers and prints one "
        "line per claim; the exit status is 1 when one does not hold. Defaults take about a "
        "minute on two cores; --quick runs a reduced version in seconds.",
    )
    p.add_argument("name", metavar="NAME", choices=list(EXPERIMENTS), help=f"one of: {names}")
    p.add_argument(
        "--dataset",
        default=None,
        help="dataset (default: digits; blobs for saddle, whose network must stay tiny)",
    )
    p.add_argument("--out", default=".", help="directory for NAME.png and NAME.json (default .)")
    p.add_argument("--quick", action="store_true", help="a reduced run of a few seconds")
    p.add_argument("--seed", type=int, default=0, help="seed for data splits and networks")
    p.add_argument(
        "--data-dir", default=None, help="directory of the MNIST files (--dataset mnist)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..analysis.experiments import run_experiment
    from . import UsageError
    from .args import check_out_dir

    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    check_out_dir(args.out)  # before the work: a bad --out is one line, now
    record = run_experiment(
        args.name,
        dataset=args.dataset,
        out=args.out,
        quick=args.quick,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    return 0 if record["claims_hold"] else 1
