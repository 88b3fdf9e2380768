"""What every experiment shares: its claims, its outcome, figures in one style, small helpers.

An experiment is a function ``run(ds, quick, seed) -> Outcome``: the numbers (for the JSON),
a matplotlib Figure (drawn on a ``matplotlib.figure.Figure``, whatever the backend), the
summary lines the CLI prints, and the :class:`Claim` objects it makes. Each module lists the
statements it checks in a ``CLAIMS`` dict at its top, so that a reader sees what the run
asserts before reading how.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ...optim import SGD
from ...training import train

__all__ = [
    "Claim",
    "Outcome",
    "claim",
    "figure",
    "style",
    "jsonable",
    "fit",
    "pool",
    "examples",
    "counted",
]

# Okabe-Ito colours: distinguishable by colour-blind readers, as in History.plot
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
)


@dataclass(frozen=True)
class Claim:
    """One statement an experiment makes, whether its own numbers bear it out, and the numbers.

    ``numbers`` holds what the verdict was computed from (thresholds included), so a reader of
    the JSON can check it by hand.
    """

    statement: str
    holds: bool
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"statement": self.statement, "holds": bool(self.holds), "numbers": self.numbers}

    def __str__(self) -> str:
        nums = ", ".join(f"{k} = {_short(v)}" for k, v in self.numbers.items())
        verdict = "holds" if self.holds else "DOES NOT HOLD"
        return f"claim {verdict}: {self.statement}" + (f"  ({nums})" if nums else "")


@dataclass
class Outcome:
    """What an experiment returns: ``results`` (JSON numbers), ``figure``, ``lines`` (the
    printed summary) and ``claims``."""

    results: dict[str, Any]
    figure: Any
    lines: list[str]
    claims: list[Claim]


def claim(claims: Mapping[str, str], key: str, holds: Any, **numbers: Any) -> Claim:
    """The claim ``claims[key]`` (a module's CLAIMS), formatted with ``numbers``, with its
    verdict ``holds``."""
    return Claim(claims[key].format(**numbers), bool(holds), jsonable(numbers))


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 6:
        return "[" + ", ".join(_short(x) for x in v[:6]) + ", ...]"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return str(v)


def figure(ncols: int, *, width: float = 4.6, height: float = 3.8, nrows: int = 1):
    """A matplotlib Figure (no pyplot, no backend change) of ``nrows x ncols`` panel sizes."""
    return Figure(figsize=(width * ncols, height * nrows), layout="constrained", dpi=110)


def style(ax, xlabel: str, ylabel: str, title: str, legend: bool = True, **legend_kw) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3, lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8.5, **legend_kw)


def jsonable(x: Any) -> Any:
    """``x`` with NumPy scalars and arrays as Python numbers and lists; NaN and inf as None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if np.isfinite(v) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def fit(model, data, *, epochs, batch_size, lr, momentum=0.9, seed=0, callbacks=(), **kw):
    """Train ``model`` on ``data`` with SGD (momentum ``momentum``), silently; the History."""
    opt = SGD(model.parameters, lr=lr, momentum=momentum, **kw)
    return train(
        model,
        data,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=opt,
        seed=seed,
        progress=False,
        callbacks=callbacks,
    )


def pool(X: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """Average 2 x 2 blocks of pixels (8 x 8 digits -> 4 x 4): few parameters, for Newton."""
    if not shape or shape[0] % 2 or shape[1] % 2:
        return X
    h, w = shape
    return X.reshape(len(X), h // 2, 2, w // 2, 2).mean(axis=(2, 4)).reshape(len(X), -1)


def examples(ds: dict[str, Any]) -> str:
    """What one example of the data set is called in a sentence: "digits", "images", "points"."""
    if ds.get("image_shape") is None:
        return "points"
    return "digits" if ds["name"] in ("digits", "mnist") else "images"


def counted(ds: dict[str, Any], n: int) -> str:
    """``n`` examples of the data set in words: "60 digits", "60 mnist digits", "60 moons
    points"."""
    what = examples(ds)
    return f"{n} {what}" if ds["name"] == "digits" else f"{n} {ds['name']} {what}"
