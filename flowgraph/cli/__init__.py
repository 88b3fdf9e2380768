"""The ``flowgraph`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

A user's mistake (bad flag, unknown dataset, missing file) prints one line and exits with
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from ..errors import FlowgraphError

# subcommand modules of this package, in the order `flowgraph --help` lists them (train: also
# evaluate)
COMMANDS = ["train", "gradcheck", "render", "search", "experiment", "notebooks"]
COMMANDS += ["playground"]  # the browser demo


class UsageError(Exception):
    """A mistake in how the command was called; printed as one line, exit status 2."""

    prog: str  # the parser that found it, when argparse did (set by _Parser.error)


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


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, a batch system's time limit) as Ctrl-C: finish the batch, keep
    everything. fg.train turns either into a stop flag read after each batch."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. A user's mistake is one line on stderr and exit status 2; Ctrl-C
    or SIGTERM exit with 130 after writing what was done; a traceback means a bug. Output
    piped into a reader that stops early (``| head``) ends quietly."""
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
    except BrokenPipeError:
        status = _broken_pipe()
    return status


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the subcommand they were given to, as its other mistakes
            e = UsageError(f"unrecognized arguments: {' '.join(extra)} "
                           f"(see `flowgraph {args.command} --help`)")  # fmt: skip
            e.prog = f"flowgraph {args.command}"
            raise e
        refuse_empty_values(args, sys.argv[1:] if argv is None else list(argv))
    except UsageError as e:
        print(f"{getattr(e, 'prog', 'flowgraph')}: error: {e}", file=sys.stderr)
        return 2
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (main() called from a test's thread): leave it
        pass
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        raise
    except (UsageError, FlowgraphError, OSError, ValueError) as e:
        print(f"flowgraph {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"flowgraph {args.command}: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError) as e:  # what the checks before the work did not foresee
        kind = "out of memory" if isinstance(e, MemoryError) else "input nested too deep"
        print(f"flowgraph {args.command}: error: {kind}: {_one_line(e)}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:  # the command line's own process: the work is done, so a
            # SIGTERM from here to the exit changes nothing (it killed the process at -15)
            signal.signal(signal.SIGTERM, previous if argv is not None else signal.SIG_IGN)


def refuse_empty_values(args: argparse.Namespace, argv: list[str]) -> None:
    """No option takes an empty string: ``--out ""`` would write into the current folder,
    ``--dataset ""`` fall back to the default, ``--host ""`` listen on every address."""
    given = {a.split("=", 1)[0] for a in map(str, argv) if a.startswith("--")}
    for dest, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            option = "--" + dest.replace("_", "-")
            e = UsageError(f"argument {option if option in given else dest.upper()}: an empty "
                           f"value (see `flowgraph {args.command} --help`)")  # fmt: skip
            e.prog = f"flowgraph {args.command}"
            raise e


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split()) or type(e).__name__


def _broken_pipe() -> int:
    """The reader went away (``flowgraph ... | head``): stop quietly, as cat does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no real file (a test's capture): nothing to do
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a program stopped by a closed pipe


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
