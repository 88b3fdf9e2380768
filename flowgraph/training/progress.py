"""How far training has come: a tqdm bar on a terminal, a few plain lines in a log.

On a terminal the bar is redrawn in place after every epoch, with the epoch's mean training
loss, running training error and validation error (or loss). When the output goes to a file or
a pipe, carriage-return redraws would fill the log with dozens of half lines: there
:class:`Progress` prints one plain line every ``every`` epochs (about ten lines in all) and one
for the last epoch.
"""

from __future__ import annotations

import math
import sys
from typing import IO, Any

from .callbacks import Callback

__all__ = ["Progress", "LINES", "interactive", "figures"]

LINES = 10  # lines a run writes to a file or a pipe, about


class Progress(Callback):
    """A progress callback for ``epochs`` epochs of which ``done`` are already trained (a
    resumed run). ``stream`` (default stderr) decides the form: a tqdm bar on a terminal,
    otherwise a line every ``every`` epochs (default: ``epochs // LINES``, at least 1).

    >>> import io
    >>> from flowgraph.training.history import History
    >>> log, h = io.StringIO(), History()
    >>> p = Progress(4, stream=log, every=2)
    >>> p.on_train_begin(None)
    >>> for e in range(1, 5):
    ...     h.append(epoch=e, train_loss=1 / e, train_error=float("nan"), valid_loss=float("nan"),
    ...              valid_error=float("nan"), lr=0.1, seconds=0.0)
    ...     _ = p.on_epoch_end(None, h)
    >>> p.on_train_end(None, h)
    >>> print(log.getvalue(), end="")
    training: 2/4 epochs, loss=0.5000
    training: 4/4 epochs, loss=0.2500
    """

    def __init__(self, epochs: int, done: int = 0, *, stream: IO[str] | None = None,
                 every: int | None = None):  # fmt: skip
        self.epochs, self.done = int(epochs), int(done)
        self.stream = stream
        self.every = every if every is not None else max(1, self.epochs // LINES)
        self.bar: Any = None
        self.last_line = 0

    def _stream(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stderr

    def on_train_begin(self, model: Any) -> None:
        if interactive(self._stream()):
            from tqdm.auto import tqdm  # only where a bar is drawn

            self.bar = tqdm(total=self.epochs, initial=self.done, desc="training", unit="epoch",
                            leave=True, file=self._stream())  # fmt: skip

    def on_epoch_end(self, model: Any, history: Any) -> bool:
        post = figures(history)
        epoch = history.epoch[-1]
        if self.bar is not None:
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)
        elif epoch % self.every == 0 or epoch == self.epochs:
            self._line(epoch, post)
        return False

    def _line(self, epoch: int, post: dict[str, str]) -> None:
        figures_text = "".join(f", {k}={v}" for k, v in post.items())  # as the bar shows them
        print(f"training: {epoch}/{self.epochs} epochs{figures_text}", file=self._stream(),
              flush=True)  # fmt: skip
        self.last_line = epoch

    def on_train_end(self, model: Any, history: Any) -> None:
        if self.bar is None and history.epoch and history.epoch[-1] != self.last_line:
            self._line(history.epoch[-1], figures(history))  # where it stopped
        self.close()

    def close(self) -> None:
        """Take the bar down (also when training ends by an exception)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def interactive(stream: Any) -> bool:
    """Whether ``stream`` redraws a bar in place: a terminal, or a Jupyter kernel's output
    (where tqdm.auto draws a widget)."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return True
    return type(stream).__module__.startswith("ipykernel")


def figures(history: Any) -> dict[str, str]:
    """The last epoch's figures as the bar shows them: loss, train err, valid err (or loss)."""
    post = {"loss": f"{history.train_loss[-1]:.4f}"}
    if not math.isnan(history.train_error[-1]):
        post["train err"] = f"{history.train_error[-1]:.3f}"
    if not math.isnan(history.valid_error[-1]):
        post["valid err"] = f"{history.valid_error[-1]:.3f}"
    elif not math.isnan(history.valid_loss[-1]):
        post["valid loss"] = f"{history.valid_loss[-1]:.4f}"
    return post
