"""``flowgraph notebooks DIR``: copy the teaching notebooks shipped with the package into DIR."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "notebooks",
        help="copy the teaching notebooks into a folder",
        description="Copy the teaching notebooks (01_flow_graphs.ipynb, "
        "02_backprop_by_hand.ipynb, ...), shipped with flowgraph, into DIR, where Jupyter can "
        "open and change them. Running them needs the notebooks extra: "
        "pip install 'flowgraph-autodiff[notebooks]'.",
    )
    p.add_argument("directory", metavar="DIR", help="folder to copy them into (created if missing)")
    p.add_argument("--force", action="store_true", help="replace notebooks already in DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..teaching import copy_notebooks

    copies = copy_notebooks(args.directory, overwrite=args.force)
    for path in copies:
        print(path)
    print(f"open them with: jupyter lab {args.directory}")
    return 0
