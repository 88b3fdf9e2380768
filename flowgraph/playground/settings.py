"""What the page lets a person choose, checked: one :class:`Settings` is one reproducible run.

Settings travel as a flat mapping of short names to strings (the page's query string, so a
link reproduces a setting) or to JSON numbers and lists. :func:`parse` checks every field
against its limits and raises :class:`SettingsError` with a sentence naming the field, the
value and what is allowed; nothing the page sends is trusted before that. ``to_query`` writes
the canonical query string back, omitting the fields left at their defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlencode

from ..errors import FlowgraphError
from ..optim import SCHEDULES

__all__ = [
    "Settings",
    "SettingsError",
    "parse",
    "CLASSIFICATION",
    "UPLOAD",
    "REGRESSION",
    "FEATURES",
    "LIMITS",
]

CLASSIFICATION = ("moons", "circles", "spirals", "xor", "blobs")
UPLOAD = "upload"  # a classification data set of the tab's uploaded CSV (Settings.data)
REGRESSION = ("plane", "bumps", "saddle", "waves")
FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
INITS = ("glorot", "zeros", "constant")

# the limits the page's controls show; the server refuses anything outside them
LIMITS = {
    "n": (20, 2000),
    "noise": (0.0, 1.0),
    "ratio": (10, 90),
    "layers": (0, 6),
    "width": (1, 16),
    "lr": (1e-6, 10.0),
    "momentum": (0.0, 0.99),
    "batch": (1, 2000),
    "decay": (0.0, 10.0),
    "lam": (0.0, 10.0),
    "dropout": (0.0, 0.9),
    "seed": (0, 2**31 - 1),
    "speed": (1, 1000),
    "points": (0, 500),
}


class SettingsError(FlowgraphError, ValueError):
    """A setting from the page is malformed or out of range; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """One run of the playground. Data: ``problem`` (classification or regression),
    ``dataset``, ``n`` points, Gaussian ``noise`` (in the plane's units), the training
    percentage ``ratio`` (the rest is the test set) and the ``points`` added by clicking,
    (x1, x2, class or target). Network: ``hidden`` widths H_1 .. H_L, activation g, weight
    initialisation, input ``features``, the penalties' lambdas ``l2`` and ``l1`` and the
    ``dropout`` probability of the hidden units (0: none). SGD: rate
    alpha = ``lr``, ``momentum`` beta, ``batch`` size, ``schedule`` with its ``decay`` delta.
    ``seed`` draws the data, the split, the initial weights and the batch order; ``speed``
    is the number of SGD steps between two pictures. ``data``: the points of an uploaded CSV
    (x1, x2, class), in the plane's units, when ``dataset`` is ``upload`` (kept by the
    session, not in the query string nor in :meth:`to_dict`)."""

    problem: str = "classification"
    dataset: str = "moons"
    n: int = 300
    noise: float = 0.1
    ratio: int = 50
    hidden: tuple[int, ...] = (6, 6)
    activation: str = "tanh"
    init: str = "glorot"
    features: tuple[str, ...] = ("x1", "x2")
    l2: float = 0.0
    l1: float = 0.0
    dropout: float = 0.0
    lr: float = 0.03
    momentum: float = 0.9
    batch: int = 10
    schedule: str = "constant"
    decay: float = 0.0
    seed: int = 0
    speed: int = 10
    points: tuple[tuple[float, float, float], ...] = field(default_factory=tuple)
    data: tuple[tuple[float, float, float], ...] = field(default_factory=tuple, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples (without the uploaded ``data``)."""
        d = asdict(self)
        del d["data"]
        d["hidden"] = list(self.hidden)
        d["features"] = list(self.features)
        d["points"] = [list(p) for p in self.points]
        return d

    def to_query(self) -> str:
        """The canonical query string: only the fields that differ from the defaults."""
        default = Settings()
        pairs = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "data" or value == getattr(default, f.name):
                continue
            pairs.append((f.name, _format(f.name, value)))
        return urlencode(pairs, safe=",;")

    def with_point(self, x1: Any, x2: Any, label: Any) -> Settings:
        """These settings with one more clicked point (checked like the rest)."""
        return parse({**self.to_dict(), "points": [*self.to_dict()["points"], [x1, x2, label]]},
                     upload=self.data)  # fmt: skip

    @property
    def n_classes(self) -> int:
        if self.dataset == UPLOAD:
            return int(max(p[2] for p in self.data)) + 1
        return 3 if self.dataset == "blobs" else 2


def _format(name: str, value: Any) -> str:
    if name in ("hidden", "features"):
        return ",".join(str(v) for v in value)
    if name == "points":
        return ";".join(",".join(_short(v) for v in p) for p in value)
    if isinstance(value, float):
        return _short(value)
    return str(value)


def _short(v: float) -> str:
    return f"{v:.4g}" if not float(v).is_integer() else str(int(v))


# -- parsing ----------------------------------------------------------------------------------
def _number(name: str, raw: Any, kind: type, low: float, high: float) -> Any:
    if isinstance(raw, bool):
        raise SettingsError(f"{name} must be a number, got {raw!r}")
    if isinstance(raw, str):
        text = raw.strip()
        try:
            value = float(text) if kind is float else int(text, 10)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise SettingsError(f"{name} must be {what}, got {raw!r}") from None
    elif isinstance(raw, (int, float)):
        value = raw
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise SettingsError(f"{name} must be a whole number, got {raw!r}")
            if isinstance(raw, float) and not math.isfinite(raw):
                raise SettingsError(f"{name} must be a finite number, got {raw!r}")
            value = int(raw)
    else:
        raise SettingsError(f"{name} must be a number, got {type(raw).__name__} {raw!r}")
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be a finite number, got {raw!r}")
    if not low <= value <= high:
        raise SettingsError(f"{name} must lie in [{_short(low)}, {_short(high)}], got {raw!r}")
    return value


def _choice(name: str, raw: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        raise SettingsError(f"unknown {name} {raw!r}; choose one of {', '.join(allowed)}")
    return raw


def _items(name: str, raw: Any, sep: str) -> list[Any]:
    if isinstance(raw, str):
        text = raw.strip()
        return [t.strip() for t in text.split(sep)] if text else []
    if isinstance(raw, (list, tuple)):
        return list(raw)
    raise SettingsError(f"{name} must be a list, got {type(raw).__name__} {raw!r}")


def _hidden(raw: Any) -> tuple[int, ...]:
    items = _items("hidden", raw, ",")
    if items in ([0], ["0"]):  # "0" reads as "no hidden layer", like flowgraph search's sizes
        items = []
    lo, hi = LIMITS["layers"]
    if len(items) > hi:
        raise SettingsError(f"hidden: at most {hi} hidden layers, got {len(items)}")
    w_lo, w_hi = LIMITS["width"]
    return tuple(
        _number(f"hidden layer {k} width", v, int, w_lo, w_hi) for k, v in enumerate(items, 1)
    )


def _features(raw: Any) -> tuple[str, ...]:
    items = _items("features", raw, ",")
    if not items:
        raise SettingsError("features: choose at least one input feature")
    for v in items:
        _choice("feature", v, FEATURES)
    if len(set(items)) != len(items):
        raise SettingsError(f"features: each feature at most once, got {items}")
    return tuple(f for f in FEATURES if f in items)  # canonical order


def _points(raw: Any, problem: str, n_classes: int) -> tuple[tuple[float, float, float], ...]:
    items = _items("points", raw, ";")
    hi = LIMITS["points"][1]
    if len(items) > hi:
        raise SettingsError(f"points: at most {hi} added points, got {len(items)}")
    out = []
    for i, p in enumerate(items, 1):
        coords = _items(f"point {i}", p, ",")
        if len(coords) != 3:
            raise SettingsError(f"point {i} must be x1,x2,label (three numbers), got {p!r}")
        x1 = _number(f"point {i} x1", coords[0], float, -1.5, 1.5)
        x2 = _number(f"point {i} x2", coords[1], float, -1.5, 1.5)
        if problem == "classification":
            label = float(_number(f"point {i} class", coords[2], int, 0, n_classes - 1))
        else:
            label = _number(f"point {i} target", coords[2], float, -1.0, 1.0)
        out.append((round(x1, 4), round(x2, 4), label))
    return tuple(out)


def parse(raw: Mapping[str, Any] | None, upload: tuple = ()) -> Settings:
    """Settings from a mapping of field names to strings, numbers or lists; missing fields
    keep their defaults. Raises :class:`SettingsError` on an unknown field or a bad value.
    ``upload``: the points of the tab's uploaded CSV, the data of the data set ``upload``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SettingsError(f"settings must be an object of name: value, got {type(raw).__name__}")
    names = {f.name for f in fields(Settings)} - {"data"}
    unknown = sorted(str(k) for k in raw if k not in names)
    if unknown:
        raise SettingsError(f"unknown setting {', '.join(unknown)}; settings are {sorted(names)}")
    d = Settings()
    problem = _choice("problem", raw.get("problem", d.problem), ("classification", "regression"))
    datasets = (*CLASSIFICATION, UPLOAD) if problem == "classification" else REGRESSION
    default_data = d.dataset if problem == "classification" else REGRESSION[0]
    dataset = _choice(f"{problem} dataset", raw.get("dataset", default_data), datasets)
    s = replace(
        d,
        problem=problem,
        dataset=dataset,
        n=_number("n (number of points)", raw.get("n", d.n), int, *LIMITS["n"]),
        noise=_number("noise", raw.get("noise", d.noise), float, *LIMITS["noise"]),
        ratio=_number("ratio (training %)", raw.get("ratio", d.ratio), int, *LIMITS["ratio"]),
        hidden=_hidden(raw.get("hidden", d.hidden)),
        activation=_choice("activation", raw.get("activation", d.activation), ACTIVATIONS),
        init=_choice("init", raw.get("init", d.init), INITS),
        features=_features(raw.get("features", d.features)),
        l2=_number("l2 lambda", raw.get("l2", d.l2), float, *LIMITS["lam"]),
        l1=_number("l1 lambda", raw.get("l1", d.l1), float, *LIMITS["lam"]),
        dropout=_number("dropout", raw.get("dropout", d.dropout), float, *LIMITS["dropout"]),
        lr=_number("learning rate", raw.get("lr", d.lr), float, *LIMITS["lr"]),
        momentum=_number("momentum", raw.get("momentum", d.momentum), float, *LIMITS["momentum"]),
        batch=_number("batch size", raw.get("batch", d.batch), int, *LIMITS["batch"]),
        schedule=_choice("schedule", raw.get("schedule", d.schedule), tuple(SCHEDULES)),
        decay=_number("decay", raw.get("decay", d.decay), float, *LIMITS["decay"]),
        seed=_number("seed", raw.get("seed", d.seed), int, *LIMITS["seed"]),
        speed=_number(
            "speed (steps per picture)", raw.get("speed", d.speed), int, *LIMITS["speed"]
        ),
    )
    if s.schedule == "power" and not 0.5 < s.decay <= 1:
        raise SettingsError(
            f"the power schedule alpha / t^delta needs 0.5 < decay <= 1, got decay = {s.decay:g}"
        )
    if dataset == UPLOAD and not upload:
        raise SettingsError("the data set 'upload' holds the points of a CSV file: upload one "
                            "first (x1, x2, label)")  # fmt: skip
    s = replace(s, data=tuple(upload) if dataset == UPLOAD else ())
    return replace(s, points=_points(raw.get("points", ()), problem, s.n_classes))
