"""Side-by-side benchmark: flowgraph, hand-written NumPy backprop, PyTorch and micrograd.

    python -m benchmarks                  # full run (a few minutes), writes benchmarks/RESULTS.md
    python -m benchmarks --quick          # tiny setting (seconds): what the tests run
    python benchmarks/run.py --help

Every implementation trains the same tanh MLP from the same initial weights (``fg.mlp``'s
Glorot draw), on the same synthetic MNIST-shaped data, in the same batches (one
``rng.permutation`` per epoch from the same seed), with plain SGD at the same rate. After the
timed epochs the final parameters of each are judged by one float64 loss function, and the
losses must agree: nobody is timed doing less work.

Timing: in this one process, after a warm-up, the implementations take turns (interleaved
repeats, the order rotated each round) so that background load hits all of them alike; the
figure is the median seconds per epoch. Memory: each implementation trains again in its own
fresh subprocess; its peak resident memory (VmHWM, reset after the imports and the data are
in place) minus the resident memory at that point is the training's own peak.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/run.py: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"

IMPLEMENTATIONS = (
    "flowgraph", "flowgraph-step", "flowgraph-fold", "numpy-fast", "numpy-plain", "torch",
    "jax", "autograd", "mygrad", "micrograd", "floor",
)  # fmt: skip
PEERS = {  # benchmarks/peers_mlp.py: the bench extra's libraries, the bare step, the floor
    "flowgraph-step": "FlowgraphStepMLP", "flowgraph-fold": "FlowgraphFoldMLP",
    "jax": "JaxMLP", "autograd": "AutogradMLP", "mygrad": "MygradMLP", "floor": "FloorMLP",
}  # fmt: skip
NOT_TRAINING = ("floor",)  # its final loss is the initial one: not compared
LABELS = {
    "flowgraph": "flowgraph (fg.train)",
    "flowgraph-step": "flowgraph, bare planned step (step_plan + SGD.step)",
    "flowgraph-fold": "flowgraph, bare planned step, SGD folded (fold=True)",
    "jax": "JAX (jit of value_and_grad + update)",
    "autograd": "HIPS autograd",
    "mygrad": "mygrad",
    "floor": "the 8 matrix products alone (NumPy, preallocated)",
    "numpy-fast": "NumPy, hand-written (fast)",
    "numpy-plain": "NumPy, hand-written (plain)",
    "torch": "PyTorch (autograd + optim.SGD)",
    "micrograd": "micrograd (scalar Values)",
}


@dataclass(frozen=True)
class Workload:
    """One network, data set size, batch size, dtype and learning rate."""

    key: str
    title: str
    sizes: tuple[int, ...]
    n_examples: int
    batch_size: int
    dtype: str = "float32"
    lr: float = 0.1
    epochs_per_sample: int = 1  # epochs in one timed sample (short epochs are grouped)
    micrograd: bool = False

    def quick(self) -> Workload:
        """The same workload shrunk to run in well under a second."""
        width = 32 if self.sizes[0] > 2 else 8
        sizes = (self.sizes[0],) + tuple(min(s, width) for s in self.sizes[1:-1])
        return Workload(
            self.key,
            self.title + " (quick)",
            sizes + (self.sizes[-1],),
            min(self.n_examples, 32 if self.batch_size == 1 else 512),
            self.batch_size,
            self.dtype,
            self.lr,
            1,
            self.micrograd,
        )


WORKLOADS = (
    Workload("mlp-b128", "784-256-256-10, batch 128", (784, 256, 256, 10), 20_000, 128),
    Workload(
        "mlp-b128-f64", "784-256-256-10, batch 128, float64", (784, 256, 256, 10), 20_000, 128,
        dtype="float64",
    ),
    Workload("mlp-b1", "784-256-256-10, batch 1", (784, 256, 256, 10), 2_000, 1, lr=0.01),
    Workload("wide-b256", "784-1024-1024-10, batch 256", (784, 1024, 1024, 10), 20_000, 256),
    Workload(
        "tiny-b1", "2-16-16-2 on 100 points, batch 1", (2, 16, 16, 2), 100, 1, lr=0.05,
        epochs_per_sample=4, micrograd=True,
    ),
)  # fmt: skip


# -- data --------------------------------------------------------------------------------------
def make_data(w: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic standardised data of the workload's shape, drawn straight in its dtype.

    x ~ N(0, I) (784 features: MNIST's shape after standardisation), labelled by a random
    linear teacher, y = argmax_c x . T_c; two-dimensional inputs by the XOR of their signs.
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(w.dtype)
    d, c = w.sizes[0], w.sizes[-1]
    X = rng.standard_normal((w.n_examples, d), dtype=dtype)
    if d == 2:
        y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64) % c
    else:
        teacher = rng.standard_normal((d, c), dtype=dtype)
        y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    return X, y


def impl_class(name: str) -> type:
    """The class of implementation ``name`` (importing its module and library)."""
    if name == "flowgraph":
        from benchmarks.flowgraph_mlp import FlowgraphMLP as cls
    elif name == "numpy-fast":
        from benchmarks.numpy_mlp import FastNumpyMLP as cls
    elif name == "numpy-plain":
        from benchmarks.numpy_mlp import PlainNumpyMLP as cls
    elif name == "torch":
        from benchmarks.torch_mlp import TorchMLP as cls
    elif name == "micrograd":
        from benchmarks.micrograd_mlp import MicrogradMLP as cls
    elif name in PEERS:
        from benchmarks import peers_mlp

        cls = getattr(peers_mlp, PEERS[name])
    else:
        raise ValueError(f"unknown implementation {name!r}; choose from {IMPLEMENTATIONS}")
    return cls


def make_impl(name: str, weights: list[np.ndarray], w: Workload) -> Any:
    """Build implementation ``name`` from the shared initial weights."""
    return impl_class(name)(weights, w.lr, w.batch_size, seed=1)


def available(name: str) -> bool:
    if name == "torch":
        from benchmarks.torch_mlp import available as ok

        return ok()
    if name == "micrograd":
        from benchmarks.micrograd_mlp import available as ok

        return ok()
    if name in PEERS:
        from benchmarks.peers_mlp import available as ok

        return ok(name)
    return True


def implementations_for(w: Workload) -> list[str]:
    return [n for n in IMPLEMENTATIONS if n != "micrograd" or w.micrograd]


def initial(w: Workload) -> list[np.ndarray]:
    from benchmarks.flowgraph_mlp import initial_weights

    return initial_weights(w.sizes, np.dtype(w.dtype), seed=0)


# -- timing ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One implementation on one workload."""

    workload: Workload
    impl: str
    installed: bool = True
    seconds: list[float] = field(default_factory=list)  # per epoch, one per timed sample
    final_loss: float = float("nan")
    loss_ok: bool | None = None
    peak_mb: float | None = None  # training's own peak resident memory
    total_mb: float | None = None  # the subprocess's whole peak resident memory
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def examples_per_s(self) -> float:
        return self.workload.n_examples / self.median if self.seconds else float("nan")


def loss_tolerance(w: Workload) -> float:
    """How far two implementations' final losses may differ: float rounding, amplified over
    a few epochs of SGD, and nothing like one epoch more or less of training."""
    return 1e-3 if w.dtype == "float32" else 1e-7


def time_workload(w: Workload, repeats: int, warmup: int = 1) -> list[Row]:
    """Train every available implementation ``warmup + repeats`` samples, interleaved."""
    from benchmarks.numpy_mlp import softmax_cross_entropy_loss

    X, y = make_data(w)
    weights = initial(w)
    rows, impls = [], {}
    for name in implementations_for(w):
        row = Row(w, name, installed=available(name))
        rows.append(row)
        if row.installed:
            impls[name] = make_impl(name, weights, w)
    for impl in impls.values():  # warm-up: caches, buffers, BLAS threads, torch's allocator
        impl.train_epochs(X, y, warmup * w.epochs_per_sample)
    names = list(impls)
    by_name = {r.impl: r for r in rows}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            impls[name].train_epochs(X, y, w.epochs_per_sample)
            elapsed = time.perf_counter() - start
            by_name[name].seconds.append(elapsed / w.epochs_per_sample)
    reference = None
    for name in names:
        loss = softmax_cross_entropy_loss(impls[name].parameters(), X, y)
        by_name[name].final_loss = loss
        if reference is None:
            reference = loss
    tol = loss_tolerance(w)
    for name in names:
        row = by_name[name]
        if name in NOT_TRAINING:
            row.note = "(does not train: no loss to compare)"
            continue
        row.loss_ok = abs(row.final_loss - reference) <= tol * max(1.0, abs(reference))
    return rows


# -- memory --------------------------------------------------------------------------------------
def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def probe(w: Workload, name: str, epochs: int) -> dict[str, float]:
    """In a fresh process: peak resident memory of ``epochs`` epochs of training, in MB, over
    the resident memory once the libraries are imported and the data exist."""
    import resource

    import flowgraph  # noqa: F401  (every implementation gets its initial weights from fg.mlp)

    cls = impl_class(name)  # imports NumPy, SciPy's BLAS, torch or micrograd as needed
    try:  # flowgraph imports SciPy's BLAS on its first batch-of-one update: an import too
        from scipy.linalg import blas  # noqa: F401
    except ImportError:
        pass
    if name == "torch":
        import torch  # noqa: F401
    elif name == "micrograd":
        import micrograd.engine  # noqa: F401
    elif name in ("jax", "autograd", "mygrad"):
        __import__(name)  # (peers_mlp has set XLA_FLAGS: one thread)

    X, y = make_data(w)
    weights = initial(w)
    baseline = _status_kb("VmRSS")
    try:  # reset the high-water mark (Linux >= 4.0): what follows is training alone
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    impl = cls(weights, w.lr, w.batch_size, seed=1)
    impl.train_epochs(X, y, epochs)
    peak = _status_kb("VmHWM") if reset else None
    if peak is None or baseline is None:  # fall back on getrusage (kB on Linux)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        baseline = baseline or 0
    return {"peak_mb": (peak - baseline) / 1024, "total_mb": peak / 1024}


def measure_memory(rows: list[Row], epochs: int = 1, threads: int = 1) -> None:
    """Fill in each row's peak memory, each implementation in a fresh subprocess."""
    env = _thread_env(threads) if threads else dict(os.environ)  # read as the BLAS loads
    for row in rows:
        if not row.installed:
            continue
        spec = json.dumps({"workload": row.workload.__dict__, "impl": row.impl, "epochs": epochs})
        proc = subprocess.run(
            [sys.executable, str(HERE / "run.py"), "--probe", spec],
            capture_output=True,
            text=True,
            cwd=str(HERE.parent),
            env=env,
        )
        if proc.returncode != 0:
            row.note = f"memory probe failed: {proc.stderr.strip().splitlines()[-1:]}"
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        row.peak_mb, row.total_mb = out["peak_mb"], out["total_mb"]


# -- gradient checks -------------------------------------------------------------------------------
def gradcheck_throughput(repeats: int) -> dict[str, float]:
    """Boxes checked per second by ``fg.check_box`` over every box of the package."""
    import flowgraph as fg
    from flowgraph.check import all_box_classes

    boxes = [cls.example() for cls in all_box_classes()]
    times, n_checks = [], 0
    for r in range(repeats + 1):
        start = time.perf_counter()
        reports = [fg.check_box(b, seed=r) for b in boxes]
        elapsed = time.perf_counter() - start
        if r:  # the first round is the warm-up
            times.append(elapsed)
        n_checks = sum(len(rep.inputs) for rep in reports)
        if not all(rep.ok for rep in reports):
            bad = [type(b).__name__ for b, rep in zip(boxes, reports) if not rep.ok]
            raise RuntimeError(f"gradient check failed for {bad}")
    med = statistics.median(times)
    return {"boxes": len(boxes), "inputs": n_checks, "seconds": med, "per_s": len(boxes) / med}


# -- where flowgraph's time goes -------------------------------------------------------------------
def step_profile(
    sizes: tuple[int, ...], batch_size: int, budget: float = 0.02
) -> list[tuple[str, float]]:
    """Microseconds per training step of a tanh ``fg.mlp``, split into each box's fprop and
    bprop (called directly on the recorded values), the Graph's own work around them, the
    SGD step, and the rest of ``fg.train``'s loop (batching, the running loss and error)."""
    import timeit

    import flowgraph as fg

    model = fg.mlp(list(sizes), "tanh", seed=0)
    opt = fg.SGD(model.parameters, lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch_size, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch_size)
    graph = model.train_graph
    feed = {model.x: X, model.y: y}
    graph.fprop(feed)
    graph.bprop()

    def per_call(fn) -> float:  # best of 5 rounds of about ``budget`` seconds each
        start = time.perf_counter()
        fn()
        number = max(1, int(budget / max(time.perf_counter() - start, 1e-7)))
        return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6

    out: list[tuple[str, float]] = []
    fprop_total = per_call(lambda: graph.fprop({model.x: X, model.y: y}))
    boxes_f = 0.0
    for node in graph.box_nodes:
        values = [c.value for c in node.children]
        t = per_call(lambda node=node, values=values: node.box.fprop(*values))
        boxes_f += t
        out.append((f"fprop {node.name} ({type(node.box).__name__})", t))
    out.append(("Graph.fprop around the boxes (feed, loop)", max(0.0, fprop_total - boxes_f)))
    bprop_total = per_call(graph.bprop)
    boxes_b = 0.0
    for node, needs in graph.plan(graph.outputs[0], tuple(graph.parameters)):
        values = [c.value for c in node.children]
        g = node.grad if node.grad is not None else np.ones_like(node.value)
        t = per_call(
            lambda node=node, values=values, g=g, needs=needs: node.box.bprop_needed(
                values, node.value, g, needs
            )
        )
        boxes_b += t
        out.append((f"bprop {node.name} ({type(node.box).__name__})", t))
    out.append(
        ("Graph.bprop around the boxes (plan, accumulation)", max(0.0, bprop_total - boxes_b))
    )

    step = per_call(opt.step)  # the same gradients again: the same work
    out.append(("SGD.step", step))
    copies = max(1, 1024 // batch_size)  # 1024 examples (at least 8 steps) per epoch
    Xn, yn = np.tile(X, (copies, 1)), np.tile(y, copies)
    reps = 5
    times = []
    for _ in range(reps):
        h = fg.train(model, (Xn, yn), epochs=1, batch_size=batch_size, optimizer=opt,
                     progress=False)  # fmt: skip
        times.append(h.seconds[0])
    per_step = min(times) / (len(Xn) / batch_size) * 1e6
    out.append(
        ("train loop around the step", max(0.0, per_step - fprop_total - bprop_total - step))
    )
    out.append(("total per step (fg.train)", per_step))
    return out


# -- report --------------------------------------------------------------------------------------
def _fmt(x: float | None, spec: str) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "-"
    return format(x, spec)


def ratios(rows: list[Row]) -> list[tuple[str, float, str, bool | None]]:
    """(what, measured, target, met) for the issue's speed targets."""
    by = {(r.workload.key.replace(" (quick)", ""), r.impl): r for r in rows}
    out = []

    def med(key, impl):
        r = by.get((key, impl))
        return r.median if r is not None and r.seconds else float("nan")

    def best_numpy(key):
        return min(med(key, "numpy-fast"), med(key, "numpy-plain"))

    def add(what, value, target, ok):
        out.append((what, value, target, None if np.isnan(value) else bool(ok(value))))

    for key, label in (("mlp-b128", "batch 128"), ("mlp-b128-f64", "batch 128 float64")):
        if any(k == key for k, _ in by):
            fg = med(key, "flowgraph")
            add(f"{label}: flowgraph / best NumPy", fg / best_numpy(key), "<= 1.05",
                lambda v: v <= 1.05)  # fmt: skip
            add(f"{label}: flowgraph / PyTorch", fg / med(key, "torch"), "<= 1.0",
                lambda v: v <= 1.0)  # fmt: skip
    if any(k == "mlp-b1" for k, _ in by):
        fg = med("mlp-b1", "flowgraph")
        add("batch 1: flowgraph / PyTorch", fg / med("mlp-b1", "torch"), "<= 0.5",
            lambda v: v <= 0.5)  # fmt: skip
        add("batch 1: flowgraph / best NumPy", fg / best_numpy("mlp-b1"), "<= 1.3",
            lambda v: v <= 1.3)  # fmt: skip
    if any(k == "wide-b256" for k, _ in by):
        fg = med("wide-b256", "flowgraph")
        add("wide batch 256: flowgraph / best NumPy", fg / best_numpy("wide-b256"), "<= 1.05",
            lambda v: v <= 1.05)  # fmt: skip
        add("wide batch 256: flowgraph / PyTorch", fg / med("wide-b256", "torch"), "<= 1.0",
            lambda v: v <= 1.0)  # fmt: skip
    if any(k == "tiny-b1" for k, _ in by):
        fg = med("tiny-b1", "flowgraph")
        add("tiny: PyTorch / flowgraph (speed-up)", med("tiny-b1", "torch") / fg, ">= 4",
            lambda v: v >= 4)  # fmt: skip
        add("tiny: micrograd / flowgraph (speed-up)", med("tiny-b1", "micrograd") / fg,
            ">= 100", lambda v: v >= 100)  # fmt: skip
    fg_mem, torch_mem = by.get(("mlp-b128", "flowgraph")), by.get(("mlp-b128", "torch"))
    if fg_mem is not None and torch_mem is not None and fg_mem.peak_mb and torch_mem.peak_mb:
        add("peak memory, batch 128: flowgraph / PyTorch", fg_mem.peak_mb / torch_mem.peak_mb,
            "<= 0.5", lambda v: v <= 0.5)  # fmt: skip
    return out


def machine() -> list[str]:
    """CPU, cores, Python, NumPy and its BLAS, PyTorch."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}",
    ]
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        libs = [
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels, "
            f"{Path(i.get('filepath', '?')).name}, {i.get('num_threads')} threads by default)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        ]
        if libs:
            blas = "; ".join(libs) + ", via threadpoolctl (NumPy's first, then SciPy's)"
    except ImportError:
        pass
    if blas == "unknown":
        try:
            cfg = np.show_config(mode="dicts")
            b = cfg["Build Dependencies"]["blas"]
            blas = f"{b.get('name')} {b.get('version')}, via numpy.show_config"
        except Exception:  # older NumPy: no dict mode
            pass
    lines.append(f"- NumPy's BLAS: {blas}")
    try:
        import torch

        lines.append(f"- PyTorch {torch.__version__}, {torch.get_num_threads()} intra-op threads")
    except ImportError:
        lines.append("- PyTorch: not installed")
    try:
        from importlib.metadata import version

        lines.append(f"- micrograd {version('micrograd')}")
    except Exception:
        lines.append("- micrograd: not installed")
    return lines


# one optimiser step alone (benchmarks/optim_step.py): Adam's goal is <= 1.1 x torch's
OPTIM_SIZES = (784, 256, 256, 10)


@dataclass
class Results:
    """Everything one run measured."""

    rows: list[Row]
    gradcheck: dict[str, float] | None
    profiles: dict[str, list[tuple[str, float]]]
    repeats: int
    threads: int
    quick: bool
    optim_steps: dict[str, float] | None = None  # microseconds per optimiser step
    optim_sizes: tuple[int, ...] = OPTIM_SIZES


def markdown(results: Results) -> str:
    """The report: machine, method, the table, gradient checks, the profile, the ratios."""
    rows, grad, threads = results.rows, results.gradcheck, results.threads
    out = ["# Benchmark results", ""]
    flags = (" --quick" if results.quick else "") + (
        f" --threads {threads}" if threads != 1 else ""
    )
    cap = f"{threads} thread(s)" if threads else "each library's default number of threads"
    out.append(
        f"`python -m benchmarks{flags}`: median of {results.repeats} interleaved timed samples "
        f"after a warm-up, float32 unless said otherwise, BLAS and PyTorch on {cap}. Ratios "
        "are from this one run."
    )
    out += ["", "## Machine", ""] + machine()
    out += ["", "## Times, throughput, memory", ""]
    out.append(
        "| workload | implementation | s/epoch (median) | examples/s | peak MB (training) "
        "| peak MB (process) | final loss | same loss |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if not r.installed:
            out.append(
                f"| {r.workload.title} | {LABELS[r.impl]} | not installed (skipped; "
                "`pip install flowgraph-autodiff[bench]`) | | | | | |"
            )
            continue
        out.append(
            f"| {r.workload.title} | {LABELS[r.impl]} | {_fmt(r.median, '.4f')} | "
            f"{_fmt(r.examples_per_s, ',.0f')} | {_fmt(r.peak_mb, '.1f')} | "
            f"{_fmt(r.total_mb, '.0f')} | {_fmt(r.final_loss, '.5f')} | "
            f"{'-' if r.loss_ok is None else 'yes' if r.loss_ok else 'NO'}"
            f"{' ' + r.note if r.note else ''} |"
        )
    if grad is not None:
        out += ["", "## Gradient checks", ""]
        out.append(
            f"`fg.check_box` on all {grad['boxes']} boxes ({grad['inputs']} inputs and the "
            f"forward-mode rules, float64 central differences): {grad['seconds'] * 1e3:.1f} ms, "
            f"**{grad['per_s']:.0f} boxes checked per second**."
        )
    out += ["", "## Ratios against the targets (issue 5)", ""]
    out.append("| ratio | measured | target | met |")
    out.append("|---|---:|---|---|")
    for what, value, target, ok in ratios(rows):
        met = "-" if ok is None else ("yes" if ok else "**no**")
        out.append(f"| {what} | {_fmt(value, '.2f')} | {target} | {met} |")
    if results.profiles:
        out += ["", "## Where flowgraph's time goes (microseconds per training step)", ""]
        out.append(
            "Each box's fprop and bprop called directly on the values of a recorded step "
            "(best of 5 rounds); the Graph's, SGD's and the training loop's share is what the "
            "whole call takes beyond them."
        )
        titles = list(results.profiles)
        out += ["", "| part | " + " | ".join(titles) + " |"]
        out.append("|---|" + "---:|" * len(titles))
        parts: list[str] = []
        for prof in results.profiles.values():
            parts += [k for k, _ in prof if k not in parts]
        for part in parts:
            cells = []
            for prof in results.profiles.values():
                value = dict(prof).get(part)
                cells.append("" if value is None else f"{value:.1f}")
            name = f"**{part}**" if part.startswith("total") else part
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    if results.optim_steps:
        out += optim_section(results)
    from benchmarks.goals24 import section

    out += ["", section(rows, machine())]
    out += ["", "## How it is measured", ""] + METHOD
    return "\n".join(out) + "\n"


METHOD = [
    "- Data: synthetic, standardised, MNIST-shaped (x ~ N(0, I) in 784 dimensions, 10 classes "
    "from a random linear teacher; 2-D XOR for the tiny network), fixed seed, drawn in the "
    "workload's dtype.",
    "- Same work: every implementation starts from `fg.mlp`'s Glorot weights, visits the same "
    "batches in the same order (one `rng.permutation` per epoch from the same seed) and takes "
    "plain SGD steps at the same rate. After the timed epochs one float64 function computes "
    'each implementation\'s training loss from its final parameters; "same loss" means it is '
    "within 1e-3 (float32; 1e-7 float64) of the first implementation's.",
    "- Time: one process; a warm-up epoch each, then the implementations take turns "
    "(interleaved, the order rotated each round) and the median of the rounds is reported, so "
    "that background load hits all of them alike. Short epochs are grouped (the tiny network "
    'times 4 epochs per sample). The hand-written NumPy "fast" version preallocates its '
    'buffers and does batch-1 updates with SciPy\'s BLAS `sger` in place; "best NumPy" in '
    "the ratios is the faster of the two NumPy versions.",
    '- Memory: each implementation trains one epoch again in a fresh subprocess. "training" is '
    "the peak resident set (`VmHWM` from /proc/self/status, reset through "
    "/proc/self/clear_refs once the libraries are imported and the data exist; "
    "`getrusage(RUSAGE_SELF).ru_maxrss` where that is not possible) minus the resident set at "
    'that point: what training itself adds. "process" is the whole peak, imports included '
    "(PyTorch's import alone is about 300 MB).",
    "- Noise: the reference machine has 2 cores shared with other developers' test runs, so "
    "single figures can be off by tens of percent; ratios from interleaved medians are steadier "
    "than absolute times. With several threads per library a BLAS call waits for a busy core "
    "(milliseconds), hence one thread by default (`--threads 0` for the libraries' defaults); "
    "with one thread the process is kept to one core, as JAX 0.10's CPU runtime otherwise "
    "runs its pool on every core it may use, whatever `XLA_FLAGS` says.",
    "- micrograd 0.1.0 (PyPI) has no tanh, exp or log; `benchmarks/micrograd_mlp.py` adds them "
    "as `Value` operations in micrograd's own style.",
]


def optim_section(results: Results) -> list[str]:
    """The table of one optimiser step and its ratios."""
    costs = results.optim_steps or {}
    sizes = "-".join(map(str, results.optim_sizes))
    out = ["", f"## One optimiser step ({sizes}, float32, microseconds)", ""]
    out.append(
        "`benchmarks/optim_step.py`: the update alone, from the same fixed gradients on the "
        "same parameters, median of interleaved rounds (no fprop, bprop or zero_grad)."
    )
    out += ["", "| step | us per step |", "|---|---:|"]
    out += [f"| {label} | {us:.1f} |" for label, us in costs.items()]
    adam, sgd, torch_adam = (
        costs.get(k, float("nan")) for k in ("flowgraph Adam", "flowgraph SGD", "torch.optim.Adam")
    )
    out += ["", "| ratio | measured | target | met |", "|---|---:|---|---|"]
    ratio = adam / torch_adam
    met = "-" if np.isnan(ratio) else ("yes" if ratio <= 1.1 else "**no**")
    out.append(
        f"| Adam step: flowgraph / torch.optim.Adam | {_fmt(ratio, '.2f')} | <= 1.1 | {met} |"
    )
    out.append(f"| flowgraph: Adam step / SGD step | {_fmt(adam / sgd, '.2f')} | - | - |")
    return out


# flowgraph's training step, box by box: the networks where the Graph's own work shows
PROFILED = (
    ("2-16-16-2, batch 1", (2, 16, 16, 2), 1),
    ("784-256-256-10, batch 1", (784, 256, 256, 10), 1),
    ("784-256-256-10, batch 128", (784, 256, 256, 10), 128),
)


def run(
    *,
    quick: bool = False,
    repeats: int | None = None,
    workloads: list[str] | None = None,
    memory: bool = True,
    gradcheck: bool = True,
    profile: bool = True,
    threads: int = 1,
    optim: bool = True,
) -> Results:
    """Time the workloads, measure their memory (subprocesses), count gradient checks per
    second and profile flowgraph's step. ``threads`` caps BLAS and PyTorch threads (0: each
    library's default)."""
    repeats = repeats if repeats is not None else (2 if quick else 7)
    chosen = [w for w in WORKLOADS if workloads is None or w.key in workloads]
    unknown = set(workloads or ()) - {w.key for w in WORKLOADS}
    if unknown:
        raise ValueError(
            f"unknown workloads {sorted(unknown)}; choose from {[w.key for w in WORKLOADS]}"
        )
    rows: list[Row] = []
    profiles: dict[str, list[tuple[str, float]]] = {}
    grad = None
    with limit_threads(threads):
        for w in chosen:
            w = w.quick() if quick else w
            print(f"timing {w.title} ...", file=sys.stderr, flush=True)
            wrows = time_workload(w, repeats)
            if memory:
                measure_memory(wrows, epochs=1, threads=threads)
            rows += wrows
        if gradcheck:
            grad = gradcheck_throughput(1 if quick else 5)
        if profile:
            print("profiling flowgraph's training step ...", file=sys.stderr, flush=True)
            for title, sizes, batch in PROFILED[:1] if quick else PROFILED:
                profiles[title] = step_profile(sizes, batch, budget=0.002 if quick else 0.02)
        optim_steps, optim_sizes = None, OPTIM_SIZES
        if optim:
            from benchmarks.optim_step import step_costs

            print("timing one optimiser step ...", file=sys.stderr, flush=True)
            optim_sizes = (784, 32, 32, 10) if quick else OPTIM_SIZES
            optim_steps = step_costs(
                optim_sizes, budget=0.002 if quick else 0.05, rounds=2 if quick else 7
            )
    return Results(rows, grad, profiles, repeats, threads, quick, optim_steps, optim_sizes)


@contextlib.contextmanager
def limit_threads(threads: int):
    """Cap the threads of every BLAS loaded (NumPy's, SciPy's: via threadpoolctl) and of
    PyTorch for the duration. On a small machine shared with other work, one thread each
    keeps an implementation from stalling on a busy core at every BLAS call. With one
    thread the process is also kept to one core: JAX 0.10's CPU runtime ignores
    ``--xla_cpu_multi_thread_eigen=false`` and runs a pool as large as the cores it may use
    (measured: 2 busy XLA threads, CPU time twice the wall time on 784-1024-1024-10), so it
    alone would use the second core."""
    if not threads:
        yield
        return
    with _one_core(threads == 1):
        yield from _limited(threads)


@contextlib.contextmanager
def _one_core(pin: bool):
    """The process on one of the cores it may use, for the duration (where the OS lets it)."""
    mask = os.sched_getaffinity(0) if pin and hasattr(os, "sched_getaffinity") else None
    if mask is None or len(mask) == 1:
        yield
        return
    os.sched_setaffinity(0, {min(mask)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, mask)


def _limited(threads: int):
    """limit_threads' work once the process is where it runs."""
    for name in IMPLEMENTATIONS:  # load every BLAS first: threadpoolctl caps loaded ones
        if available(name):
            impl_class(name)
    try:
        from scipy.linalg import blas  # noqa: F401  (the fast NumPy reference's ger)
    except ImportError:
        pass
    torch_threads = None
    if available("torch"):
        import torch

        torch_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            if os.environ.get(_THREADS_ENV) != str(threads):
                raise RuntimeError(
                    "capping BLAS threads needs threadpoolctl (pip install threadpoolctl), "
                    "or the process started with them capped (main() does that), or --threads 0"
                ) from None
            yield  # capped by the environment the BLAS libraries were loaded with
            return
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)


_THREADS_ENV = "FLOWGRAPH_BENCH_THREADS"  # set when main() restarts itself with capped BLAS


def _thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env[_THREADS_ENV] = str(threads)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny networks and data (seconds)")
    parser.add_argument("--repeats", type=int, help="timed samples per implementation (7; quick 2)")
    parser.add_argument(
        "--workloads", help=f"comma-separated subset of {','.join(w.key for w in WORKLOADS)}"
    )
    parser.add_argument(
        "--threads", type=int, default=1,
        help="threads for BLAS and PyTorch (default 1; 0 leaves each library its default)",
    )  # fmt: skip
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--no-gradcheck", action="store_true", help="skip the gradcheck row")
    parser.add_argument("--no-profile", action="store_true", help="skip the step profile")
    parser.add_argument("--no-optim", action="store_true", help="skip the optimiser steps")
    parser.add_argument(
        "--output", help="where to write the markdown (default: benchmarks/RESULTS.md, "
        "except with --quick: nowhere)"
    )  # fmt: skip
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        spec = json.loads(args.probe)
        w = Workload(**{k: tuple(v) if k == "sizes" else v for k, v in spec["workload"].items()})
        print(json.dumps(probe(w, spec["impl"], spec["epochs"])))
        return 0
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads < 0:
        parser.error("--threads must be >= 0")
    workloads = args.workloads.split(",") if args.workloads else None
    if args.threads and os.environ.get(_THREADS_ENV) != str(args.threads):
        try:
            import threadpoolctl  # noqa: F401
        except ImportError:  # no way to cap loaded BLAS: start again with capped threads
            argv = sys.argv[1:] if argv is None else argv
            cmd = [sys.executable, str(HERE / "run.py"), *argv]
            return subprocess.call(cmd, env=_thread_env(args.threads), cwd=str(HERE.parent))
    try:
        results = run(
            quick=args.quick,
            repeats=args.repeats,
            workloads=workloads,
            memory=not args.no_memory,
            gradcheck=not args.no_gradcheck,
            profile=not args.no_profile,
            threads=args.threads,
            optim=not args.no_optim,
        )
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    text = markdown(results)
    print(text)
    output = args.output or (None if args.quick else str(RESULTS))
    if output:  # the sections other scripts own (residual, playground, ...) stay
        from benchmarks.sections import keep_sections

        previous = Path(output).read_text() if Path(output).exists() else ""
        Path(output).write_text(keep_sections(previous, text))
        print(f"written to {output}", file=sys.stderr)
    mismatched = [f"{r.workload.key}/{r.impl}" for r in results.rows if r.loss_ok is False]
    if mismatched:
        print(f"final losses disagree: {mismatched}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
