"""The ``flowgraph`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

A user's mistake (bad flag, unknown dataset, missing file) prints one line and exits with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import FlowgraphError

# subcommand modules of this package, in the order `flowgraph --help` lists them
COMMANDS = ["train", "gradcheck", "render", "search", "experiment"]  # train: also evaluate
COMMANDS += ["playground"]  # the browser demo


class UsageError(Exception):
    """A mistake in how the command was called; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes (unknown flag, bad value) are one line, not a usage block."""

    def error(self, message: str):
        e = UsageError(f"{message} (see `{self.prog} --help`)")
        e.prog = self.prog
        raise e


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flowgraph",
        description="Train, render and check flow-graph neural networks.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"flowgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f".{name}_cmd", __name__)
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"{getattr(e, 'prog', 'flowgraph')}: error: {e}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except (UsageError, FlowgraphError, FileNotFoundError) as e:
        print(f"flowgraph {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"flowgraph {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
