"""Einstein summation, ``np.einsum(spec, *operands)``: one box for matrix products, batched
products, bilinear forms, traces of products and attention scores.

The gradient of an einsum with respect to one operand is again an einsum: contract the
output gradient with the other operands, onto that operand's subscripts:

    y = einsum("ij,jk->ik", A, B)       grad_A = einsum("ik,jk->ij", grad_y, B)
                                        grad_B = einsum("ik,ij->jk", grad_y, A)

A subscript that only one operand has and the output lacks (summed within that operand)
gets the gradient copied along it. Two operands (the common case) run as one batched
matrix product through BLAS (``contract_pair``), as opt_einsum does; more go to
``np.einsum(optimize=True)``.
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like


def parse_spec(spec: str) -> tuple[list[str], str]:
    """``"ij,jk->ik"`` as (["ij", "jk"], "ik"); without ``->`` the output is the letters that
    appear once, in alphabetical order (NumPy's implicit mode). Letters only; no ``...``."""
    if not isinstance(spec, str):
        raise ShapeError(f"Einsum: the spec must be a string such as 'ij,jk->ik', got {spec!r}")
    text = spec.replace(" ", "")
    if "." in text:
        raise ShapeError(f"Einsum {spec!r}: '...' is not supported; name every axis")
    lhs, arrow, out = text.partition("->")
    subs = lhs.split(",")
    letters = "".join(subs)
    if not all(s.isalpha() for s in subs if s) or (out and not out.isalpha()):
        raise ShapeError(f"Einsum {spec!r}: subscripts must be letters, e.g. 'ij,jk->ik'")
    if not arrow:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for s in subs:
        if len(set(s)) != len(s):
            raise ShapeError(f"Einsum {spec!r}: operand '{s}' repeats a subscript (a diagonal)")
    if len(set(out)) != len(out) or set(out) - set(letters):
        raise ShapeError(f"Einsum {spec!r}: output '{out}' must name input subscripts once each")
    return subs, out


def _sum_alone(s: str, x: np.ndarray, keep: str) -> tuple[str, np.ndarray]:
    """Sum x over its subscripts that are not in ``keep`` (summed within x alone)."""
    gone = tuple(i for i, c in enumerate(s) if c not in keep)
    if not gone:
        return s, x
    return "".join(c for c in s if c in keep), np.sum(x, axis=gone)


def contract_pair(sa: str, sb: str, out: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.einsum(f"{sa},{sb}->{out}", a, b)`` as one batched matrix product (BLAS): the
    subscripts are sorted into batch (in a, b and out), contracted (in a and b only), a's own
    and b's own; a is laid out (batch, a's own, contracted), b (batch, contracted, b's own)."""
    sa, a = _sum_alone(sa, np.asarray(a), sb + out)
    sb, b = _sum_alone(sb, np.asarray(b), sa + out)
    size = dict(zip(sa, np.shape(a))) | dict(zip(sb, np.shape(b)))
    batch = [c for c in sa if c in sb and c in out]
    contracted = [c for c in sa if c in sb and c not in out]
    left, right = [c for c in sa if c not in sb], [c for c in sb if c not in sa]

    def n(letters):
        return int(np.prod([size[c] for c in letters], dtype=np.int64))

    A = np.transpose(a, [sa.index(c) for c in batch + left + contracted])
    B = np.transpose(b, [sb.index(c) for c in batch + contracted + right])
    Y = np.matmul(A.reshape(n(batch), n(left), n(contracted)),
                  B.reshape(n(batch), n(contracted), n(right)))
    order = batch + left + right
    Y = Y.reshape([size[c] for c in order])
    return np.transpose(Y, [order.index(c) for c in out])


class Einsum(Box):
    """``np.einsum(spec, *operands)`` with explicit or implicit output.

    fprop:  y = einsum(spec, x_1, ..., x_n)
    bprop:  grad_x_i = einsum(out, subs of the others -> subs_i; grad_y, the others),
            copied along subscripts of x_i that appear nowhere else
    """

    arity = None
    min_arity = 1
    input_names = ("x",)

    def __init__(self, spec: str):
        self.subs, self.out = parse_spec(spec)
        self.spec = ",".join(self.subs) + "->" + self.out

    @classmethod
    def example(cls) -> Einsum:
        return cls("bij,bjk->bik")

    def config(self) -> dict:
        return {"spec": self.spec}

    def _check(self, xs) -> None:
        if len(xs) != len(self.subs):
            raise ShapeError(f"Einsum {self.spec!r} takes {len(self.subs)} operands, got {len(xs)}")
        sizes: dict[str, int] = {}
        for s, x in zip(self.subs, xs):
            if len(s) != np.ndim(x):
                raise ShapeError(
                    f"Einsum {self.spec!r}: operand '{s}' needs {len(s)} axes, got shape "
                    f"{np.shape(x)}"
                )
            for c, n in zip(s, np.shape(x)):
                if sizes.setdefault(c, n) != n:
                    raise ShapeError(
                        f"Einsum {self.spec!r}: subscript '{c}' has sizes {sizes[c]} and {n} "
                        f"(shapes {[np.shape(x) for x in xs]})"
                    )

    def fprop(self, *xs):
        self._check(xs)
        if len(xs) == 2:
            return contract_pair(*self.subs, self.out, *xs)
        return np.asarray(np.einsum(self.spec, *xs, optimize=len(xs) > 2))

    def grad_of(self, i: int, xs, grad_y) -> np.ndarray:
        """The gradient with respect to operand ``i``: grad_y contracted with the others."""
        others = [j for j in range(len(xs)) if j != i]
        seen = set(self.out).union(*(self.subs[j] for j in others))
        target = "".join(c for c in self.subs[i] if c in seen)
        if len(others) == 1:
            g = contract_pair(self.out, self.subs[others[0]], target, grad_y, xs[others[0]])
        else:
            spec = ",".join([self.out] + [self.subs[j] for j in others]) + "->" + target
            g = np.einsum(spec, grad_y, *(xs[j] for j in others), optimize=len(xs) > 2)
        if target != self.subs[i]:  # summed within x_i alone: copy along those axes
            missing = [k for k, c in enumerate(self.subs[i]) if c not in seen]
            g = np.broadcast_to(np.expand_dims(g, missing), np.shape(xs[i])).copy()
        return g

    def bprop(self, inputs, y, grad_y):
        return tuple(grad_like(self.grad_of(i, inputs, grad_y), x) for i, x in enumerate(inputs))

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = sum_i einsum(spec, x_1, ..., R{x_i}, ..., x_n) (multilinear)."""
        total = np.zeros(np.shape(y))
        for i, t in enumerate(tangents):
            xs = list(inputs)
            xs[i] = t
            total = total + np.einsum(self.spec, *xs)
        return total.astype(np.result_type(y), copy=False)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x_i} = grad_of(i; R{grad_y}, x) + sum_{j != i} grad_of(i; grad_y, x with
        R{x_j} in place of x_j) (the gradient is multilinear in grad_y and the others)."""
        out = []
        for i in range(len(inputs)):
            g = self.grad_of(i, inputs, R_grad_y)
            for j, t in enumerate(tangents):
                if j != i:
                    xs = list(inputs)
                    xs[j] = t
                    g = g + self.grad_of(i, xs, grad_y)
            out.append(grad_like(g, inputs[i]))
        return tuple(out)

    def sample_inputs(self, rng):
        return rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))

    def __repr__(self) -> str:
        return f"Einsum({self.spec!r})"
