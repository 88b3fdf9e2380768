"""A residual MLP built from one ``fg.Block`` used K times, against the same network in PyTorch.

    z(0) = tanh(W(0) x + b(0)),   z(k) = z(k-1) + tanh(W(k) z(k-1) + b(k)),   k = 1 .. K
    loss = softmax cross-entropy of V z(K) + c

Both start from the same weights, see the same batches in the same order and take the same
plain SGD steps; the final losses must agree (so nobody is timed doing less work). Timed
samples are interleaved (flowgraph, torch, flowgraph, ...) and the median seconds per epoch
reported, with their ratio: the machine is shared, ratios from one run are what to compare.

    python benchmarks/residual.py [--quick] [--write benchmarks/RESULTS.md]

``--write`` replaces the section between the residual markers of that file (or appends it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flowgraph as fg  # noqa: E402
from benchmarks.sections import markers, replace_section  # noqa: E402

SECTION = "residual"  # its section of RESULTS.md (benchmarks/sections.py)
BEGIN, END = markers(SECTION)


def make_weights(d: int, width: int, blocks: int, classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    Ws = [fg.init.glorot_uniform((width, d), rng)]
    Ws += [0.5 * fg.init.glorot_uniform((width, width), rng) for _ in range(blocks)]
    V = fg.init.glorot_uniform((classes, width), rng)
    return Ws, V


def flowgraph_model(Ws, V, dtype):
    h, Wi, bi = fg.Input("h"), fg.Input("W"), fg.Input("b")
    block = fg.Block(fg.Graph(h + fg.tanh(h @ Wi.T + bi)), inputs=[h, Wi, bi], name="residual")
    x, y = fg.Input("x"), fg.Input("y")
    W0 = fg.Parameter(Ws[0].astype(dtype), "W0")
    b0 = fg.Parameter(np.zeros(Ws[0].shape[0], dtype), "b0")
    z = fg.tanh(fg.Linear()(x, W0, b0))
    for k, W in enumerate(Ws[1:], start=1):
        Wk = fg.Parameter(W.astype(dtype), f"W{k}")
        bk = fg.Parameter(np.zeros(len(W), dtype), f"b{k}")
        z = block(z, Wk, bk)
    Vp, c = fg.Parameter(V.astype(dtype), "V"), fg.Parameter(np.zeros(len(V), dtype), "c")
    a = fg.Linear()(z, Vp, c)
    return fg.Model(loss=fg.SoftmaxCrossEntropy()(a, y), output=fg.Softmax()(a))


def flowgraph_epoch(model, sgd, X, y, batch):
    graph, x_node, y_node = model.train_graph, model.x, model.y
    loss = 0.0
    for i in range(0, len(X), batch):
        loss = float(graph.fprop({x_node: X[i : i + batch], y_node: y[i : i + batch]}))
        graph.bprop()
        sgd.step()
    return loss


def torch_model(Ws, V, dtype):
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    params = []
    for W in Ws:
        params += [torch.tensor(W, dtype=tdtype, requires_grad=True),
                   torch.zeros(len(W), dtype=tdtype, requires_grad=True)]  # fmt: skip
    params += [torch.tensor(V, dtype=tdtype, requires_grad=True),
               torch.zeros(len(V), dtype=tdtype, requires_grad=True)]  # fmt: skip
    return params, tdtype


def torch_epoch(params, opt, X, y, batch):
    import torch
    import torch.nn.functional as F

    loss = None
    for i in range(0, len(X), batch):
        xb, yb = X[i : i + batch], y[i : i + batch]
        z = torch.tanh(F.linear(xb, params[0], params[1]))
        for k in range(2, len(params) - 2, 2):
            z = z + torch.tanh(F.linear(z, params[k], params[k + 1]))
        loss = F.cross_entropy(F.linear(z, params[-2], params[-1]), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return float(loss.detach())


def run(quick: bool, repeats: int, threads: int = 1) -> dict:
    import torch

    torch.set_num_threads(threads)
    d, width, blocks, classes = (16, 32, 3, 4) if quick else (784, 256, 3, 10)
    n, batch, lr = (256, 32, 0.05) if quick else (4096, 128, 0.05)
    dtype = np.float32
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, classes, n)
    Ws, V = make_weights(d, width, blocks, classes)

    model = flowgraph_model(Ws, V, dtype)
    sgd = fg.SGD(model.parameters, lr=lr)
    params, tdtype = torch_model(Ws, V, dtype)
    opt = torch.optim.SGD(params, lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    times = {"flowgraph": [], "PyTorch": []}
    losses = {}
    for r in range(repeats + 1):  # the first round warms up
        t0 = time.perf_counter()
        losses["flowgraph"] = flowgraph_epoch(model, sgd, X, y, batch)
        t1 = time.perf_counter()
        losses["PyTorch"] = torch_epoch(params, opt, Xt, yt, batch)
        t2 = time.perf_counter()
        if r:
            times["flowgraph"].append(t1 - t0)
            times["PyTorch"].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    agree = abs(losses["flowgraph"] - losses["PyTorch"]) <= 1e-3 * max(1.0, abs(losses["PyTorch"]))
    return {
        "network": f"{d}-{width} + {blocks} residual blocks of {width} + {classes}, tanh",
        "batch": batch, "n": n, "epochs": repeats + 1, "median": med, "losses": losses,
        "agree": agree, "ratio": med["flowgraph"] / med["PyTorch"], "torch": torch.__version__,
    }  # fmt: skip


def markdown(res: dict) -> str:
    lines = [
        BEGIN,
        "## Residual MLP from one Block (issue 11)",
        "",
        f"`python benchmarks/residual.py`: {res['network']}, batch {res['batch']}, {res['n']} "
        f"examples, plain SGD, float32, 1 thread (PyTorch {res['torch']}); the median of "
        f"{res['epochs'] - 1} interleaved epochs after a warm-up. The same weights, batches and "
        "steps: the final losses must agree.",
        "",
        "| implementation | s/epoch (median) | final loss |",
        "|---|---:|---:|",
    ]
    for name in ("flowgraph", "PyTorch"):
        lines.append(f"| {name} | {res['median'][name]:.4f} | {res['losses'][name]:.5f} |")
    lines += ["", f"flowgraph / PyTorch: **{res['ratio']:.2f}x** the time; losses agree: "
              f"{'yes' if res['agree'] else 'NO'}.", END]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Put the section (``markdown``'s text, markers included) into ``path``."""
    replace_section(path, SECTION, text.replace(BEGIN, "").replace(END, ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a tiny network (seconds)")
    p.add_argument("--repeats", type=int, default=None, help="timed epochs (7; quick 2)")
    p.add_argument("--write", default=None, metavar="MD", help="put the section into this file")
    args = p.parse_args(argv)
    try:  # one BLAS thread for NumPy, as for PyTorch (a shared 2-core machine)
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(1):
            res = run(args.quick, args.repeats or (2 if args.quick else 7))
    else:
        res = run(args.quick, args.repeats or (2 if args.quick else 7))
    text = markdown(res)
    print(text)
    if args.write:
        write_section(Path(args.write), text)
    return 0 if res["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())
