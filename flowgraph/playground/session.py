"""One training run of the playground (:class:`Run`, no threads) and the tab that watches it
(:class:`Session`: a thread that trains while playing and publishes pictures).

A Run is a pure function of its :class:`~flowgraph.playground.settings.Settings`: the seed
draws the data, the split and the initial weights (through :func:`flowgraph.mlp`), and a
second stream drawn from the same seed orders the mini-batches, so ``reset`` replays the same
run step for step. Each step is the lecture's SGD step on flowgraph's own graph:
``train_graph.fprop(batch)``, ``train_graph.bprop()``, ``SGD.step()``.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from typing import Any

import numpy as np

from ..check import check_graph
from ..render import to_dot
from ..training import recipe
from . import problems
from .network import Net, build
from .settings import Settings

__all__ = ["Run", "Session", "Diverged", "GRID", "THUMB"]

GRID = 64  # the decision regions' grid, GRID x GRID cells over the plane
THUMB = 32  # each hidden unit's thumbnail, THUMB x THUMB (every other cell of the grid)
MAX_CURVE = 400  # points kept per curve; beyond, every other one is dropped
FPS = 30.0  # at most this many pictures per second while playing
DTYPE = np.float32  # as fg.mlp's default; NumPy's float32 tanh is several times faster
STEP_BUDGET = 0.25  # seconds of training between two pictures at most: the controls stay quick
SVG_EVERY = 1.5  # seconds between two flow-graph pictures while playing (each costs a `dot` run)


class Diverged(Exception):
    """The training loss became NaN or infinite."""


def _b64(a: np.ndarray) -> str:
    """Bytes 0..255 of ``a`` (already scaled; NaN of a diverged run shows as 0), base64."""
    a = np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0)
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


class Run:
    """The data, the network and its optimizer for one setting, stepped on demand."""

    def __init__(self, settings: Settings):
        self.settings = s = settings
        self.net: Net = build(s, DTYPE)
        # the optimiser step of the training recipe, as `flowgraph train` and a search make it
        sgd = {"optimizer": "sgd", "lr": s.lr, "momentum": s.momentum, "schedule": s.schedule,
               "decay": s.decay}  # fmt: skip
        self.sgd = recipe.build_optimizer(sgd, self.net)
        self._batch_rng = np.random.default_rng([s.seed, 1])
        self.t = 0  # SGD steps done
        self.epochs_done: float = 0  # passes over the training set (fractional after a click)
        self.curves: dict[str, list] = {k: [] for k in ("epoch", "tr_loss", "te_loss", "tr_err",
                                                        "te_err")}  # fmt: skip
        self._grid = problems.features(problems.grid(GRID), s.features).astype(DTYPE)
        self._set_data()
        self.last_feed = self._first_feed()
        self.record()

    # -- data -------------------------------------------------------------------------------
    def _set_data(self) -> None:
        s = self.settings
        (self.X_tr, self.y_tr), (self.X_te, self.y_te) = problems.make_data(s)
        self.P_tr = problems.features(self.X_tr, s.features).astype(DTYPE)
        self.P_te = problems.features(self.X_te, s.features).astype(DTYPE)
        if s.problem == "regression":
            self.y_tr, self.y_te = self.y_tr.astype(DTYPE), self.y_te.astype(DTYPE)
        self.batch_size = min(s.batch, len(self.y_tr))
        self._perm: np.ndarray | None = None
        self._pos = 0

    def _first_feed(self) -> dict:
        return {self.net.x: self.P_tr[: self.batch_size], self.net.y: self.y_tr[: self.batch_size]}

    def set_points(self, settings: Settings) -> None:
        """New clicked points (``settings`` differs from ours only there): the training set
        changes, the weights and the optimizer's state stay; a new epoch starts (the epoch
        count keeps its fraction, so the curves go on from where they were)."""
        self.epochs_done = self.epoch
        self.settings = settings
        self._set_data()

    # -- training ---------------------------------------------------------------------------
    @property
    def epoch(self) -> float:
        """Epochs done, with the fraction of the current one."""
        n = len(self.y_tr)
        return self.epochs_done + (min(self._pos, n) / n if self._perm is not None else 0.0)

    def step(self) -> float:
        """One SGD step on the next mini-batch; returns its loss. Raises Diverged on NaN/inf."""
        n = len(self.y_tr)
        if self._perm is None or self._pos >= n:
            if self._perm is not None:
                self.epochs_done += 1
            self._perm = self._batch_rng.permutation(n)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        net = self.net
        self.last_feed = {net.x: self.P_tr[idx], net.y: self.y_tr[idx]}
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            # dropout's masks: the step's own generator, from the seed (a rerun is the same)
            masks = np.random.default_rng([self.settings.seed, 2, self.t]) \
                if net.train_graph.randoms else None
            loss = float(net.train_graph.fprop(self.last_feed, rng=masks))
        if not math.isfinite(loss):
            raise Diverged(
                f"training diverged at step {self.t + 1}: the loss is {loss}; "
                f"lower the learning rate (alpha_t = {self.sgd.lr:g})"
            )
        net.train_graph.bprop()
        self.sgd.step()
        self.t += 1
        return loss

    def steps(self, k: int, budget: float | None = None) -> int:
        """Up to ``k`` steps, fewer if ``budget`` seconds run out first; returns how many.
        (The run does not depend on how its steps are grouped into pictures.)"""
        end = None if budget is None else time.perf_counter() + budget
        for i in range(k):
            self.step()
            if end is not None and time.perf_counter() > end:
                return i + 1
        return k

    def run_epoch(self) -> None:
        """Steps up to the end of the current epoch (a whole one from an epoch's start)."""
        self.step()
        while self._pos < len(self.y_tr):
            self.step()

    # -- measuring --------------------------------------------------------------------------
    def _predict(self, P: np.ndarray) -> np.ndarray:
        return self.net.predict_graph.fprop({self.net.x: P})[0]

    def _loss_err(self, P: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        if len(y) == 0:
            return float("nan"), float("nan")
        f = self._predict(P)
        if self.settings.problem == "classification":
            p = f[np.arange(len(y)), y]
            with np.errstate(divide="ignore"):
                loss = float(-np.mean(np.log(p)))
            return loss, float(np.mean(f.argmax(axis=1) != y))
        return float(0.5 * np.mean((f - y) ** 2)), float("nan")

    def metrics(self) -> dict[str, float | None]:
        """Data loss (mean cross-entropy or half squared error, without penalties) and
        classification error, on the training and the test parts."""
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run shows inf
            tr_loss, tr_err = self._loss_err(self.P_tr, self.y_tr)
            te_loss, te_err = self._loss_err(self.P_te, self.y_te)
        return {"tr_loss": tr_loss, "te_loss": te_loss, "tr_err": tr_err, "te_err": te_err}

    def record(self) -> dict[str, float | None]:
        """Append the current metrics to the curves (once per step count) and return them."""
        m = self.metrics()
        c = self.curves
        if c["epoch"] and c["epoch"][-1] == round(self.epoch, 4):
            return m
        c["epoch"].append(round(self.epoch, 4))
        for k, v in m.items():
            c[k].append(v)
        if len(c["epoch"]) > MAX_CURVE:  # keep the first point, then every other one
            for k in c:
                c[k] = c[k][:1] + c[k][2::2]
        return m

    def picture(self) -> dict[str, Any]:
        """What the page draws: regions, each hidden unit's response, weights, metrics."""
        s = self.settings
        net = self.net
        with np.errstate(over="ignore", invalid="ignore"):
            values = net.predict_graph.fprop({net.x: self._grid})
        f = values[0]
        if s.problem == "classification":  # P(class c | x) per cell, C planes of GRID x GRID
            regions = (np.clip(f.T, 0, 1) * 255 + 0.5).reshape(f.shape[1], GRID, GRID)
        else:  # f(x) in [-1, 1] -> [0, 255]
            regions = ((np.clip(f[:, 0], -1, 1) + 1) * 127.5 + 0.5).reshape(1, GRID, GRID)
        units = []
        step = GRID // THUMB
        for h in values[1:]:  # (GRID*GRID, H_k): each unit over the plane, scaled to [-1, 1]
            H = h.reshape(GRID, GRID, -1)[::step, ::step, :]
            if s.activation == "tanh":
                V = H
            elif s.activation == "sigmoid":
                V = 2 * H - 1
            else:
                m = np.abs(H).max(axis=(0, 1), keepdims=True)
                V = H / np.where(m > 0, m, 1)
            units.append(_b64(((np.clip(V, -1, 1) + 1) * 127.5 + 0.5).transpose(2, 0, 1)))
        m = self.record()
        return {
            "step": self.t,
            "epoch": round(self.epoch, 3),
            "lr": self.sgd.lr,
            "metrics": {k: _finite(v) for k, v in m.items()},  # type: ignore[arg-type]  # (None: kept)
            "curves": {k: [_finite(v) for v in vals] for k, vals in self.curves.items()},
            "regions": _b64(regions),
            "units": units,
            "weights": [np.round(W.value, 4).tolist() for W in net.weights],
            "biases": [np.round(b.value, 4).tolist() for b in net.biases],
        }

    def meta(self) -> dict[str, Any]:
        """What changes only with the settings: the points, the layer sizes, the features."""
        s = self.settings

        def pts(X, y):
            return np.column_stack([X, y.reshape(len(y), -1)[:, :1]]).round(4).tolist()

        return {
            "problem": s.problem,
            "classes": s.n_classes if s.problem == "classification" else 0,
            "domain": problems.DOMAIN,
            "grid": GRID,
            "thumb": THUMB,
            "features": [problems.FEATURE_LABELS[f] for f in s.features],
            "feature_ids": list(s.features),
            "sizes": [
                len(s.features),
                *s.hidden,
                s.n_classes if s.problem == "classification" else 1,
            ],  # fmt: skip
            "train": pts(self.X_tr, self.y_tr),
            "test": pts(self.X_te, self.y_te),
            "batch": self.batch_size,
        }

    # -- the flow graph ---------------------------------------------------------------------
    def graph_dot(self, check=None):
        """flowgraph's own picture of the graph (a graphviz.Digraph) with the values and
        gradients of the current step: fprop and bprop again on the last mini-batch (the
        parameters do not change), optionally coloured by a gradient check."""
        g = self.net.graph
        g.fprop(self.last_feed)
        g.bprop()
        return to_dot(g, values=True, grads=True, check=check, rankdir="LR")

    def check(self):
        """``check_graph`` on the current step: every parameter end to end, and every box with
        the values recorded at fprop. Returns the GraphReport."""
        return check_graph(self.net.train_graph, self.last_feed, seed=0)


class Session:
    """One browser tab: a Run, a thread that trains while playing, and the latest picture.

    Everything that touches the Run holds ``lock``; the latest picture is kept as JSON bytes
    with a version number, and pollers wait on ``changed`` for a newer one."""

    def __init__(self, sid: str, settings: Settings, *, fps: float = FPS):
        self.id = sid
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.run = Run(settings)
        self.playing = False
        self.closed = False
        self.message = ""
        self.fps = fps
        self.version = 0
        self.frame_bytes = b""
        self.svg: str | None = None
        self.svg_version = 0
        self.svg_note = ""
        self._svg_busy = False
        self._svg_time = 0.0
        self.last_seen = time.monotonic()
        self.wants_graph = True  # the page shows the flow graph (its panel on screen)
        self.upload: tuple = ()  # the points of the tab's uploaded CSV (data set "upload")
        self.upload_classes: list = []  # and the names of their classes
        self.frames_made = 0
        self.publish()
        self.request_svg()
        self._thread = threading.Thread(target=self._loop, name=f"playground-{sid}", daemon=True)
        self._thread.start()

    @property
    def settings(self) -> Settings:
        return self.run.settings

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    # -- pictures ---------------------------------------------------------------------------
    def publish(self) -> None:
        """Make a new picture of the run (caller need not hold the lock)."""
        with self.lock:
            start = time.perf_counter()
            frame = self.run.picture()
            self.version += 1
            self.frames_made += 1
            frame.update(
                v=self.version,
                playing=self.playing,
                message=self.message,
                svg_v=self.svg_version,
                svg_note=self.svg_note,
                ms=round(1000 * (time.perf_counter() - start), 2),  # the picture's cost
            )
            self.frame_bytes = json.dumps(frame, separators=(",", ":")).encode()
            self.changed.notify_all()

    def wait_frame(self, after: int, timeout: float) -> bytes:
        """The latest picture as soon as its version exceeds ``after`` (or after ``timeout``)."""
        with self.changed:
            self.changed.wait_for(lambda: self.version > after or self.closed, timeout)
            return self.frame_bytes

    def request_svg(self, check=None) -> None:
        """Draw the flow graph of the current step in the background (one `dot` at a time)."""
        with self.lock:
            if self._svg_busy:
                return
            self._svg_busy = True
            self._svg_time = time.monotonic()
            dot = self.run.graph_dot(check)
        threading.Thread(target=self._draw, args=(dot,), daemon=True).start()

    @staticmethod
    def _pipe(dot) -> tuple[str | None, str]:
        """Run Graphviz's `dot`: the SVG text, or None and a sentence saying why not."""
        try:
            return dot.pipe(format="svg", encoding="utf-8"), ""
        except Exception as e:  # no Graphviz, or dot failed: say so on the page
            return None, f"cannot draw the flow graph: {e} (sudo apt-get install graphviz)"

    def _draw(self, dot) -> None:
        svg, note = self._pipe(dot)
        with self.lock:
            self.svg, self.svg_note = svg, note
            self.svg_version += 1
            self._svg_busy = False
            if not self.playing:
                self.publish()

    def draw_now(self, check=None) -> str | None:
        """Draw the flow graph in this thread and return the SVG text (for a gradient check)."""
        with self.lock:
            dot = self.run.graph_dot(check)
        svg, note = self._pipe(dot)
        with self.lock:
            self.svg, self.svg_note = svg, note
            self.svg_version += 1
        return svg

    # -- controls ---------------------------------------------------------------------------
    def play(self) -> None:
        with self.lock:
            self.playing, self.message = True, ""
            self.publish()

    def pause(self) -> None:
        with self.lock:
            self.playing = False
            self.publish()
        self.request_svg()

    def _stepping(self, fn) -> None:
        with self.lock:
            self.playing, self.message = False, ""
            try:
                fn()
            except Diverged as e:
                self.message = str(e)
            self.publish()
        self.request_svg()

    def step(self) -> None:
        self._stepping(self.run.step)

    def epoch(self) -> None:
        self._stepping(self.run.run_epoch)

    def reset(self, settings: Settings | None = None) -> None:
        """A fresh Run of ``settings`` (default the current ones): the same seed gives the
        same run. Playing goes on playing."""
        new = Run(settings or self.settings)  # built outside the lock: the old run goes on
        with self.lock:
            self.run, self.message = new, ""
            self.publish()
        self.request_svg()

    def set_points(self, settings: Settings) -> None:
        with self.lock:
            self.run.set_points(settings)
            self.publish()

    def check(self) -> dict[str, Any]:
        """Pause, check the current step's gradients, draw the graph coloured by the check."""
        with self.lock:
            self.playing = False
            report = self.run.check()
        svg = self.draw_now(check=report)
        self.publish()
        return {"ok": bool(report.ok), "report": str(report), "svg": svg,
                "svg_v": self.svg_version}  # fmt: skip

    def close(self) -> None:
        with self.lock:
            self.closed, self.playing = True, False
            self.changed.notify_all()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- the training thread ----------------------------------------------------------------
    def _loop(self) -> None:
        period = 1.0 / self.fps
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.playing or self.closed, 1.0)
                if self.closed:
                    return
                if not self.playing:
                    continue
                start = time.monotonic()
                try:
                    self.run.steps(self.settings.speed, budget=STEP_BUDGET)
                except Diverged as e:
                    self.playing, self.message = False, str(e)
                self.publish()
                svg_due = not self.playing or (
                    self.wants_graph and time.monotonic() - self._svg_time > SVG_EVERY
                )
            if svg_due:
                self.request_svg()
            # sleep outside the lock, so that the page's requests get in between pictures
            time.sleep(max(0.0, period - (time.monotonic() - start)))
