"""A training run in a folder: the recipe, resumable at any moment, its outputs written whole.

:func:`prepare` turns a resolved configuration into data, preprocessing, model and optimiser
(refusing first what would not fit in memory); :func:`train_run` trains it with two callbacks
that make the folder survive any stop: ``metrics.csv`` (one row per epoch) and ``resume.npz``
(before the first epoch and after each whole one). :func:`resume_point` reads a folder back,
checked, and says what its run was; a run whose training ended but whose outputs were never
written (killed while writing them) is taken up where it was: no epoch is trained again and
the outputs are written. (Writing them is :mod:`.outputs`.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .callbacks import Callback
from .defaults import TWO_D
from .divergence import DivergenceError
from .history import History
from .metrics_csv import CSVLogger
from .recipe import (
    RUN_OPTIONS,
    ConfigError,
    build_model,
    build_optimizer,
    fit,
    fit_preprocessing,
    load_parts,
    resolve,
    split_of,
)  # fmt: skip
from .resources import DATA_SHAPES, available_memory, check_fits
from .resume import TrainState
from .resume_file import RESUME, ResumeFileError, ResumePoint, read_resume_point

__all__ = ["Run", "prepare", "train_run", "resume_point", "MANIFEST", "SAFE_ON_RESUME",
           "conflicts"]  # fmt: skip

MANIFEST = "manifest.json"  # written last: the run's files are complete once it exists
SAFE_ON_RESUME = ("epochs",)  # options a resumed run may change (and the progress flags)


@dataclass
class Run:
    """Everything one run is made of, as :func:`prepare` and :func:`train_run` fill it in."""

    config: dict[str, Any]
    out: Path
    parts: dict[str, Any]
    info: dict[str, Any]
    preprocessing: Any
    fit_data: tuple[np.ndarray, np.ndarray]
    model: Any
    optimizer: Any
    state: TrainState = field(default_factory=TrainState)
    resumed: bool = False
    # set by the fit before anything reads it (None only while it trains)
    history: History = None  # type: ignore[assignment]
    diverged: DivergenceError | None = None
    seconds: float = 0.0

    @property
    def split(self) -> dict[str, Any]:
        return split_of(self.config)


def check_memory(c: dict[str, Any]) -> None:
    """Refuse, before loading anything, a run that cannot fit in memory."""
    rows, n_in = DATA_SHAPES.get(c["dataset"], (c["n_samples"] or 0, 2))
    if c["n_samples"] is not None:
        rows = c["n_samples"] if c["dataset"] in TWO_D else min(rows, c["n_samples"])
    itemsize = np.dtype(c["dtype"]).itemsize
    check_fits(rows, [n_in, *c["hidden"], 10], min(c["batch_size"], rows), itemsize,
               augment=c["augment"] == "shifts")  # fmt: skip


def prepare(c: dict[str, Any], out: str | Path, point: dict[str, Any] | None = None) -> Run:
    """Data, preprocessing, model and optimiser of the resolved configuration ``c``, to be
    written to ``out``; with a ``point`` (from :func:`resume_point`) where that run stood."""
    check_memory(c)
    parts, info = load_parts(c["dataset"], c["data_dir"], split_of(c))
    preprocessing, fit_data = fit_preprocessing(c, parts, info)
    model = build_model(c, parts["train"][0].shape[1], info["n_classes"])
    model.preprocessing = preprocessing  # the model owns its input pipeline, saved with it
    run = Run(dict(c), Path(out), parts, info, preprocessing, fit_data, model,
              build_optimizer(c, model))  # fmt: skip
    if point is not None:
        load_point(run, point)
    return run


def load_point(run: Run, point: dict[str, Any]) -> None:
    """The parameters, optimiser state and TrainState of a resume point into ``run``, each
    checked against the model: a missing or misshapen parameter is one ResumeFileError."""
    names = {k: v.shape for k, v in run.model.state(buffers=True).items()}
    for what, arrays in (("parameters", point["params"]), ("best parameters", point["best"])):
        if arrays is None:
            continue
        got = {k: np.shape(v) for k, v in arrays.items()}
        if got != names:
            missing = sorted(set(names) - set(got))
            raise ResumeFileError(
                f"{RESUME}: its {what} do not fit the network "
                + (f"(missing {', '.join(missing)})" if missing else f"({got} for {names})")
            )
    run.model.load_state(point["params"])
    try:
        run.optimizer.load_state(point["optimizer"])
    except ValueError as e:
        raise ResumeFileError(f"{RESUME}: {e}") from None
    run.state, run.resumed = point["state"], True


def train_run(run: Run, *, progress: bool = False, callbacks: list[Callback] | None = None) -> Run:
    """Train ``run`` into its folder (metrics.csv and resume.npz as it goes); a divergence is
    kept in ``run.diverged`` with the last good parameters in the model. The folder's old
    manifest goes first: the run is whole again only when its outputs are rewritten."""
    run.out.mkdir(parents=True, exist_ok=True)
    (run.out / MANIFEST).unlink(missing_ok=True)
    log = CSVLogger(run.out / "metrics.csv", history=run.state.history if run.resumed else None)
    keeper = ResumePoint(run.out / RESUME, run.optimizer, run.state, run.config)
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported as such
        try:
            run.history = fit(run.config, run.model, run.optimizer, run.fit_data,
                              run.parts["valid"], progress=progress,
                              callbacks=[keeper, log, *(callbacks or [])],
                              state=run.state)  # fmt: skip
        except DivergenceError as e:  # the model holds the last good parameters: keep them
            if e.history is None:
                raise
            run.diverged, run.history = e, e.history
    run.seconds = time.perf_counter() - start
    return run


def conflicts(given: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The options ``given`` for a resumed run that differ from the run's own ``stored`` ones
    (beyond :data:`SAFE_ON_RESUME`), as ``--name value``."""
    own = resolve(stored)
    wrong = []
    for k, v in given.items():
        if k in SAFE_ON_RESUME or v is None:
            continue
        try:
            same = resolve({**stored, k: v})[k] == own[k]
        except ConfigError:
            same = False
        if not same:
            shown = " ".join(map(str, v)) if isinstance(v, list) else v
            wrong.append(f"--{k.replace('_', '-')} {shown}")
    return wrong


def resume_point(folder: str | Path, given: dict[str, Any], also: Sequence[str] = ()
                 ) -> tuple[dict[str, Any], dict]:  # fmt: skip
    """``(configuration, point)`` of the run in ``folder``: its own options (``epochs`` from
    ``given`` when there), checked, and where it stood. Refused with one ConfigError line:
    options that conflict with the run's own (and the conflicts ``also`` found by the
    caller, such as another ``--out``), a run with nothing left to do."""
    folder = Path(folder)
    if not (folder / RESUME).is_file():
        raise ConfigError(f"--resume {folder}: no {RESUME} there (written after each epoch of a "
                          "flowgraph train run)")  # fmt: skip
    point = read_resume_point(folder / RESUME, available_memory() or 2**63)
    stored = point["args"]
    unknown = sorted(set(stored) - set(RUN_OPTIONS))
    if unknown:
        raise ResumeFileError(f"{folder / RESUME}: its options hold {', '.join(unknown)}, which "
                              "a run never stores: the file was not written by flowgraph train")
    try:
        own = resolve(stored)
    except ConfigError as e:
        raise ResumeFileError(f"{folder / RESUME}: its options: {e}") from None
    wrong = [*also, *conflicts(given, stored)]
    if wrong:
        raise ConfigError(f"--resume {folder}: {', '.join(wrong)} conflict with the run's own "
                          "options; a resumed run takes only --epochs and the progress flags")
    config = {**own, "epochs": given.get("epochs") or own["epochs"]}
    check_left(folder, config, point)
    return config, point


def check_left(folder: Path, c: dict[str, Any], point: dict[str, Any]) -> None:
    """A run that is whole (its manifest written) and has ended has nothing left to do."""
    state = point["state"]
    stopped = bool(c["patience"]) and (state.stopping or {}).get("wait", 0) >= c["patience"]
    if not (folder / MANIFEST).is_file():
        return  # ended or not, its outputs are still to be written
    if stopped:
        raise ConfigError(
            f"--resume {folder}: that run stopped early after epoch {state.epoch} (no better "
            f"validation error in {c['patience']} epochs): there is nothing to continue"
        )
    if c["epochs"] <= state.epoch:
        raise ConfigError(
            f"--resume {folder}: the run already has {state.epoch} epochs; give --epochs above "
            f"that (it was {point['args']['epochs']})"
        )
