"""The record of a training run: one entry per epoch of the figures the lecture plots.

    train_loss(epoch) = 1/T sum_t l(f(x_t; theta), y_t) + lambda Omega(theta)   (running mean)
    valid_error(epoch) = fraction of validation examples with argmax f(x) != y

:class:`History` holds them as lists, says how the run ended (early stop, Ctrl-C, divergence)
and draws them (:meth:`History.plot`). In Jupyter a History shows itself as a table, one row
per epoch with the best epoch marked, and its curves one click away (``_repr_html_``: the
figure of :meth:`History.plot` as an inline PNG in a ``<details>`` element; nothing loaded
from outside the page).
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ..check.html import table_html

__all__ = ["History", "HISTORY_LISTS", "HISTORY_FLAGS"]

# the per-epoch lists, in the order of History.records() (and of metrics.csv's columns)
HISTORY_LISTS = ("epoch", "train_loss", "train_error", "valid_loss", "valid_error", "lr",
                 "seconds")  # fmt: skip
# the columns of the HTML table: (heading, list, format)
HTML_COLUMNS = (("epoch", "epoch", "{}"), ("training loss", "train_loss", "{:.4g}"),
                ("training error", "train_error", "{:.4f}"),
                ("validation loss", "valid_loss", "{:.4g}"),
                ("validation error", "valid_error", "{:.4f}"), ("learning rate", "lr", "{:.3g}"),
                ("seconds", "seconds", "{:.2f}"))  # fmt: skip
# how the run ended (best_epoch: an int or None; the others booleans)
HISTORY_FLAGS = ("best_epoch", "stopped_early", "interrupted", "diverged")


@dataclass
class History:
    """Per-epoch records of a training run, as lists (one entry per epoch).

    ``train_loss`` and ``train_error`` are averaged over the epoch's batches as they were
    processed (the running figures; call ``model.error`` for the error at the end; NaN for
    a model without a classification output). ``valid_loss`` (every model) and
    ``valid_error`` (classifiers) are measured after each epoch (NaN without a validation
    set), ``lr`` is the rate alpha_t at the end of the epoch, ``seconds`` the epoch's wall time.

    >>> h = History()
    >>> h.append(epoch=1, train_loss=0.5, train_error=0.25, valid_loss=0.6, valid_error=0.3,
    ...          lr=0.1, seconds=0.01)
    >>> len(h), h.best_valid_error, h.records()[0]["train_error"]
    (1, 0.3, 0.25)
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_error: list[float] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_error: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    diverged: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, **row: float) -> None:
        """Add one epoch: a value for each of :data:`HISTORY_LISTS`, by name."""
        missing = set(HISTORY_LISTS) - set(row)
        if missing or len(row) != len(HISTORY_LISTS):
            raise ValueError(f"History.append needs exactly {HISTORY_LISTS}, got {sorted(row)}")
        for k in HISTORY_LISTS:
            getattr(self, k).append(row[k])

    @property
    def best_valid_error(self) -> float:
        finite = [v for v in self.valid_error if not math.isnan(v)]
        return min(finite) if finite else float("nan")

    def records(self) -> list[dict[str, float]]:
        """One dict per epoch."""
        keys = HISTORY_LISTS
        return [dict(zip(keys, row)) for row in zip(*(getattr(self, k) for k in keys))]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*HISTORY_LISTS, *HISTORY_FLAGS)}

    def plot(self, path=None, *, title: str | None = None):
        """Training and validation error per epoch (and the loss), as a matplotlib Figure;
        written to ``path`` (PNG) when given."""
        from matplotlib.figure import Figure  # not pyplot: the backend stays the user's

        classifier = any(not math.isnan(v) for v in self.train_error)
        fig = Figure(figsize=(9, 3.6) if classifier else (5, 3.6), layout="constrained")
        if classifier:
            ax_err, ax_loss = fig.subplots(1, 2)
            self._plot_errors(ax_err)
        else:  # no classification output: the loss is the whole story
            ax_loss = fig.subplots(1, 1)
            if self.best_epoch is not None:
                ax_loss.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
        self._plot_losses(ax_loss)
        if title:
            fig.suptitle(title)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    def _plot_errors(self, ax) -> None:
        ax.plot(self.epoch, self.train_error, label="training error", color="#0072B2")
        if any(not math.isnan(v) for v in self.valid_error):
            ax.plot(self.epoch, self.valid_error, label="validation error", color="#D55E00")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, color="0.5", ls="--", lw=1, label="best epoch")
        ax.set(xlabel="epoch", ylabel="classification error", title="error")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)

    def _plot_losses(self, ax) -> None:
        ax.plot(self.epoch, self.train_loss, color="#009E73", label="training loss")
        if any(not math.isnan(v) for v in self.valid_loss):
            ax.plot(self.epoch, self.valid_loss, color="#CC79A7", label="validation loss")
        losses = [v for v in self.train_loss + self.valid_loss if math.isfinite(v)]
        positive = bool(losses) and min(losses) > 0
        ax.set(xlabel="epoch", ylabel="mean loss", title="loss",
               yscale="log" if positive else "linear")  # fmt: skip
        ax.legend(frameon=False)

    # -- Jupyter's display --------------------------------------------------------------------
    def ending(self) -> str:
        """How the run ended, in words: ``12 epochs; best epoch 9 (validation error 0.0333);
        stopped early``."""
        n = len(self)
        words = [f"{n} epoch{'s' if n != 1 else ''}"]
        if self.best_epoch is not None:
            best = f"best epoch {self.best_epoch}"
            if self.best_epoch in self.epoch:
                i = self.epoch.index(self.best_epoch)
                v, what = self.valid_error[i], "validation error"
                if math.isnan(v):
                    v, what = self.valid_loss[i], "validation loss"
                if not math.isnan(v):
                    best += f" ({what} {v:.4g})"
            words.append(best)
        flags = (("stopped early", self.stopped_early), ("interrupted", self.interrupted),
                 ("diverged", self.diverged))  # fmt: skip
        words += [w for w, on in flags if on]
        return "; ".join(words)

    def _repr_html_(self) -> str:
        """A table of the epochs (NaN shown as a dash; the best epoch's row in bold and marked
        with a star), how the run ended, and the curves of :meth:`plot` one click away: an
        inline PNG in a ``<details>`` element. Every text is escaped."""
        shown = [c for c in HTML_COLUMNS
                 if any(not _is_nan(v) for v in getattr(self, c[1]))]  # fmt: skip
        rows = []
        for i, epoch in enumerate(self.epoch):
            best = epoch == self.best_epoch
            cells = [escape(_number(fmt, getattr(self, k)[i])) for _, k, fmt in shown]
            if best:
                cells = [f"<b>{c}</b>" for c in cells]
                cells[0] += ' <span title="best epoch">&#9733;</span>'
            rows.append(cells)
        head = [h for h, _, _ in shown]
        table = table_html(head, rows) if rows else "<p>no epochs yet</p>"
        scroll = f'<div style="max-height:24em;overflow-y:auto">{table}</div>'
        title = f'<p style="margin:0.3em 0"><b>History</b>: {escape(self.ending())}</p>'
        return f'<div class="flowgraph-history">{title}{scroll}{self._curves_html()}</div>'

    def _curves_html(self) -> str:
        """The figure of :meth:`plot` as a PNG inside ``<details>`` (empty with no epochs)."""
        if not len(self):
            return ""
        buffer = io.BytesIO()
        self.plot().savefig(buffer, format="png", dpi=80)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        img = f'<img alt="training curves" src="data:image/png;base64,{data}"/>'
        return f"<details><summary>curves</summary>{img}</details>"


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _number(fmt: str, v: Any) -> str:
    """A cell's text: ``v`` in ``fmt``, or a dash for NaN (a figure not measured)."""
    if v is None or _is_nan(v):
        return "\u2014"
    return fmt.format(v)
