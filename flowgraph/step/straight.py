"""The later steps of a plan as straight-line Python: the loops of :mod:`flowgraph.step.plan`
over its kernels, unrolled once per signature into one function each (fprop, bprop).

A small network's step is mostly Python around small NumPy calls; the loops' own work (take a
step's tuple apart, gather its children's values, look up which gradient is set and which
added) is a visible share of it. Unrolled, each kernel call is one line with its arguments
named, the gradient bookkeeping decided when the code is written. The calls, their order and
their arguments are the loop's, so the results are the same to the last bit. ``source`` of a
made function shows its code, e.g. for a Linear box of the backward pass:

    j = 1                                    (which step runs: an error names its node)
    vals = [n3.value, n4.value, n5.value]
    r = k1(vals, n6.value, n6.grad)
    g = r[0]
    n3.grad = g if type(g) is not Outer else g.materialize()
    g = r[1]
    n4.grad = g
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core.rank1 import Outer
from ..errors import NonFiniteError
from .fold import fold_sgd_update

__all__ = ["straight_fprop", "straight_backward"]


class _Names:
    """Each object the code reads, bound to a name of its own (n0, k0, ...)."""

    def __init__(self) -> None:
        self.space: dict[str, Any] = {"Outer": Outer}
        self.ids: dict[tuple[str, int], str] = {}

    def __call__(self, prefix: str, obj: Any) -> str:
        key = (prefix, id(obj))
        name = self.ids.get(key)
        if name is None:
            name = self.ids[key] = f"{prefix}{len(self.ids)}"
            self.space[name] = obj
        return name


def _made(source: str, names: _Names, fn: str) -> Callable[..., Any]:
    exec(compile(source, f"<step plan: {fn}>", "exec"), names.space)  # noqa: S102 (our own code)
    made = names.space[fn]
    made.source = source
    return made


def straight_fprop(steps: list[tuple], failed: Callable[[Exception, int], Exception]) -> Any:
    """``fprop(stamp)``: for each (node, kernel, children) of ``steps``, node.value =
    kernel(*children's values), node.fprop_stamp = stamp (a value made earlier in the same
    call is read from its local); an error raises ``failed(error, index of the step)``."""
    name = _Names()
    name.space["failed"] = failed
    local: dict[int, str] = {}
    lines = ["def fprop(stamp):", "    j = 0", "    try:"]
    for j, (node, kernel, children) in enumerate(steps):
        args = ", ".join(local.get(id(c)) or f"{name('n', c)}.value" for c in children)
        n, v = name("n", node), f"v{j}"
        lines += [f"        j = {j}"] if j else []  # (the step that raises, if one does)
        lines += [f"        {v} = {name('k', kernel)}({args})",
                  f"        {n}.value = {v}", f"        {n}.fprop_stamp = stamp"]  # fmt: skip
        local[id(node)] = v
    lines += ["        pass", "    except Exception as e:", "        raise failed(e, j) from e"]
    return _made("\n".join(lines) + "\n", name, "fprop")


def straight_backward(steps: list[tuple], clear: list[Any], accumulate: Callable[..., None],
                      failed: Callable[[Exception, int], Exception]) -> Any:  # fmt: skip
    """``backward(bufs)``: the gradients in ``clear`` set to None, then for each (node, kernel,
    children, sets, adds, fold) of ``steps`` the kernel on the children's values, the node's
    value and its gradient; the folded SGD update; each gradient in ``sets`` set (through a
    Parameter's own setter, factors kept), each in ``adds`` added with ``accumulate(bufs,
    child, g)``. An error raises ``failed(error, index of the step)`` (NonFiniteError as is)."""
    name = _Names()
    name.space.update(failed=failed, accumulate=accumulate, fold_sgd_update=fold_sgd_update,
                      NonFiniteError=NonFiniteError)  # fmt: skip
    lines = ["def backward(bufs):"]
    lines += [f"    {name('n', n)}.grad = None" for n in clear]
    lines += ["    j = 0", "    try:"]
    for j, (node, kernel, children, sets, adds, fold) in enumerate(steps):
        n = name("n", node)
        vals = ", ".join(f"{name('n', c)}.value" for c in children)
        lines += [f"        j = {j}"] if j else []
        lines += [f"        vals = [{vals}]", f"        gr = {n}.grad",
                  f"        r = {name('k', kernel)}(vals, {n}.value, gr)"]  # fmt: skip
        if fold is not None:  # W <- W - alpha grad_a^T h, now that grad_h is taken
            lines.append(f"        fold_sgd_update(vals[1], {name('o', fold)}.lr, gr, vals[0])")
        for i, child, parameter in sets:  # a Parameter's setter keeps factors u v^T (ger)
            set_to = "g" if parameter else "g if type(g) is not Outer else g.materialize()"
            lines += [f"        g = r[{i}]", f"        {name('n', child)}.grad = {set_to}"]
        for i, child in adds:
            lines += [f"        g = r[{i}]", f"        accumulate(bufs, {name('n', child)}, "
                      "g if type(g) is not Outer else g.materialize())"]  # fmt: skip
    lines += ["        pass", "    except NonFiniteError:", "        raise",
              "    except Exception as e:", "        raise failed(e, j) from e"]  # fmt: skip
    return _made("\n".join(lines) + "\n", name, "backward")
