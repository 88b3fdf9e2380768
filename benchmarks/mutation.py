"""Mutation testing of flowgraph's core: do the tests notice when the code is wrong?

A small AST mutator (no dependency, works offline). Each *mutant* is the source of one file
with one small change a slip of the pen could make:

* arithmetic: ``+`` <-> ``-``, ``*`` <-> ``/``, ``**`` -> ``*``, ``//`` -> ``/``;
* accumulation: ``x += y`` -> ``x -= y`` or ``x = y`` (the sum dropped), ``*=`` <-> ``/=``;
* comparisons: ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``,
  ``in`` <-> ``not in``;
* constants: ``0`` -> ``1``, ``1`` -> ``0`` / ``2``, ``n`` -> ``n + 1``, a float ``c`` -> ``2 c``
  (``0.0`` -> ``1.0``), ``True`` <-> ``False``;
* logic: ``and`` <-> ``or``, ``not x`` -> ``x``, ``-x`` -> ``x``.

Docstrings, annotations and strings are left alone. Every mutant runs, in a private copy of
the repository, the test files that cover its module (``-x``: the first failure kills it)
under a timeout; a mutant the tests let pass *survives*. The score is killed / (killed +
survived), timeouts counted as killed (the change made something hang, and a test noticed).

    python -m benchmarks.mutation --sample 200 --seed 0            # writes benchmarks/mutation.json
    python -m benchmarks.mutation --only 'optim.py:141:...' ...    # re-run chosen mutants
    python -m benchmarks.mutation --report                         # prints the Markdown table
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# where mutants are read from and tests run: a private copy of ROOT made at start, so that
# editing the repository during a run changes nothing in it
SRC = ROOT

# module (relative to flowgraph/) -> the test files that exercise it, fastest first
TESTS: dict[str, list[str]] = {  # the tests mirror the package (tests/core for core/, ...)
    "boxes/": ["tests/boxes", "tests/core/test_fast_paths.py", "tests/check/test_check_box.py"],
    "core/": ["tests/core", "tests/boxes/test_box_errors.py"],
    "check/": ["tests/check", "tests/boxes/test_every_box.py"],
    "optim/": ["tests/optim", "tests/core/test_fast_paths.py"],
    "init.py": ["tests/test_init.py"],
}


def targets() -> list[str]:
    """The files mutated, relative to flowgraph/."""
    found = sorted(
        str(p.relative_to(SRC / "flowgraph")) for p in (SRC / "flowgraph" / "boxes").glob("*.py")
    )
    found = [f for f in found if not f.endswith("__init__.py")]
    return found + ["core/graph.py", "core/node.py", "check/differences.py", "optim/sgd.py",
                    "init.py"]


def tests_for(module: str) -> list[str]:
    key = module.split("/")[0] + "/" if "/" in module else module
    return [t for t in TESTS[key] if (SRC / t).exists()]


# -- the mutator ------------------------------------------------------------------------------

_BINOP = {
    ast.Add: [ast.Sub],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div],
    ast.Div: [ast.Mult],
    ast.Pow: [ast.Mult],
    ast.FloorDiv: [ast.Div],
}
_CMPOP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_SYMBOL = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


def _skipped(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, f-strings, ``__all__``."""
    skip: set[int] = set()

    def mark(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                mark(body[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            mark(node.returns)
            for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
                mark(a.annotation)
            for a in (node.args.vararg, node.args.kwarg):
                if a is not None:
                    mark(a.annotation)
        if isinstance(node, ast.AnnAssign):
            mark(node.annotation)
        if isinstance(node, ast.JoinedStr):
            mark(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            mark(node)
    return skip


def _variants(node: ast.AST) -> list[tuple[str, object]]:
    """(description, how) for each mutation of one node; ``how`` is applied by _apply."""
    out: list[tuple[str, object]] = []
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP:
        for new in _BINOP[type(node.op)]:
            out.append((f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new]}", ("binop", new)))
    elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP:
        op = type(node.op)
        for new in _BINOP[op]:
            out.append((f"{_SYMBOL[op]}= -> {_SYMBOL[new]}=", ("augop", new)))
        if op in (ast.Add, ast.Sub):
            out.append((f"{_SYMBOL[op]}= -> = (accumulation dropped)", ("augdrop", None)))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _CMPOP:
                new = _CMPOP[type(op)]
                out.append((f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}", ("cmp", (i, new))))
    elif isinstance(node, ast.Constant) and not isinstance(node.value, str):
        v = node.value
        if isinstance(v, bool):
            out.append((f"{v} -> {not v}", ("const", not v)))
        elif isinstance(v, int):
            news = {0: [1], 1: [0, 2]}.get(v, [v + 1])
            out += [(f"{v} -> {n}", ("const", n)) for n in news]
        elif isinstance(v, float):
            n = 1.0 if v == 0 else 2 * v
            out.append((f"{v!r} -> {n!r}", ("const", n)))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(("and -> or" if new is ast.Or else "or -> and", ("boolop", new)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append(("not x -> x" if isinstance(node.op, ast.Not) else "-x -> x", ("unary", None)))
    return out


def _apply(tree: ast.Module, index: int, how) -> ast.Module:
    """A copy of ``tree`` with the ``index``-th node (in ast.walk order) mutated by ``how``."""
    tree = copy.deepcopy(tree)
    nodes = list(ast.walk(tree))
    node = nodes[index]
    kind, arg = how
    if kind == "binop":
        node.op = arg()
    elif kind == "augop":
        node.op = arg()
    elif kind == "augdrop":
        new = ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)
        _replace(tree, node, new)
    elif kind == "cmp":
        i, new = arg
        node.ops[i] = new()
    elif kind == "const":
        node.value = arg
    elif kind == "boolop":
        node.op = arg()
    elif kind == "unary":
        _replace(tree, node, node.operand)
    return ast.fix_missing_locations(tree)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = new
                        return


@dataclass
class Mutant:
    module: str  # relative to flowgraph/
    index: int  # node in ast.walk order
    variant: int  # which of that node's variants
    line: int
    change: str
    code: str = ""  # the mutated line, as ast.unparse writes it
    status: str = ""  # killed, survived, timeout, equivalent
    killed_by: str = ""
    seconds: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.module}:{self.line}:{self.index}.{self.variant}"


def enumerate_mutants(module: str) -> list[Mutant]:
    source = (SRC / "flowgraph" / module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    skip = _skipped(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        for variant, (change, _how) in enumerate(_variants(node)):
            found.append(Mutant(module, index, variant, getattr(node, "lineno", 0), change))
    return found


def mutant_source(m: Mutant) -> str | None:
    """The mutated file, or None when the change does not alter the code (equivalent)."""
    text = (SRC / "flowgraph" / m.module).read_text(encoding="utf-8")
    tree = ast.parse(text)
    node = list(ast.walk(tree))[m.index]
    _, how = _variants(node)[m.variant]
    mutated = _apply(tree, m.index, how)
    new, old = ast.unparse(mutated), ast.unparse(tree)
    if new == old:
        return None
    line = text.splitlines()[m.line - 1].strip() if m.line else ""
    m.code = line[:80].replace("|", "\\|")
    return new


# -- the runner ---------------------------------------------------------------------------------


def _copy_repo(dest: Path) -> None:
    for name in ("flowgraph", "tests", "benchmarks"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for name in ("pyproject.toml", "conftest.py", "pytest.ini", "setup.cfg"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)


def _pytest(work: Path, tests: list[str], timeout: float) -> tuple[str, str, float]:
    env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", "", time.perf_counter() - t0
    seconds = time.perf_counter() - t0
    if proc.returncode == 0:
        return "survived", "", seconds
    failed = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("FAILED ")]
    errors = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("ERROR ")]
    return "killed", (failed or errors or ["(collection or import failed)"])[0], seconds


def run(
    mutants: list[Mutant],
    timeout: float,
    log,
    progress: Path | None = None,
    tests: list[str] | None = None,
) -> None:
    """Run each mutant's tests (or ``tests``, for all); with ``progress``, append each result
    to it as a JSON line (a run cut short still leaves what it found)."""
    work = SRC
    if tests is not None:
        global tests_for

        def tests_for(module: str, _tests=tests) -> list[str]:
            return list(_tests)

    for tests in sorted({tuple(tests_for(m.module)) for m in mutants}):  # pass unmutated
        status, by, s = _pytest(work, list(tests), 10 * timeout)
        if status != "survived":
            raise SystemExit(f"tests {tests} fail without any mutant ({by}); fix first")
        log(f"baseline: {len(tests)} test files pass in {s:.1f} s ({', '.join(tests)})")
    for k, m in enumerate(mutants, 1):
        path = work / "flowgraph" / m.module
        original = path.read_text(encoding="utf-8")
        source = mutant_source(m)
        if source is None:
            m.status = "equivalent"
        else:
            path.write_text(source, encoding="utf-8")
            try:
                m.status, m.killed_by, m.seconds = _pytest(work, tests_for(m.module), timeout)
            finally:
                path.write_text(original, encoding="utf-8")
        log(f"[{k}/{len(mutants)}] {m.status:<10} {m.key:<32} {m.change}  {m.killed_by}")
        if progress is not None:
            with progress.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(m)) + "\n")


def sample(all_mutants: list[Mutant], n: int, seed: int) -> list[Mutant]:
    """``n`` mutants at random, each file getting its share (and at least a few)."""
    rng = random.Random(seed)
    by_module: dict[str, list[Mutant]] = {}
    for m in all_mutants:
        by_module.setdefault(m.module, []).append(m)
    total = len(all_mutants)
    chosen = []
    for ms in by_module.values():
        k = min(len(ms), max(5, round(n * len(ms) / total)))
        chosen += rng.sample(ms, k)
    rng.shuffle(chosen)  # in random order: a run cut short is still a fair sample
    return chosen


def score(mutants: list[Mutant]) -> tuple[int, int, int, float]:
    killed = sum(m.status in ("killed", "timeout") for m in mutants)
    survived = sum(m.status == "survived" for m in mutants)
    equivalent = sum(m.status == "equivalent" for m in mutants)
    return killed, survived, equivalent, killed / max(1, killed + survived)


def report(mutants: list[Mutant]) -> str:
    killed, survived, equivalent, s = score(mutants)
    modules = sorted({m.module for m in mutants})
    lines = [
        f"{len(mutants)} mutants sampled: {killed} killed, {survived} survived"
        + (f", {equivalent} equivalent (unchanged code, not counted)" if equivalent else "")
        + f"; score {100 * s:.1f}%.",
        "",
        "| module | mutants | killed | survived | score |",
        "|---|---:|---:|---:|---:|",
    ]
    for mod in modules:
        ms = [m for m in mutants if m.module == mod]
        k, sv, _, sc = score(ms)
        lines.append(f"| {mod} | {len(ms)} | {k} | {sv} | {100 * sc:.0f}% |")
    surv = [m for m in mutants if m.status == "survived"]
    if surv:
        lines += ["", "| survivor | change | code |", "|---|---|---|"]
        lines += [f"| {m.key} | {m.change} | `{m.code}` |" for m in surv]
    return "\n".join(lines)


def load(out: Path) -> list[Mutant]:
    """The mutants of a finished run (``out``), or of one cut short (its ``.jsonl``)."""
    if out.exists():
        data = json.loads(out.read_text(encoding="utf-8"))["mutants"]
    else:
        lines = out.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()
        data = [json.loads(line) for line in lines if line.strip()]
    return [Mutant(**d) for d in data]


def relocate(old: Mutant, everything: list[Mutant]) -> Mutant:
    """The same change on the same line of code in today's source (lines may have moved)."""
    same = []
    for m in everything:
        if m.module != old.module or m.change != old.change:
            continue
        text = (SRC / "flowgraph" / m.module).read_text(encoding="utf-8").splitlines()
        line = text[m.line - 1].strip()[:80].replace("|", "\\|") if m.line else ""
        if line == old.code:
            same.append(m)
    if not same:
        raise SystemExit(f"{old.key} ({old.change}: {old.code}) is no longer in the code")
    return min(same, key=lambda m: abs(m.index - old.index))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", type=int, default=200, help="mutants to run (default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "mutation.json"))
    p.add_argument("--only", nargs="*", default=None, help="re-run these mutant keys")
    p.add_argument(
        "--tests", nargs="*", default=None, help="run these test files for every mutant instead"
    )
    p.add_argument(
        "--survivors",
        action="store_true",
        help="re-run the survivors of --out on today's code (found by their line and change)",
    )
    p.add_argument("--report", action="store_true", help="print the table of --out and exit")
    p.add_argument("--list", action="store_true", help="count the mutants and exit")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.report:  # from the finished run, or from the progress of one cut short
        print(report(load(out)))
        return 0
    global SRC
    tmp = tempfile.TemporaryDirectory(prefix="fg-mutation-")
    SRC = Path(tmp.name)
    _copy_repo(SRC)
    everything = [m for mod in targets() for m in enumerate_mutants(mod)]
    if args.list:
        for mod in targets():
            print(mod, sum(m.module == mod for m in everything))
        print("total", len(everything))
        return 0
    if args.survivors:
        mutants = [relocate(m, everything) for m in load(out) if m.status == "survived"]
        args.only = [m.key for m in mutants]
    elif args.only is not None:
        wanted = set(args.only)
        mutants = [m for m in everything if m.key in wanted]
        missing = wanted - {m.key for m in mutants}
        if missing:
            raise SystemExit(f"no such mutant(s): {sorted(missing)}")
    else:
        mutants = sample(everything, args.sample, args.seed)

    def log(msg: str) -> None:
        print(msg, flush=True)

    t0 = time.perf_counter()
    progress = out.with_suffix(".jsonl") if args.only is None else None
    if progress is not None and progress.exists():
        progress.unlink()
    run(mutants, args.timeout, log, progress, args.tests)
    if args.only is None:
        data = {
            "sampled": len(mutants),
            "of": len(everything),
            "seed": args.seed,
            "seconds": round(time.perf_counter() - t0),
            "mutants": [asdict(m) for m in mutants],
        }
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(report(mutants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
