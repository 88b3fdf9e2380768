"""The outcome of a search: its trials as a table, the best configuration and its test error."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model import Model
from .space import Distribution, SearchError, format_value
from .trial import resolve_config

__all__ = ["SearchResult", "COLUMNS", "sort_key"]

# the columns of a trial after its hyper-parameters, in table order
COLUMNS = (
    "valid_error",
    "train_error",
    "epochs_trained",
    "best_epoch",
    "seconds",
    "seed",
    "status",
    "error",
)


def sort_key(trial: dict[str, Any]) -> tuple[int, float, int]:
    # finished trials by validation error, ties by trial index (deterministic); failed ones last
    ok = trial["status"] == "ok" and not math.isnan(trial["valid_error"])
    return (0 if ok else 1, trial["valid_error"] if ok else 0.0, trial["trial"])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class SearchResult:
    """Trials of a grid or random search (sorted by index), the best one, its test error.

    The lecture's protocol: trials are compared on the validation error only; the best
    configuration (lowest validation error, ties to the lowest trial index) is trained again
    with its seed, which reproduces its trial, and evaluated once on the test set.

    Attributes: ``kind`` ("grid" or "random"), ``space`` (what was searched), ``seed``,
    ``trials`` (list of dicts, see :func:`run_trial`), ``n_planned`` (trials the search
    holds), ``interrupted`` (stopped by Ctrl-C: no test evaluation then), ``n_resumed``
    (trials read back from the checkpoint), ``best_model`` and ``test_error`` (None until the
    best configuration is evaluated). For a search on a dataset name, ``best_model`` carries
    the data's preprocessing (``best_model.preprocessing``): it takes raw inputs.
    """

    kind: str
    space: dict[str, Any]
    seed: int
    trials: list[dict[str, Any]]
    n_planned: int
    interrupted: bool = False
    n_resumed: int = 0
    best_model: Model | None = field(default=None, repr=False)
    test_error: float | None = None

    @property
    def params(self) -> list[str]:
        """The hyper-parameters of the space, in its order."""
        return list(self.space)

    @property
    def ok_trials(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t["status"] == "ok"]

    @property
    def failed_trials(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t["status"] != "ok"]

    @property
    def lost_trials(self) -> list[dict[str, Any]]:
        """Trials the runner lost (a worker or the scheduler gone), even after a retry: their
        configurations were never judged, so the best of the others is no verdict."""
        return [t for t in self.trials if t.get("lost")]

    @property
    def best_trial(self) -> dict[str, Any] | None:
        """The finished trial of lowest validation error (ties: lowest index); None if none."""
        ok = [t for t in self.trials if sort_key(t)[0] == 0]
        return min(ok, key=sort_key) if ok else None

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial's full configuration (defaults included), or None."""
        t = self.best_trial
        return None if t is None else resolve_config(t["config"])

    # -- the table ----------------------------------------------------------------------------
    def table(self) -> list[dict[str, Any]]:
        """One flat row per trial, best first: ``trial``, the hyper-parameters, then
        valid_error, train_error, epochs_trained, best_epoch, seconds, seed, status, error."""
        rows = []
        for t in sorted(self.trials, key=sort_key):
            row = {"trial": t["trial"]}
            row.update({p: t["config"].get(p) for p in self.params})
            row.update({c: t[c] for c in COLUMNS})
            rows.append(row)
        return rows

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`table` as CSV (hidden sizes as 100x100, failed errors empty)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self.table()
        columns = ["trial", *self.params, *COLUMNS]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for row in rows:
                w.writerow(
                    [
                        ""
                        if isinstance(v, float) and math.isnan(v)
                        else repr(v)
                        if isinstance(v, float)
                        else ""
                        if v is None
                        else format_value(v)
                        for v in (row[c] for c in columns)
                    ]
                )
        return path

    def format_table(self, max_rows: int | None = None) -> str:
        """The table as aligned text (what ``flowgraph search`` prints)."""
        rows = self.table()[:max_rows] if max_rows else self.table()
        columns = [
            "trial",
            *self.params,
            "valid_error",
            "train_error",
            "epochs_trained",
            "seconds",
            "status",
        ]

        def cell(c: str, v: Any) -> str:
            if c in ("valid_error", "train_error"):
                return "-" if math.isnan(v) else f"{v:.4f}"
            if c == "seconds":
                return f"{v:.2f}"
            return "-" if v is None else format_value(v)

        cells = [[cell(c, r[c]) for c in columns] for r in rows]
        for r, line in zip(rows, cells):
            if r["status"] != "ok":
                line[-1] = f"failed ({r['error']})"
        widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
        out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
        out += ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in cells]
        if max_rows and len(self.trials) > max_rows:
            out.append(f"... {len(self.trials) - max_rows} more trials")
        return "\n".join(out)

    def __str__(self) -> str:
        done = f"{len(self.trials)} of {self.n_planned} trials"
        if self.failed_trials:
            done += f", {len(self.failed_trials)} failed"
        lines = [f"{self.kind} search, {done}" + (" (interrupted)" if self.interrupted else "")]
        lines.append(self.format_table())
        if self.best is not None:
            t = self.best_trial
            lines.append(f"best: trial {t['trial']}, validation error {t['valid_error']:.4f}")  # type: ignore[index]  # (a best trial exists)
            lines.append("  " + ", ".join(f"{k}={format_value(v)}" for k, v in self.best.items()))
            if self.test_error is not None:
                lines.append(f"  test error {self.test_error:.4f}")
        return "\n".join(lines)

    # -- the picture --------------------------------------------------------------------------
    def varying(self) -> list[str]:
        """The hyper-parameters that take more than one value among the trials."""
        return [p for p in self.params if len({repr(t["config"].get(p)) for t in self.trials}) > 1]

    def plot(
        self,
        x: str | None = None,
        y: str | None = None,
        *,
        path: str | os.PathLike | None = None,
        title: str | None = None,
    ):
        """The validation error against the hyper-parameters; returns a matplotlib Figure,
        written to ``path`` (PNG) when given.

        A random search draws, by default, one scatter panel per hyper-parameter that varies:
        the validation error of each trial against its value, on a log axis where the space
        draws the value log-uniformly (random draws are distinct floats, so there are no
        cells to fill). A grid search draws, by default, a heat map of the lowest validation
        error per (x, y) cell of its first two varying hyper-parameters, or a line of the best
        error per value when only one varies. ``x`` alone: that hyper-parameter's panel;
        ``x`` and ``y``: the heat map for a grid, a scatter coloured by the error for random
        draws."""
        from matplotlib.figure import Figure

        varying = self.varying()
        for name in (x, y):
            if name is not None and name not in self.params:
                raise SearchError(
                    f"cannot plot {name!r}: the searched hyper-parameters are {self.params}"
                )
        if x is None:
            if not varying:
                raise SearchError("nothing to plot: no hyper-parameter takes two values")
            if self.kind == "random" or len(varying) == 1:
                panels = varying
            else:
                x, y = varying[0], varying[1] if y is None else y
        if x is not None:
            panels = [x] if y is None else []
        n_failed = len(self.failed_trials)
        heading = title or (
            f"{self.kind} search: {len(self.ok_trials)} trials"
            + (f", {n_failed} failed" if n_failed else "")
        )
        if panels:
            ncols = min(3, len(panels))
            nrows = -(-len(panels) // ncols)
            fig = Figure(figsize=(4.4 * ncols, 3.6 * nrows + 0.4), layout="constrained")
            axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
            for ax, name in zip(axes, panels):
                self._plot_line(ax, name, legend=ax is axes[0])
            for ax in axes[len(panels) :]:
                ax.set_visible(False)
            if len(panels) > 1:
                fig.suptitle(heading)
            else:
                axes[0].set_title(heading)
        else:
            fig = Figure(figsize=(7.2, 4.4), layout="constrained")
            ax = fig.subplots()
            self._plot_map(fig, ax, x, y)  # type: ignore[arg-type]  # (no panels: x and y are set)
            ax.set_title(heading)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(path, dpi=120)
        return fig

    def _log_scale(self, name: str, values: Sequence[Any]) -> bool:
        """Whether ``name`` goes on a log axis: drawn log-uniformly, or a grid of positive
        numbers spanning a factor of 20 or more."""
        entry = self.space.get(name)
        if isinstance(entry, Distribution):
            return "loguniform" in entry.to_json()
        pos = [float(v) for v in values if _is_number(v)]
        if len(pos) < len(values) or not pos or min(pos) <= 0:
            return False
        return max(pos) / min(pos) >= 20

    def _axis(self, name: str, values: Sequence[Any]):
        """(positions, ticks, labels, log) placing ``values`` on an axis."""
        if all(_is_number(v) for v in values):
            return [float(v) for v in values], None, None, self._log_scale(name, values)
        levels = sorted({format_value(v): v for v in values}.items(), key=lambda kv: _level(kv[1]))
        index = {label: i for i, (label, _) in enumerate(levels)}
        return [index[format_value(v)] for v in values], list(index.values()), list(index), False

    def _plot_line(self, ax, x: str, legend: bool = True) -> None:
        ok = self.ok_trials
        pos, ticks, labels, log = self._axis(x, [t["config"].get(x) for t in self.trials])
        where = {t["trial"]: p for t, p in zip(self.trials, pos)}
        px = [where[t["trial"]] for t in ok]
        errs = [t["valid_error"] for t in ok]
        ax.scatter(px, errs, s=18, color="#0072B2", alpha=0.7, label="trial", zorder=3)
        best_at: dict[float, float] = {}
        for p, e in zip(px, errs):
            best_at[p] = min(e, best_at.get(p, math.inf))
        if len(best_at) < len(px):  # values repeat (a grid): join the best per value
            keys = sorted(best_at)
            ax.plot(keys, [best_at[k] for k in keys], color="#0072B2", lw=1, label="best per value")
        failed = [where[t["trial"]] for t in self.failed_trials]
        if failed:
            ax.scatter(failed, [1.0] * len(failed), marker="x", color="#D55E00", label="failed")
        b = self.best_trial
        if b is not None:
            ax.scatter(
                [where[b["trial"]]],
                [b["valid_error"]],
                marker="*",
                s=160,
                color="#E69F00",
                edgecolor="k",
                zorder=4,
                label="best",
            )
        if ticks is not None:
            ax.set_xticks(ticks, labels)
            _readable_ticks(ax.get_xticklabels())
        if log:
            ax.set_xscale("log")
        drawn = "log-uniform" if log and isinstance(self.space.get(x), Distribution) else ""
        ax.set(xlabel=f"{x} ({drawn})" if drawn else x, ylabel="validation error")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3, lw=0.6)
        if legend:
            ax.legend(frameon=False, fontsize=8.5)

    def _plot_map(self, fig, ax, x: str, y: str) -> None:
        import numpy as np

        ok = self.ok_trials
        xs = [t["config"].get(x) for t in ok]
        ys = [t["config"].get(y) for t in ok]
        errs = [t["valid_error"] for t in ok]
        if not ok:
            raise SearchError("nothing to plot: every trial failed")
        x_levels = sorted({format_value(v): v for v in xs}.items(), key=lambda kv: _level(kv[1]))
        y_levels = sorted({format_value(v): v for v in ys}.items(), key=lambda kv: _level(kv[1]))
        # random draws are distinct floats: no cells to fill, a scatter coloured by the error
        if self.kind == "random" or len(x_levels) > 12 or len(y_levels) > 12:
            px, xticks, xlabels, xlog = self._axis(x, xs)
            py, yticks, ylabels, ylog = self._axis(y, ys)
            sc = ax.scatter(px, py, c=errs, cmap="viridis_r", s=30)
            fig.colorbar(sc, ax=ax, label="validation error")
            ax.set(
                xlabel=x,
                ylabel=y,
                xscale="log" if xlog else "linear",
                yscale="log" if ylog else "linear",
            )
            if xticks is not None:
                ax.set_xticks(xticks, xlabels)
                _readable_ticks(ax.get_xticklabels())
            if yticks is not None:
                ax.set_yticks(yticks, ylabels)
            return
        xi = {label: i for i, (label, _) in enumerate(x_levels)}
        yi = {label: i for i, (label, _) in enumerate(y_levels)}
        cells = np.full((len(yi), len(xi)), np.nan)
        for vx, vy, e in zip(xs, ys, errs):
            i, j = yi[format_value(vy)], xi[format_value(vx)]
            cells[i, j] = e if np.isnan(cells[i, j]) else min(cells[i, j], e)
        from matplotlib import colormaps

        cmap = colormaps["viridis_r"].with_extremes(bad="0.85")
        im = ax.imshow(np.ma.masked_invalid(cells), cmap=cmap, origin="lower", aspect="auto")
        failed = {
            (format_value(t["config"].get(y)), format_value(t["config"].get(x)))
            for t in self.failed_trials
        }
        size = 9 if cells.size <= 30 else 7.5 if cells.size <= 80 else 6
        for (i, j), e in np.ndenumerate(cells):
            key = (y_levels[i][0], x_levels[j][0])
            text = f"{e:.3f}" if not np.isnan(e) else "failed" if key in failed else ""
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=size,
                color="w" if e > np.nanmean(cells) else "k",
            )
        ax.set_xticks(range(len(xi)), list(xi))
        ax.set_yticks(range(len(yi)), list(yi))
        _readable_ticks(ax.get_xticklabels())
        ax.set(xlabel=x, ylabel=y)
        fig.colorbar(im, ax=ax, label="lowest validation error")


def _readable_ticks(labels) -> None:
    # many or long category labels on an x axis: smaller and slanted, so they do not overlap
    texts = [t.get_text() for t in labels]
    if len(texts) > 6 or sum(len(t) for t in texts) > 40:
        for t in labels:
            t.set_rotation(35)
            t.set_horizontalalignment("right")
            t.set_fontsize(8)


def _level(v: Any) -> tuple[int, Any, Any]:
    # a sort key for mixed axis values: numbers by value, tuples (hidden) by depth then widths
    if _is_number(v):
        return (0, float(v), "")
    if isinstance(v, tuple):
        return (1, len(v), v)
    return (2, 0, str(v))
