"""Argument types and checks shared by the subcommands: every bad value is refused by argparse
as one line (exit status 2) before any work starts."""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "int_at_least",
    "positive_int",
    "nonnegative_int",
    "nonnegative_float",
    "positive_float",
    "fraction",
    "scheduler_address",
    "check_out_dir",
    "check_out_file",
    "read_config_text",
]


def int_at_least(low: int):
    """An argparse type: a whole number >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"  # what argparse names in its messages
    return parse


positive_int, nonnegative_int = int_at_least(1), int_at_least(0)


def nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def positive_float(text: str) -> float:
    value = nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return value


def fraction(text: str) -> float:
    """A fraction of the data strictly between 0 and 1."""
    value = nonnegative_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text}")
    return value


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_address(text: str) -> str:
    """A Dask scheduler address, ``tcp://host:port`` (``host:port`` means tcp)."""
    address = text.strip()
    if re.fullmatch(r"[A-Za-z0-9_.\-\[\]:]+:\d+", address):
        address = "tcp://" + address
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in _SCHEMES
        or not parts.hostname
        or parts.path not in ("", "/")
        or (parts.scheme != "inproc" and (port is None or not 0 < port < 65536))
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a scheduler address: expected tcp://HOST:PORT (e.g. "
            "tcp://127.0.0.1:8786)"
        )
    return address


def check_out_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Refuse a bad output folder now, so that it is one line before the work, not a traceback
    after it: a file, a folder under a file, or a place that cannot be written. Nothing is
    created (a later mistake leaves no empty folder behind); the folder is made when written."""
    from . import UsageError

    out = Path(path)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                where = "is a file" if parent == out else f"lies under {parent}, which is a file"
                raise UsageError(f"{option} {out} {where}; give a folder")
            try:  # the nearest existing folder takes a file (or the folders to be made)
                with tempfile.TemporaryFile(dir=parent):
                    pass
            except OSError as e:
                why = e.strerror or e
                raise UsageError(f"{option} {out}: cannot write in {parent} ({why})") from None
            break
    return out


def check_out_file(path: str | os.PathLike, option: str = "-o") -> Path:
    """An output file whose folder exists or can be made, and is writable; not a folder, nor
    a device or a pipe (``/dev/zero``: a file is written beside it and renamed over it)."""
    from . import UsageError

    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{option} {out} is a folder; give a file name")
    if out.exists() and not out.is_file():
        raise UsageError(f"{option} {out} is not a regular file (a device? a pipe?); give a "
                         "file name")  # fmt: skip
    check_out_dir(out.parent, option)
    return out


CONFIG_LIMIT = 2**20  # bytes: a configuration file (a search space) is small JSON


def read_config_text(path: str | os.PathLike, option: str, limit: int = CONFIG_LIMIT) -> str:
    """The text of a configuration file, read at most ``limit`` bytes (so that ``/dev/zero``
    or a huge file is one line, not a process killed for memory)."""
    from . import UsageError

    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{option} {path}: larger than {limit} bytes; a configuration file is "
                         "small JSON")  # fmt: skip
    return data.decode("utf-8")
