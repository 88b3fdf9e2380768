"""The MLP timings of issue 5, flowgraph before a change against flowgraph after it.

    python benchmarks/before_after.py [--before 8dea4a5] [--quick] [--write benchmarks/RESULTS.md]

The package as it was at ``--before`` (a git commit, default the last commit before the
general-graphs work of issue 11, exported with ``git archive`` into a temporary folder; or a
folder holding a ``flowgraph`` package, such as another checkout) is timed against this one;
two worker processes import one version each (``PYTHONPATH`` puts the old copy first, which
the worker checks). Both train the same tanh MLP (``benchmarks/flowgraph_mlp.py``:
``fg.mlp`` + ``fg.SGD`` + ``fg.train``) from the same initial weights, on the same data, in
the same batches, one BLAS thread each. Timed epochs are interleaved, before and after taking
turns (the order swapped each round) so that background load hits both alike; the figure is
the median seconds per epoch, and after / before is the ratio that matters (below 1: faster).
The final losses must agree: the two versions must do the same arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __package__ in (None, ""):  # appended: a worker's PYTHONPATH (the old copy) comes first
    sys.path.append(str(ROOT))

import numpy as np  # noqa: E402

from benchmarks.flowgraph_mlp import initial_weights  # noqa: E402
from benchmarks.run import WORKLOADS, make_data  # noqa: E402
from benchmarks.sections import replace_section  # noqa: E402

DEFAULT_BEFORE = "8dea4a5"  # main before issue 11 (box library, operators, Block, Model)
SECTION = "before-after"


# -- the worker: one flowgraph version, timing epochs on request -------------------------------
def worker(expected_root: str) -> int:
    """Read requests (JSON lines) from stdin, answer on stdout. The flowgraph imported must
    live under ``expected_root``, or the comparison would time one version twice."""
    import flowgraph as fg

    where = str(Path(fg.__file__).resolve())
    if not where.startswith(str(Path(expected_root).resolve())):
        print(json.dumps({"error": f"imported {where}, not under {expected_root}"}), flush=True)
        return 1
    from benchmarks.flowgraph_mlp import FlowgraphMLP
    from benchmarks.numpy_mlp import softmax_cross_entropy_loss

    print(json.dumps({"ready": where}), flush=True)
    impl = data = None
    for line in sys.stdin:
        req = json.loads(line)
        if req["do"] == "setup":
            with np.load(req["npz"]) as f:
                data = (f["X"], f["y"])
                weights = [f[f"w{i}"] for i in range(int(f["n"]))]
            impl = FlowgraphMLP(weights, req["lr"], req["batch_size"], seed=1)
            impl.train_epochs(*data, req["epochs"])  # warm-up
            answer: dict = {"ok": True}
        elif req["do"] == "time":
            start = time.perf_counter()
            impl.train_epochs(*data, req["epochs"])
            answer = {"seconds": (time.perf_counter() - start) / req["epochs"]}
        elif req["do"] == "loss":
            answer = {"loss": softmax_cross_entropy_loss(impl.parameters(), *data)}
        else:
            answer = {"error": f"unknown request {req!r}"}
        print(json.dumps(answer), flush=True)
    return 0


class Worker:
    def __init__(self, package_root: Path, label: str):
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        env["PYTHONPATH"] = os.pathsep.join([str(package_root), str(ROOT)])
        cmd = [sys.executable, str(HERE / "before_after.py"), "--worker", str(package_root)]
        self.label = label
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        self.where = self._read()["ready"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker ended (exit {self.proc.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the {self.label} worker: {answer['error']}")
        return answer

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- the comparison ----------------------------------------------------------------------------
def export(ref: str, into: Path, repo: Path = ROOT) -> str:
    """``git archive`` the flowgraph package at ``ref`` of ``repo`` into ``into``; the full
    commit id."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "archive", "--format=tar", sha, "flowgraph"], cwd=repo, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return sha


def _git(*args: str) -> str:
    """What ``git ARGS`` prints in the checkout; "" outside one (or without git)."""
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except FileNotFoundError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def old_package(before: str, tmp: Path) -> tuple[Path, str]:
    """The folder holding the old ``flowgraph`` package and how to name it: ``before`` itself
    when it is such a folder (a copy, another checkout), else the commit it names, exported."""
    if (Path(before) / "flowgraph" / "__init__.py").is_file():
        return Path(before).resolve(), f"the copy in {before}"
    old_root = tmp / "old"
    old_root.mkdir()
    return old_root, export(before, old_root)[:7]


def compare(before: str, workloads, repeats: int, quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="fg-before-") as tmp:
        old_root, sha = old_package(before, Path(tmp))
        head = _git("rev-parse", "HEAD")[:7] or "this folder"
        dirty = bool(_git("status", "--porcelain", "flowgraph"))
        workers = {"before": Worker(old_root, "before"), "after": Worker(ROOT, "after")}
        rows = []
        try:
            for w in workloads:
                w = w.quick() if quick else w
                X, y = make_data(w)
                npz = Path(tmp) / f"{w.key}.npz"
                weights = initial_weights(w.sizes, np.dtype(w.dtype), seed=0)  # for both
                np.savez(
                    npz, X=X, y=y, n=len(weights), **{f"w{i}": a for i, a in enumerate(weights)}
                )
                common = {"lr": w.lr, "batch_size": w.batch_size, "epochs": w.epochs_per_sample}
                for wk in workers.values():
                    wk.ask(do="setup", npz=str(npz), **common)
                seconds: dict[str, list[float]] = {"before": [], "after": []}
                for r in range(repeats):
                    order = ("before", "after") if r % 2 == 0 else ("after", "before")
                    for name in order:
                        t = workers[name].ask(do="time", epochs=w.epochs_per_sample)["seconds"]
                        seconds[name].append(t)
                losses = {n: wk.ask(do="loss")["loss"] for n, wk in workers.items()}
                med = {n: statistics.median(s) for n, s in seconds.items()}
                tol = 1e-3 if w.dtype == "float32" else 1e-7
                agree = abs(losses["before"] - losses["after"]) <= tol * max(1.0, losses["before"])
                rows.append({
                    "workload": w.title, "median": med, "seconds": seconds, "losses": losses,
                    "ratio": med["after"] / med["before"], "agree": agree,
                })  # fmt: skip
                print(
                    f"{w.title}: before {med['before']:.4f} s, after {med['after']:.4f} s, "
                    f"after/before {med['after'] / med['before']:.3f}, losses "
                    f"{losses['before']:.6f} / {losses['after']:.6f}",
                    flush=True,
                )
        finally:
            for wk in workers.values():
                wk.close()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"before": sha, "after": head, "dirty": dirty, "rows": rows, "repeats": repeats,
            "load": load, "numpy": np.__version__, "python": sys.version.split()[0]}  # fmt: skip


def markdown(res: dict) -> str:
    after = res["after"] + (" with uncommitted changes" if res["dirty"] else "")
    lines = [
        "## The MLP timings of issue 5, before and after the general-graphs work (issue 11)",
        "",
        f"`python benchmarks/before_after.py`: flowgraph at {res['before']} (before) "
        f"against {after} (after), each in its own worker process, one BLAS thread, the same "
        f"weights, data and batches; the median of {res['repeats']} interleaved epochs after a "
        f"warm-up (load average {res['load']:.1f} at the end; Python {res['python']}, NumPy "
        f"{res['numpy']}). Below 1: after is faster. On a shared machine the ratios of one run "
        "spread by about 10% from run to run: compare several runs.",
        "",
        "| workload | before s/epoch | after s/epoch | after / before | same loss |",
        "|---|---:|---:|---:|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['workload']} | {r['median']['before']:.4f} | {r['median']['after']:.4f} | "
            f"**{r['ratio']:.3f}** | {'yes' if r['agree'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--before", default=DEFAULT_BEFORE, help=f"git commit (default {DEFAULT_BEFORE})"
    )
    p.add_argument("--quick", action="store_true", help="the workloads shrunk (seconds)")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed epochs per version (9; quick 2)"
    )
    p.add_argument(
        "--workloads", help=f"comma-separated subset of {','.join(w.key for w in WORKLOADS)}"
    )
    p.add_argument("--write", metavar="MD", help="put the section into this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    keys = args.workloads.split(",") if args.workloads else [w.key for w in WORKLOADS]
    unknown = set(keys) - {w.key for w in WORKLOADS}
    if unknown:
        p.error(f"unknown workloads {sorted(unknown)}")
    repeats = args.repeats or (2 if args.quick else 9)
    if repeats < 1:
        p.error("--repeats must be >= 1")
    chosen = [w for w in WORKLOADS if w.key in keys]
    try:
        res = compare(args.before, chosen, repeats, args.quick)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:  # no such commit, no git
        why = getattr(e, "stderr", None) or str(e)
        p.error(f"cannot export {args.before!r}: {why.strip()!s:.200}")
    text = markdown(res)
    print(text)
    if args.write:
        replace_section(Path(args.write), SECTION, text)
        print(f"written to {args.write}", file=sys.stderr)
    return 0 if all(r["agree"] for r in res["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
