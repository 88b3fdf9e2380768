"""The array operations of issue 22 against PyTorch: an embedding-sized gather and its
scatter-add backward, and a batched matrix product with its two gradients.

    python benchmarks/array_ops.py [--quick] [--write benchmarks/RESULTS.md]

Gather: rows of a (V, D) table at (N, T) integer indices with many repeats (a character
model's context lookup); its backward sums the output gradient into the rows read. Three
scatters are timed side by side on the same data: flowgraph's (a sparse matrix product with
SciPy, one ``np.bincount`` without), NumPy's ``np.add.at`` and PyTorch's ``index_add_`` (what
``torch.autograd`` runs for ``C[idx]``). Batched matmul: (B, M, K) @ (B, K, P) through
``fg.einsum``, through ``@`` (the MatMul box) and through PyTorch's ``bmm``, forward and
both gradients.
Every result is checked against the others before it is timed; one BLAS thread each; the
median of interleaved samples, reported as ratios (the machine is shared).
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

from benchmarks.sections import markers, replace_section  # noqa: E402
from flowgraph import boxes as B  # noqa: E402
from flowgraph.boxes.indexing import scatter_rows  # noqa: E402

SECTION = "array-ops"
BEGIN, END = markers(SECTION)


def _median_times(fns: dict, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for _ in range(repeats + 1):  # interleaved; the first round warms up
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v[1:]) for k, v in times.items()}


def gather_case(quick: bool, repeats: int) -> dict:
    import torch

    V, D, N, T = (100, 16, 256, 3) if quick else (10_000, 64, 4096, 8)
    rng = np.random.default_rng(0)
    C = rng.standard_normal((V, D)).astype(np.float32)
    idx = rng.integers(0, V // 10, size=(N, T))  # a tenth of the rows: many repeats
    G = rng.standard_normal((N, T, D)).astype(np.float32)
    box = B.Take(0)
    Ct, it, Gt = torch.tensor(C), torch.tensor(idx.ravel()), torch.tensor(G.reshape(-1, D))

    def add_at():
        out = np.zeros_like(C)
        np.add.at(out, idx, G)
        return out

    def torch_scatter():
        return torch.zeros_like(Ct).index_add_(0, it, Gt)

    ref = add_at()
    np.testing.assert_allclose(scatter_rows(G, idx, C.shape), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(torch_scatter().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(box.fprop(C, idx), torch.index_select(Ct, 0, it).numpy()
                                  .reshape(N, T, D))
    med = _median_times({
        "flowgraph gather": lambda: box.fprop(C, idx),
        "PyTorch gather": lambda: torch.index_select(Ct, 0, it),
        "flowgraph scatter": lambda: box.bprop([C, idx], None, G),
        "np.add.at": add_at,
        "PyTorch index_add_": torch_scatter,
    }, repeats)  # fmt: skip
    return {"what": f"gather/scatter of a ({V}, {D}) table at ({N}, {T}) indices", "median": med}


def bmm_case(quick: bool, repeats: int) -> dict:
    import torch

    Bn, M, K, P = (4, 8, 8, 8) if quick else (64, 64, 64, 64)
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in ((Bn, M, K), (Bn, K, P)))
    G = rng.standard_normal((Bn, M, P)).astype(np.float32)
    box, matmul = B.Einsum("bmk,bkp->bmp"), B.MatMul()
    at, bt, Gt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True), \
        torch.tensor(G)

    def fg_step():
        y = box.fprop(a, b)
        return box.bprop([a, b], y, G)

    def fg_matmul_step():
        y = matmul.fprop(a, b)
        return matmul.bprop([a, b], y, G)

    def torch_step():
        y = torch.bmm(at, bt)
        return torch.autograd.grad(y, (at, bt), Gt)

    for g, g2, tg in zip(fg_step(), fg_matmul_step(), torch_step()):
        np.testing.assert_allclose(g, tg.numpy(), rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(g2, tg.numpy(), rtol=1e-3, atol=1e-3)
    fns = {"flowgraph einsum": fg_step, "flowgraph @ (MatMul)": fg_matmul_step,
           "PyTorch bmm": torch_step}
    med = _median_times(fns, repeats)
    return {"what": f"batched matmul ({Bn}, {M}, {K}) @ ({Bn}, {K}, {P}), forward + both "
            "gradients", "median": med}


def markdown(cases: list[dict], torch_version: str) -> str:
    lines = [
        BEGIN, "## Array operations (issue 22)", "",
        f"`python benchmarks/array_ops.py`: float32, one thread, PyTorch {torch_version}; "
        "median of interleaved samples after a warm-up; every result checked against the "
        "others first.", "",
    ]  # fmt: skip
    for case in cases:
        med = case["median"]
        first = next(iter(med.values()))
        lines += [f"**{case['what']}**", "", "| operation | ms (median) | vs first row |",
                  "|---|---:|---:|"]
        lines += [f"| {k} | {v * 1e3:.3f} | {v / first:.2f}x |" for k, v in med.items()]
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small arrays (a second)")
    p.add_argument("--repeats", type=int, default=None, help="timed samples (9; quick 2)")
    p.add_argument("--write", default=None, metavar="MD", help="put the section into this file")
    args = p.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    repeats = args.repeats or (2 if args.quick else 9)
    with threadpool_limits(1):
        cases = [gather_case(args.quick, repeats), bmm_case(args.quick, repeats)]
    text = markdown(cases, torch.__version__)
    print(text)
    if args.write:
        replace_section(Path(args.write), SECTION, text.replace(BEGIN, "").replace(END, ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
