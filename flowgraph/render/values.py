"""Values and gradients in a node's label: shape, mean, std, min and max of the finite entries
(the numbers themselves for tiny arrays), and a warning for NaN and inf."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .style import MUTED, STYLE, esc, font, num, shape_text

__all__ = ["TINY", "Summary", "summarize", "nonfinite", "numbers_html", "warning", "stats_rows"]

TINY = 6  # arrays with at most this many elements show their numbers


@dataclass
class Summary:
    """Shape, mean, std, min, max of the finite entries, and counts of NaN and inf."""

    shape: tuple[int, ...]
    numbers: np.ndarray | None = None  # the array itself when tiny
    stats: tuple[float, float, float, float] | None = None
    n_nan: int = 0
    n_inf: int = 0
    dtype: str | None = None  # set for arrays that are not real numbers

    @property
    def finite(self) -> bool:
        return self.n_nan == 0 and self.n_inf == 0

    def problem(self) -> str:
        """``2 NaN, 1 inf``: what is not finite."""
        parts = []
        if self.n_nan:
            parts.append(f"{self.n_nan} NaN")
        if self.n_inf:
            parts.append(f"{self.n_inf} inf")
        return ", ".join(parts)


def summarize(value: Any) -> Summary:
    """The :class:`Summary` of an array (integer labels keep integer bounds).

    >>> s = summarize(np.array([1.0, np.nan, 3.0, 5.0, 7.0, 9.0, 11.0]))
    >>> [round(float(v), 3) for v in s.stats], s.problem()
    ([6.0, 3.416, 1.0, 11.0], '1 NaN')
    """
    arr = np.asarray(value)
    s = Summary(shape=tuple(arr.shape))
    if arr.dtype.kind in "fc":
        s.n_nan = int(np.isnan(arr).sum())
        s.n_inf = int(np.isinf(arr).sum())
    if arr.dtype.kind not in "biuf":  # strings, objects, complex: the shape and dtype only
        s.dtype = str(arr.dtype)
        return s
    if arr.size <= TINY and arr.ndim <= 2:
        s.numbers = arr
        return s
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f" and not s.finite:
        flat = flat[np.isfinite(flat)]
    if flat.size:
        f64 = flat.astype(np.float64)
        lo, hi = flat.min(), flat.max()
        if arr.dtype.kind != "f":  # integer labels keep integer bounds
            lo, hi = int(lo), int(hi)
        s.stats = (float(f64.mean()), float(f64.std()), lo, hi)
    return s


def nonfinite(value: Any) -> bool:
    """Whether ``value`` (None: no) holds NaN or inf."""
    if value is None:
        return False
    arr = np.asarray(value)
    return arr.dtype.kind in "fc" and not bool(np.all(np.isfinite(arr)))


def numbers_html(arr: np.ndarray) -> str:
    """The entries of a tiny array as a small grid (a row per matrix row)."""
    if arr.ndim == 0:
        return font(esc(num(arr.item(), 5)))
    rows = arr.reshape(1, -1) if arr.ndim == 1 else arr
    cells = "".join(
        "<TR>" + "".join(f'<TD ALIGN="RIGHT">{esc(num(v, 3))}</TD>' for v in row) + "</TR>"
        for row in rows.tolist()
    )
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>'


def warning(text: str) -> str:
    """``⚠ text`` in bold, in the failure colour."""
    return font(f"<B>⚠ {esc(text)}</B>", color=STYLE["fail"][1])


def stats_rows(rows: list[tuple[str, Any]]) -> list[str]:
    """Table rows for ``[("value", array), ("grad", array or None)]``: a header with the
    shape and the column names, then one row per array."""
    summaries = [(what, None if v is None else summarize(v)) for what, v in rows]
    shapes = {s.shape for _, s in summaries if s is not None}
    shape = shape_text(next(iter(shapes))) if len(shapes) == 1 else ""
    out = []
    if any(s is not None and s.stats is not None for _, s in summaries):
        head = "".join(
            f'<TD ALIGN="RIGHT" CELLPADDING="2">{font(h, size=8, color=MUTED)}</TD>'
            for h in ("mean", "std", "min", "max")
        )
        out.append(f'<TR><TD ALIGN="LEFT">{font(esc(shape), size=8, color=MUTED)}</TD>{head}</TR>')
    elif shape:
        out.append(
            f'<TR><TD ALIGN="LEFT" COLSPAN="5">{font(esc(shape), size=8, color=MUTED)}</TD></TR>'
        )
    for what, s in summaries:
        label = f'<TD ALIGN="LEFT">{font(what, color=MUTED)}</TD>'
        if s is not None and len(shapes) > 1:  # value and grad of different shapes: say so
            label = (
                f'<TD ALIGN="LEFT">{font(f"{what} {esc(shape_text(s.shape))}", color=MUTED)}</TD>'
            )
        out.append(f"<TR>{label}{_stats_cells(s)}</TR>")
        if s is not None and not s.finite and (s.stats is not None or s.numbers is not None):
            out.append(
                f'<TR><TD ALIGN="LEFT" COLSPAN="5">{warning(what + ": " + s.problem())}</TD></TR>'
            )
    return out


def _stats_cells(s: Summary | None) -> str:
    """The cells after a row's name: mean, std, min, max; the numbers; or what is missing."""
    if s is None:
        return f'<TD ALIGN="LEFT" COLSPAN="4">{font("—", color=MUTED)}</TD>'
    if s.numbers is not None:
        return f'<TD ALIGN="LEFT" COLSPAN="4">{numbers_html(s.numbers)}</TD>'
    if s.stats is not None:
        return "".join(f'<TD ALIGN="RIGHT" CELLPADDING="2">{esc(num(v))}</TD>' for v in s.stats)
    if s.dtype is not None:
        return f'<TD ALIGN="LEFT" COLSPAN="4">{font(esc(s.dtype), color=MUTED)}</TD>'
    return f'<TD ALIGN="LEFT" COLSPAN="4">{warning("all non-finite: " + s.problem())}</TD>'
