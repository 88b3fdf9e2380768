"""``flowgraph gradcheck``: check every box of the package against finite differences."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check every box's bprop against central finite differences",
        description="Check every Box of flowgraph (or those named) against central finite "
        "differences in float64, and every path the Graph takes (bprop_needed for each pattern "
        "of needed inputs, at N = 1 and N > 1) against bprop; one line per box and input, and "
        "one per failing path; exit status 1 on any failure.",
    )
    p.add_argument("boxes", nargs="*", metavar="BOX", help="box class names (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for sampled inputs (default 0)")
    p.add_argument("--eps", type=float, default=None, help="finite-difference step (1e-6)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each box's full table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..gradcheck import EPS, all_box_classes, check_box
    from . import UsageError

    if args.eps is not None and not args.eps > 0:
        raise UsageError(f"--eps must be a positive step, got {args.eps}")
    classes = all_box_classes()
    if args.boxes:
        by_name = {c.__name__.lower(): c for c in classes}
        unknown = [b for b in args.boxes if b.lower() not in by_name]
        if unknown:
            known = ", ".join(c.__name__ for c in classes)
            raise UsageError(f"unknown box {', '.join(unknown)}; boxes are {known}")
        classes = [by_name[b.lower()] for b in args.boxes]
    failures = 0
    width = max(len(c.__name__) for c in classes)
    for cls in classes:
        try:
            report = check_box(cls.example(), seed=args.seed, eps=args.eps or EPS)
        except Exception as e:  # a box that cannot be checked is a failure, not a crash
            print(f"{cls.__name__:<{width}}  cannot be checked: {type(e).__name__}: {e}  FAIL")
            failures += 1
            continue
        failures += not report.ok
        if args.verbose:
            print(report)
            continue
        if not report.inputs:
            print(f"{cls.__name__:<{width}}  no floating-point input to check  PASS")
        for c in report.inputs:
            print(
                f"{cls.__name__:<{width}}  {c.name:<4} max rel err {c.max_rel_err:8.1e}  "
                f"{c.n_checked:3d} checked  {c.status}" + (f"  {c.note}" if c.note else "")
            )
        for p in report.failing_paths:  # bprop_needed, the path the Graph runs, is wrong
            print(f"{cls.__name__:<{width}}  {p.line()}  FAIL")
    print(f"{len(classes) - failures} of {len(classes)} boxes pass")
    return 1 if failures else 0
