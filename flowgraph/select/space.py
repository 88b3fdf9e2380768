"""Search spaces: the hyper-parameters a trial may set, grids of values and random distributions.

A configuration maps hyper-parameter names to values; what it leaves out takes its default
from :data:`DEFAULTS`, the same as ``flowgraph train``'s (:mod:`flowgraph.training.defaults`:
momentum 0.9, alpha / (1 + delta t) with alpha = 0.2 and delta = 1e-3, L2 3e-4, two layers of
100 tanh units, batches of 32, 200 epochs at most with early stopping after 30). The names and
what they set::

    optimizer   sgd, nesterov, adagrad, rmsprop, adam or adamw (flowgraph.optim; default sgd)
    lr          alpha, the learning rate (alpha_t = alpha for the constant schedule); default
                by optimizer: 0.2 for sgd and nesterov, 0.1 adagrad, 0.003 rmsprop, adam
                and adamw (flowgraph.training.defaults.LR_BY_OPTIMIZER)
    schedule    "constant", "inverse" alpha / (1 + delta t) or "power" alpha / t^delta
                (None: constant when decay = 0, inverse otherwise)
    decay       delta, the decrease constant of the schedule (default: the schedule's own,
                1e-3 for inverse and 0.6 for power)
    warmup      updates kept at the fixed rate alpha before the schedule decreases it
    momentum    beta in grad_bar(t) = grad + beta grad_bar(t-1) (sgd and nesterov: default
                0.9; rmsprop: its momentum, default 0; adagrad, adam and adamw take none)
    hidden      the hidden widths (H_1, ..., H_L): 100, "100x100" or (100, 100); 0 or () for none
    activation  g: tanh, sigmoid, relu or identity
    l2, l1      lambda of the penalties l2 sum ||W(k)||_F^2 and l1 sum |W(k)|
    batch_size  examples per update
    epochs      passes over the training set (at most, with early stopping)
    patience    look-ahead of early stopping in epochs (None: no early stopping)

Random search draws each hyper-parameter from its own stream, seeded by the trial's seed and
the name (so adding a hyper-parameter to a space leaves the draws of the others unchanged).
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FlowgraphError
from ..optim import SCHEDULES
from ..training.defaults import HYPERPARAMETERS

__all__ = [
    "DEFAULTS",
    "SearchError",
    "Distribution",
    "loguniform",
    "uniform",
    "randint",
    "choice",
    "grid_configs",
    "sample_config",
    "trial_seed",
    "normalize_value",
    "parse_hidden",
    "format_value",
    "distribution_from_json",
    "check_plan_values",
]

# what a trial trains with for every name its configuration does not set: the same defaults
# as `flowgraph train` (flowgraph.training.defaults); the decay follows the schedule unless given
DEFAULTS: dict[str, Any] = dict(HYPERPARAMETERS)


class SearchError(FlowgraphError, ValueError):
    """A search was specified wrongly: an unknown hyper-parameter, a bad value or range, a
    checkpoint written by another search."""


def check_names(names: Sequence[str], what: str = "search space") -> None:
    """Raise :class:`SearchError` naming every unknown hyper-parameter."""
    unknown = [n for n in names if n not in DEFAULTS]
    if unknown:
        raise SearchError(
            f"unknown hyper-parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))} in the {what}; known: {', '.join(DEFAULTS)}"
        )


def parse_hidden(value: Any) -> tuple[int, ...]:
    """The hidden widths (H_1, ..., H_L) from 100, "100x100", "100,50" or (100, 100).

    0, "0", "" and () mean no hidden layer (a linear softmax classifier)."""
    if isinstance(value, (bool, np.bool_)):
        raise SearchError(f"hidden: {value!r} is not a list of layer widths")
    if isinstance(value, (int, np.integer)):
        parts: list[Any] = [] if value == 0 else [value]
    elif isinstance(value, str):
        text = value.strip().lower().replace(",", "x")
        parts = [] if text in ("", "0", "none") else text.split("x")
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise SearchError(f"hidden: {value!r} is not a list of layer widths (e.g. 100x100)")
    widths = []
    for p in parts:
        try:
            w = int(p) if not isinstance(p, float) or p.is_integer() else None
        except (TypeError, ValueError):
            w = None
        if w is None or w < 1 or isinstance(p, bool):
            raise SearchError(
                f"hidden: {value!r} is not a list of positive layer widths (e.g. 50 or 100x100)"
            )
        widths.append(w)
    return tuple(widths)


def normalize_value(name: str, value: Any) -> Any:
    """A value in its canonical form: Python scalars, hidden as a tuple of ints.

    Only the form changes; whether a value makes sense (an activation that exists, a positive
    learning rate) is the trial's to find out, so one bad value fails one trial, not a search.
    """
    if name == "hidden":
        return parse_hidden(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_value(value: Any) -> str:
    """A value as a table cell or CLI token: hidden (100, 100) is '100x100', () is '0'."""
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value) if value else "0"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def trial_seed(seed: int, index: int) -> int:
    """The seed of random trial ``index`` of a search seeded with ``seed``.

    Trial i's seed is drawn from ``SeedSequence(seed, spawn_key=(i,))``, the i-th child of
    ``SeedSequence(seed).spawn``: independent of the other trials and of how many there are."""
    if int(index) < 0:
        raise SearchError(f"trial index must be >= 0, got {index}")
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(index),))
    return int(ss.generate_state(1, np.uint32)[0])


# -- distributions ------------------------------------------------------------------------------


class Distribution:
    """A distribution a hyper-parameter is drawn from. ``sample(rng)`` returns a Python value."""

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_json(self) -> dict[str, list[Any]]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class _LogUniform(Distribution):
    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def to_json(self) -> dict[str, list[Any]]:
        return {"loguniform": [self.low, self.high]}

    def __repr__(self) -> str:
        return f"loguniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class _Uniform(Distribution):
    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def to_json(self) -> dict[str, list[Any]]:
        return {"uniform": [self.low, self.high]}

    def __repr__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class _RandInt(Distribution):
    low: int
    high: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high))

    def to_json(self) -> dict[str, list[Any]]:
        return {"randint": [self.low, self.high]}

    def __repr__(self) -> str:
        return f"randint({self.low}, {self.high})"


@dataclass(frozen=True)
class _Choice(Distribution):
    options: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]

    def to_json(self) -> dict[str, list[Any]]:
        return {"choice": [list(o) if isinstance(o, tuple) else o for o in self.options]}

    def __repr__(self) -> str:
        return f"choice({list(self.options)!r})"


class _Rvs(Distribution):
    """Any object with ``rvs(random_state=...)``, such as a frozen ``scipy.stats`` distribution
    (``scipy.stats.loguniform(1e-3, 1)``, ``scipy.stats.randint(16, 129)``): one draw per
    trial from the trial's stream, so the search stays reproducible."""

    def __init__(self, dist: Any):
        self.dist = dist

    def sample(self, rng: np.random.Generator) -> Any:
        value = np.asarray(self.dist.rvs(random_state=rng))
        if value.size != 1:
            raise SearchError(f"{self!r}.rvs() gave {value.size} values, not one")
        return value.reshape(()).item()

    def to_json(self) -> dict[str, list[Any]]:
        return {"rvs": [repr(self)]}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rvs) and other.dist is self.dist

    def __hash__(self) -> int:
        return hash(id(self.dist))

    def __repr__(self) -> str:
        dist = getattr(self.dist, "dist", None)  # scipy's frozen distributions: dist, args, kwds
        if dist is None or not hasattr(dist, "name"):
            return repr(self.dist)
        args = [repr(a) for a in getattr(self.dist, "args", ())]
        args += [f"{k}={v!r}" for k, v in getattr(self.dist, "kwds", {}).items()]
        return f"scipy.stats.{dist.name}({', '.join(args)})"


def _bounds(kind: str, low: Any, high: Any) -> tuple[float, float]:
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise SearchError(f"{kind}(low, high) needs two numbers, got {low!r}, {high!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise SearchError(f"{kind}(low, high) needs finite low < high, got {low:g}, {high:g}")
    return low, high


def loguniform(low: float, high: float) -> Distribution:
    """log x ~ U[log low, log high]: every decade equally likely (for alpha, lambda, delta)."""
    low, high = _bounds("loguniform", low, high)
    if low <= 0:
        raise SearchError(f"loguniform(low, high) needs 0 < low, got low = {low:g}")
    return _LogUniform(low, high)


def uniform(low: float, high: float) -> Distribution:
    """x ~ U[low, high] (for beta, the momentum)."""
    return _Uniform(*_bounds("uniform", low, high))


def randint(low: int, high: int) -> Distribution:
    """An integer k with low <= k < high, all equally likely (numpy's and scipy's convention)."""
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (low, high)):
        raise SearchError(f"randint(low, high) needs two integers, got {low!r}, {high!r}")
    if not low < high:
        raise SearchError(
            f"randint(low, high) draws low <= k < high: needs low < high, got {low}, {high}"
        )
    return _RandInt(int(low), int(high))


def choice(options: Sequence[Any]) -> Distribution:
    """One of ``options``, all equally likely (for activations, hidden sizes, schedules)."""
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence) or not options:
        raise SearchError(f"choice(options) needs a non-empty list, got {options!r}")
    return _Choice(tuple(options))


_BY_NAME: dict[str, Callable[..., Distribution]] = {
    "loguniform": loguniform, "uniform": uniform, "randint": randint, "choice": choice
}


def distribution_from_json(name: str, spec: Any) -> Any:
    """A search-space entry read from JSON: ``{"loguniform": [1e-3, 1]}``, ``{"uniform": [0,
    0.9]}``, ``{"randint": [16, 129]}``, ``{"choice": [...]}``, a list (a choice, or in a grid
    the values) or a single fixed value."""
    if isinstance(spec, dict):
        if len(spec) != 1 or next(iter(spec)) not in _BY_NAME:
            raise SearchError(
                f"{name}: a distribution is one of {{'loguniform': [low, high]}}, "
                f"{{'uniform': [low, high]}}, {{'randint': [low, high]}}, "
                f"{{'choice': [...]}}; got {spec!r}"
            )
        kind, args = next(iter(spec.items()))
        if kind == "choice":
            return choice(args)
        if not isinstance(args, list) or len(args) != 2:
            raise SearchError(f"{name}: {kind} takes [low, high], got {args!r}")
        return _BY_NAME[kind](*args)
    return spec


# -- configurations -----------------------------------------------------------------------------


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _whole(v: Any) -> bool:
    return _number(v) and float(v).is_integer()


# what a value must satisfy for any trial to use it: (test, what it must be)
_VALID: dict[str, tuple[Any, str]] = {
    "lr": (lambda v: _number(v) and 0 < v < math.inf, "a learning rate > 0"),
    "decay": (lambda v: _number(v) and 0 <= v < math.inf, "a decay >= 0"),
    "warmup": (lambda v: _whole(v) and v >= 0, "a whole number of updates >= 0"),
    "momentum": (lambda v: _number(v) and 0 <= v < 1, "a momentum in [0, 1)"),
    "l2": (lambda v: _number(v) and 0 <= v < math.inf, "a penalty weight >= 0"),
    "l1": (lambda v: _number(v) and 0 <= v < math.inf, "a penalty weight >= 0"),
    "batch_size": (lambda v: _whole(v) and v >= 1, "a whole batch size >= 1"),
    "epochs": (lambda v: _whole(v) and v >= 1, "a whole number of epochs >= 1"),
    "patience": (lambda v: v is None or (_whole(v) and v >= 1), "None or a whole number >= 1"),
    "schedule": (
        lambda v: v is None or v in SCHEDULES,
        "None or one of " + ", ".join(SCHEDULES),
    ),
    "activation": (lambda v: v in ("tanh", "sigmoid", "relu", "identity"),
                   "tanh, sigmoid, relu or identity"),  # fmt: skip
}


def check_value(name: str, value: Any, where: str = "") -> None:
    """Refuse, before any trial runs, a value that no trial could use (``epochs = -1``)."""
    rule = _VALID.get(name)
    if rule is not None and not rule[0](value):
        raise SearchError(f"{name}{where} = {value!r} cannot be used: {name} must be {rule[1]}")


def _check_distribution(name: str, d: Any) -> None:
    """Each end of a range, each option of a choice, or the fixed value, through check_value."""
    if isinstance(d, _Choice):
        for o in d.options:
            check_value(name, o, " (an option of the choice)")
    elif isinstance(d, _Uniform | _LogUniform):
        check_value(name, d.low, f" (the low end of {d!r})")
        check_value(name, float(np.nextafter(d.high, d.low)), f" (near the high end of {d!r})")
    elif isinstance(d, _RandInt):
        check_value(name, d.low, f" (the low end of {d!r})")
        check_value(name, d.high - 1, f" (the high end of {d!r})")
    elif not isinstance(d, Distribution):
        check_value(name, d)


def grid_configs(space: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the values in ``space``, in a fixed order (the last name varies
    fastest). A list gives a hyper-parameter's values; any other value is fixed."""
    if not isinstance(space, Mapping):
        raise SearchError(
            f"the grid must map hyper-parameter names to lists of values, got "
            f"{type(space).__name__}"
        )
    check_names(list(space), "grid")
    names, values = [], []
    for name, v in space.items():
        if isinstance(v, Distribution):
            raise SearchError(
                f"{name}: a grid takes a list of values, not {v!r}; "
                "use random_search for distributions"
            )
        vals = list(v) if isinstance(v, list) else [v]
        if not vals:
            raise SearchError(f"{name}: the grid lists no values")
        names.append(name)
        values.append([normalize_value(name, x) for x in vals])
        for x in values[-1]:
            check_value(name, x)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def check_distributions(distributions: Mapping[str, Any]) -> dict[str, Any]:
    """``distributions`` with lists turned into choices and choices of hidden sizes parsed."""
    if not isinstance(distributions, Mapping):
        raise SearchError(
            f"distributions must map hyper-parameter names to distributions, got "
            f"{type(distributions).__name__}"
        )
    check_names(list(distributions), "distributions")
    out: dict[str, Any] = {}
    for name, d in distributions.items():
        if isinstance(d, list):
            d = choice(d)
        if isinstance(d, _Choice):
            d = _Choice(tuple(normalize_value(name, o) for o in d.options))
        elif not isinstance(d, Distribution) and callable(getattr(d, "rvs", None)):
            d = _Rvs(d)  # scipy.stats and anything else with rvs(random_state=)
        elif not isinstance(d, Distribution):
            d = normalize_value(name, d)
        _check_distribution(name, d)
        out[name] = d
    return out


def check_plan_values(distributions: Mapping[str, Any], configs: Sequence[Mapping[str, Any]]):
    """Refuse, before any trial runs, a drawn value no trial could use (:func:`check_value`).

    The ends of the package's own distributions are checked when the space is read; a
    ``scipy.stats`` distribution (or any object with ``rvs``) has no ends to check, so every
    configuration drawn from it is checked instead, naming the trial and the distribution."""
    space = check_distributions(distributions)
    for i, config in enumerate(configs):
        for name, value in config.items():
            if isinstance(space.get(name), _Rvs):
                check_value(name, value, f" (random trial {i}, drawn from {space[name]!r})")


def sample_config(distributions: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """One configuration drawn with a trial's ``seed`` (see :func:`trial_seed`).

    Each name draws from ``default_rng([seed, crc32(name)])``, its own stream, so the draw of
    one hyper-parameter does not depend on which others are searched."""
    config: dict[str, Any] = {}
    for name, d in check_distributions(distributions).items():
        if isinstance(d, Distribution):
            rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
            config[name] = normalize_value(name, d.sample(rng))
        else:
            config[name] = d
    return config
