"""``flowgraph playground``: serve the browser demo of a small network learning 2-D data."""

from __future__ import annotations

import argparse


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be a whole number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port must lie in 0..65535, got {port}")
    return port


def _host(text: str) -> str:
    """An address or host name to bind; ``[::1]`` as written in a URL reads as ``::1``."""
    host = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if len(host) > 253:
        raise argparse.ArgumentTypeError(f"--host is {len(host)} characters long (at most 253)")
    return host


def add_parser(sub) -> None:
    p = sub.add_parser(
        "playground",
        help="the lecture's browser demo: watch a network learn 2-D data, live",
        description="Serve a page where a small network learns 2-D data (moons, circles, "
        "spirals, xor, blobs, or a surface to regress) with flowgraph's engine in this process: "
        "decision regions, loss curves, each hidden unit's response, and the flow graph with its "
        "values and gradients. Prints the URL and opens the browser; Ctrl-C stops it.",
    )
    p.add_argument("--port", type=_port, default=8765, help="TCP port (default 8765; 0: any)")
    p.add_argument(
        "--host",
        type=_host,
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0 or :: serves "
        "everyone who can reach this machine, with a warning on stderr)",
    )
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..playground.server import serve
    from . import UsageError

    try:
        serve(args.host, args.port, open_browser=not args.no_browser)
    except OSError as e:  # port taken, address not on this machine
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {e.strerror or e}") from None
    return 0
