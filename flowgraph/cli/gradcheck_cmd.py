"""``flowgraph gradcheck``: check every box of the package against finite differences."""

from __future__ import annotations

import argparse
import math
import sys

from .args import nonnegative_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "gradcheck",
        help="check every box's bprop against central finite differences",
        description="Check every Box of flowgraph (or those named) against central finite "
        "differences in float64, every path the Graph takes (bprop_needed for each pattern "
        "of needed inputs, at N = 1 and N > 1) against bprop, and the forward-mode rules "
        "(fprop_jvp, bprop_jvp) against finite differences of fprop and bprop; one line per "
        "box and input, one 'jvp' line per box for its rules, and one per failing path; exit "
        "status 1 on any failure.",
    )
    p.add_argument("boxes", nargs="*", metavar="BOX", help="box class names (default: all)")
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed for sampled inputs (default 0)"
    )
    p.add_argument("--eps", type=float, default=None, help="finite-difference step (1e-6)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each box's full table")
    p.add_argument(
        "--no-jvp", action="store_true", help="skip the forward-mode rules (fprop_jvp, bprop_jvp)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..check import EPS, all_box_classes, check_box
    from . import UsageError

    if args.eps is not None and not (math.isfinite(args.eps) and 0 < args.eps < 1):
        raise UsageError(f"--eps must be a positive step below 1, got {args.eps}")
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
            report = check_box(
                cls.example(), seed=args.seed, eps=args.eps or EPS, jvp=not args.no_jvp
            )
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
        if report.jvp is not None:  # forward mode: R{out} and R{grad_x}, all rules in one line
            rules = report.jvp
            checked = sum(c.n_checked for c in rules.checks)
            extra = f"  wrong: {', '.join(rules.failing)}" if rules.failing else ""
            extra += "".join(f"  {c.what} {c.note}" for c in rules.checks if c.skipped)
            print(
                f"{cls.__name__:<{width}}  {'jvp':<4} max rel err {rules.max_rel_err:8.1e}  "
                f"{checked:3d} checked  {rules.status.upper()}{extra}"
            )
        elif report.jvp_note:
            print(f"{cls.__name__:<{width}}  {'jvp':<4} {report.jvp_note}")
        for p in report.failing_paths:  # bprop_needed, the path the Graph runs, is wrong
            print(f"{cls.__name__:<{width}}  {p.line()}  FAIL")
    print(f"{len(classes) - failures} of {len(classes)} boxes pass")
    if failures:  # the failure's one line on stderr, as for every command that fails
        print(f"flowgraph gradcheck: {failures} of {len(classes)} boxes fail", file=sys.stderr)
    return 1 if failures else 0
