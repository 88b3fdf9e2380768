"""A convnet on MNIST-sized batches and Bengio's character model, each against the same
network in PyTorch (issue 23).

    convnet:    28x28x1 -> conv 3x3 (8, padding 1) -> max pool 2 -> relu
                        -> conv 3x3 (16, padding 1) -> max pool 2 -> relu -> linear 784 -> 10
    characters: 3 previous letters -> embedding (27, 10) -> flatten -> linear 30 -> 200
                -> tanh -> linear 200 -> 27         (makemore's MLP, Bengio et al. 2003)

Both networks are ``fg.nn.Sequential`` and ``torch.nn.Sequential`` of the same layers; the
flowgraph one takes the torch one's weights with ``load_state_dict``. Both see the same batches
in the same order and take the same plain SGD steps; the last losses must agree (so nobody is
timed doing less work). Samples of a few steps are interleaved (flowgraph, torch, flowgraph,
...), one BLAS thread for NumPy and one thread for PyTorch, and the median seconds per step
reported with their ratio: the machine is shared, ratios from one run are what to compare.
A third flowgraph network, its train graph planned (``fg.step_plan``, issue 24), is timed in
the same rounds; its losses must be the unplanned one's to the bit.

    python benchmarks/conv_models.py [--quick] [--write benchmarks/RESULTS.md]

``--write`` replaces the section between the conv-models markers of that file (or appends it).
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
from flowgraph import nn  # noqa: E402

SECTION = "conv-models"  # its section of RESULTS.md (benchmarks/sections.py)
BEGIN, END = markers(SECTION)
TARGETS = {"convnet": 2.0, "characters": 1.2}  # at most this many times PyTorch's time per step


def convnet_pair(side: int):
    """The convnet in both libraries, flowgraph's with torch's initial weights."""
    import torch

    torch.manual_seed(0)
    flat = 16 * (side // 4) ** 2
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(flat, 10),
    )  # fmt: skip
    ours = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(flat, 10),
    )  # fmt: skip
    return ours, theirs


def characters_pair(vocab: int = 27, block: int = 3, dim: int = 10, hidden: int = 200):
    """The character MLP in both libraries, flowgraph's with torch's initial weights."""
    import torch

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Embedding(vocab, dim), torch.nn.Flatten(), torch.nn.Linear(block * dim, hidden),
        torch.nn.Tanh(), torch.nn.Linear(hidden, vocab),
    )  # fmt: skip
    ours = nn.Sequential(
        nn.Embedding(vocab, dim), nn.Flatten(), nn.Linear(block * dim, hidden), nn.Tanh(),
        nn.Linear(hidden, vocab),
    )  # fmt: skip
    return ours, theirs


def copy_weights(ours, theirs) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def data(case: str, quick: bool, n_batches: int):
    """The batches, the same for both libraries: (X, y) pairs."""
    rng = np.random.default_rng(1)
    if case == "convnet":
        side, batch = (12, 16) if quick else (28, 64)
        X = rng.random((n_batches, batch, 1, side, side), dtype=np.float32)
        y = rng.integers(0, 10, (n_batches, batch))
    else:
        batch = 16 if quick else 32
        words = fg.datasets.make_words(2000, seed=0)
        Xa, ya = fg.datasets.char_contexts(words, block_size=3)
        pick = rng.integers(0, len(ya), (n_batches, batch))
        X, y = Xa[pick], ya[pick]
    return list(zip(X, y))


def steps_flowgraph(model, sgd, batches) -> float:
    graph, x, y = model.train_graph, model.x, model.y
    loss = 0.0
    for X, Y in batches:
        loss = float(graph.fprop({x: X, y: Y}))
        graph.bprop()
        sgd.step()
    return loss


def steps_torch(net, opt, batches) -> float:
    import torch.nn.functional as F

    loss = None
    for X, Y in batches:
        loss = F.cross_entropy(net(X), Y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return float(loss.detach())


def flowgraph_model(case: str, side: int | None, planned: bool = False):
    """The flowgraph network with torch's initial weights as a Model (its train graph
    planned, ``fg.step_plan``, where asked), and the torch network."""
    ours, theirs = convnet_pair(side) if case == "convnet" else characters_pair()
    copy_weights(ours, theirs)
    x, t = fg.Input("x"), fg.Input("y")
    a = ours(x)
    model = fg.Model(loss=fg.softmax_cross_entropy(a, t), output=fg.softmax(a))
    if planned:
        model.train_graph.planned = fg.step_plan(model.train_graph)
    return model, theirs


def run_case(case: str, quick: bool, repeats: int, steps: int = 10) -> dict:
    import torch

    batches = data(case, quick, steps)
    side = batches[0][0].shape[-1] if case == "convnet" else None
    model, theirs = flowgraph_model(case, side)
    planned = flowgraph_model(case, side, planned=True)[0]  # (the same initial weights)
    lr = 0.05
    sgd, opt = fg.SGD(model.parameters, lr=lr), torch.optim.SGD(theirs.parameters(), lr=lr)
    psgd = fg.SGD(planned.parameters, lr=lr)
    tbatches = [(torch.tensor(X), torch.tensor(Y)) for X, Y in batches]
    times: dict[str, list[float]] = {"flowgraph": [], "planned": [], "PyTorch": []}
    losses: dict[str, float] = {}
    for r in range(repeats + 1):  # the first round warms up
        t0 = time.perf_counter()
        losses["flowgraph"] = steps_flowgraph(model, sgd, batches)
        t1 = time.perf_counter()
        losses["PyTorch"] = steps_torch(theirs, opt, tbatches)
        t2 = time.perf_counter()
        losses["planned"] = steps_flowgraph(planned, psgd, batches)
        t3 = time.perf_counter()
        if r:
            times["flowgraph"].append((t1 - t0) / steps)
            times["PyTorch"].append((t2 - t1) / steps)
            times["planned"].append((t3 - t2) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    agree = abs(losses["flowgraph"] - losses["PyTorch"]) <= 1e-3 * max(1.0, abs(losses["PyTorch"]))
    agree = agree and losses["planned"] == losses["flowgraph"]  # (the same bits)
    X0 = batches[0][0]
    what = (f"{X0.shape[0]} images {X0.shape[2]}x{X0.shape[3]}" if case == "convnet"
            else f"{X0.shape[0]} contexts of {X0.shape[1]} letters")  # fmt: skip
    return {"case": case, "batch": what, "steps": steps * (repeats + 1), "median": med,
            "losses": losses, "agree": agree, "ratio": med["flowgraph"] / med["PyTorch"],
            "target": TARGETS[case]}  # fmt: skip


def run(quick: bool, repeats: int) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    return [run_case(case, quick, repeats) for case in ("convnet", "characters")]


def markdown(results: list[dict], repeats: int) -> str:
    import torch

    lines = [
        BEGIN,
        "## A convnet and a character model against PyTorch (issue 23)",
        "",
        "`python benchmarks/conv_models.py`: the same `Sequential` in both libraries (weights "
        "copied with `load_state_dict`), the same batches and plain SGD steps, float32, one "
        f"thread each (PyTorch {torch.__version__}); per step, the median of {repeats} "
        "interleaved samples of 10 steps after a warm-up. Convnet: conv 1->8 3x3, max pool 2, "
        "relu, conv 8->16 3x3, max pool 2, relu, linear -> 10. Characters: embedding (27, 10) "
        "of 3 letters, linear 30 -> 200, tanh, linear 200 -> 27. Planned: the same flowgraph "
        "network with `graph.planned = fg.step_plan(graph)` (the same losses to the bit).",
        "",
        "| model | batch | flowgraph ms/step | planned ms/step | PyTorch ms/step | ratio | "
        "planned ratio | target | losses agree |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        m = r["median"]
        met = "met" if r["ratio"] <= r["target"] else "missed"
        lines.append(
            f"| {r['case']} | {r['batch']} | {1e3 * m['flowgraph']:.3f} | "
            f"{1e3 * m['planned']:.3f} | {1e3 * m['PyTorch']:.3f} | **{r['ratio']:.2f}x** | "
            f"{m['planned'] / m['PyTorch']:.2f}x | {r['target']}x ({met}) | "
            f"{'yes' if r['agree'] else 'NO'} ({r['losses']['flowgraph']:.5f}, "
            f"{r['losses']['PyTorch']:.5f}) |"
        )
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Put the section (``markdown``'s text, markers included) into ``path``."""
    replace_section(path, SECTION, text.replace(BEGIN, "").replace(END, ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small images and batches (seconds)")
    p.add_argument("--repeats", type=int, default=None, help="timed samples (15; quick 2)")
    p.add_argument("--write", default=None, metavar="MD", help="put the section into this file")
    args = p.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 15)
    try:  # one BLAS thread for NumPy, as for PyTorch (a shared 2-core machine)
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(1):
            results = run(args.quick, repeats)
    else:
        results = run(args.quick, repeats)
    text = markdown(results, repeats)
    print(text)
    if args.write:
        write_section(Path(args.write), text)
    return 0 if all(r["agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
