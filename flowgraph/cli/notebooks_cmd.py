"""``flowgraph notebooks DIR``: copy the teaching notebooks shipped with the package into DIR."""

from __future__ import annotations

import argparse
import importlib.util
import shlex

from ..errors import FlowgraphError
from ..teaching import notebook_files

EXTRA = "pip install -e '.[notebooks]' from a clone"


NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def count_words() -> str:
    """How many notebooks this installation holds, for the help ("nine"), counted from its
    folder (a number in figures beyond twelve)."""
    try:
        n = len(notebook_files())
    except FlowgraphError:  # a broken install: the command itself says so when run
        return "the"
    return NUMBERS[n] if n < len(NUMBERS) else str(n)


def add_parser(sub) -> None:
    files = count_words()
    p = sub.add_parser(
        "notebooks",
        help=f"copy the {files} teaching notebooks into a folder",
        description=f"Copy the {files} teaching notebooks (01_flow_graphs.ipynb, ...), shipped "
        "with flowgraph, into DIR, where Jupyter can open and change them. Opening and running "
        f"them needs the notebooks extra, which brings JupyterLab ({EXTRA}).",
    )
    p.add_argument("directory", metavar="DIR", help="folder to copy them into (created if missing)")
    p.add_argument("--force", action="store_true", help="replace notebooks already in DIR")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..teaching import copy_notebooks

    copies = copy_notebooks(args.directory, overwrite=args.force)
    for path in copies:
        print(path)
    if importlib.util.find_spec("jupyterlab") is None:
        print(f"to open them, install the notebooks extra ({EXTRA}), then:")
    print(f"open them with: python -m jupyter lab {shlex.quote(args.directory)}")
    return 0
