"""Ctrl-C and SIGTERM as a request, not an accident.

While a :class:`StopFlag` is active, SIGINT (Ctrl-C) and SIGTERM (``kill``, a batch system's
time limit) set a flag instead of raising: the training loop reads it after each batch, so the
batch finishes, what was learnt is kept and every output is written. A second signal raises
KeyboardInterrupt (the user insists). Flags nest: a flag entered inside another (``fg.train``
inside ``flowgraph train``, which also guards the writing of its outputs) starts set when the
outer one is, and hands a signal it caught on to the outer one when it exits.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["StopFlag"]


class StopFlag:
    """A context manager: inside it, SIGINT and SIGTERM set ``self.set`` (a second one raises
    KeyboardInterrupt). Outside the main thread signals cannot be caught: it does nothing.

    >>> import os, signal
    >>> with StopFlag() as stop:
    ...     os.kill(os.getpid(), signal.SIGINT)
    ...     stop.set
    True
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.set = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                try:
                    self._previous[sig] = signal.signal(sig, self.handle)
                except (ValueError, OSError):  # not allowed here: leave that signal alone
                    pass
        outer = self._outer()
        self.set = bool(outer is not None and outer.set)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        """The signal handler: the first signal sets the flag, a second raises."""
        if self.set:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.set = True

    def _outer(self) -> StopFlag | None:
        """The StopFlag whose handler this one replaced, if any."""
        for previous in self._previous.values():
            owner = getattr(previous, "__self__", None)
            if isinstance(owner, StopFlag):
                return owner
        return None

    def __exit__(self, *exc: Any) -> None:
        outer = self._outer()
        if outer is not None and self.set:
            outer.set = True
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}
