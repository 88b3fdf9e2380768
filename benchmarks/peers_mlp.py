"""The same tanh MLP in JAX (``jax.jit`` of grad + update), HIPS autograd and mygrad; the bare
planned flowgraph step; and the floor: the 8 matrix products of a step alone.

Each trains from the weights given, on the slices of one ``rng.permutation`` per epoch, with
plain SGD at the same rate, like every implementation of ``python -m benchmarks``. JAX runs on
one thread (``XLA_FLAGS`` set before it is imported, unless already set). The floor does no
training at all: per batch it makes the 8 products of a 3-layer step (3 forward, 3 weight
gradients, 2 input gradients) with NumPy into preallocated arrays, what no implementation can
go below; its final loss is the initial one and is not compared.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.util import find_spec

import numpy as np

import flowgraph as fg

__all__ = ["JaxMLP", "AutogradMLP", "MygradMLP", "FloorMLP", "FlowgraphStepMLP", "available"]

# XLA reads its flags when JAX is imported: one thread, as every library here
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


def available(name: str) -> bool:
    """Whether the library behind implementation ``name`` can be imported."""
    module = {"jax": "jax", "autograd": "autograd", "mygrad": "mygrad"}.get(name)
    return module is None or find_spec(module) is not None


def _batches(rng, X, y, B):
    perm = rng.permutation(len(X))
    Xs, ys = X[perm], y[perm]
    for i in range(0, len(X), B):
        yield Xs[i : i + B], ys[i : i + B]


class _Base:
    def __init__(self, weights: Sequence[np.ndarray], lr: float, batch_size: int, seed: int = 0):
        self.params = [np.array(w, copy=True) for w in weights]
        self.lr, self.batch_size = lr, batch_size
        self.rng = np.random.default_rng(seed)

    def parameters(self) -> list[np.ndarray]:
        return [np.array(p, copy=True) for p in self.params]


class JaxMLP(_Base):
    """``jax.jit`` of value_and_grad and the SGD update, the parameters donated."""

    name = "JAX"

    def __init__(self, weights, lr, batch_size, seed=0):
        import jax
        import jax.numpy as jnp

        if weights[0].dtype == np.float64:
            jax.config.update("jax_enable_x64", True)
        super().__init__(weights, lr, batch_size, seed)
        n_layers = len(weights) // 2

        def loss_fn(params, x, y):
            h = x
            for k in range(n_layers):
                a = h @ params[2 * k].T + params[2 * k + 1]
                h = jnp.tanh(a) if k < n_layers - 1 else a
            m = jax.lax.stop_gradient(h.max(axis=1, keepdims=True))
            log_z = jnp.log(jnp.exp(h - m).sum(axis=1)) + m[:, 0]
            return jnp.mean(log_z - jnp.take_along_axis(h, y[:, None], axis=1)[:, 0])

        def step(params, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            return [p - lr * g for p, g in zip(params, grads)], loss

        self.step = jax.jit(step, donate_argnums=0)
        self.params = [jnp.asarray(p) for p in self.params]
        self.jnp = jnp

    def train_epochs(self, X, y, epochs):
        loss_sum = 0.0
        for _ in range(epochs):
            loss_sum = 0.0
            for x, t in _batches(self.rng, X, y, self.batch_size):
                self.params, loss = self.step(self.params, x, t)
                loss_sum += float(loss) * len(t)
        return loss_sum / len(X)


class AutogradMLP(_Base):
    """HIPS autograd's ``value_and_grad`` of the loss written in ``autograd.numpy``."""

    name = "HIPS autograd"

    def __init__(self, weights, lr, batch_size, seed=0):
        import autograd.numpy as anp
        from autograd import value_and_grad

        super().__init__(weights, lr, batch_size, seed)
        n_layers = len(weights) // 2

        def loss_fn(params, x, y):
            h = x
            for k in range(n_layers):
                a = anp.dot(h, params[2 * k].T) + params[2 * k + 1]
                h = anp.tanh(a) if k < n_layers - 1 else a
            m = anp.max(h, axis=1, keepdims=True)
            log_z = anp.log(anp.sum(anp.exp(h - m), axis=1)) + m[:, 0]
            return anp.mean(log_z - h[np.arange(len(y)), y])

        self.value_and_grad = value_and_grad(loss_fn)

    def train_epochs(self, X, y, epochs):
        loss_sum = 0.0
        for _ in range(epochs):
            loss_sum = 0.0
            for x, t in _batches(self.rng, X, y, self.batch_size):
                loss, grads = self.value_and_grad(self.params, x, t)
                self.params = [p - self.lr * g for p, g in zip(self.params, grads)]
                loss_sum += float(loss) * len(t)
        return loss_sum / len(X)


class MygradMLP(_Base):
    """mygrad's Tensors, ``softmax_crossentropy`` and ``backward``, updated in place."""

    name = "mygrad"

    def __init__(self, weights, lr, batch_size, seed=0):
        import mygrad as mg
        from mygrad.nnet.losses import softmax_crossentropy

        super().__init__(weights, lr, batch_size, seed)
        self.mg, self.loss = mg, softmax_crossentropy
        self.tensors = [mg.Tensor(p) for p in self.params]

    def parameters(self):
        return [np.array(t.data, copy=True) for t in self.tensors]

    def train_epochs(self, X, y, epochs):
        mg, ts, lr = self.mg, self.tensors, self.lr
        n_layers = len(ts) // 2
        loss_sum = 0.0
        for _ in range(epochs):
            loss_sum = 0.0
            for x, t in _batches(self.rng, X, y, self.batch_size):
                h = x
                for k in range(n_layers):
                    a = mg.matmul(h, ts[2 * k].T) + ts[2 * k + 1]
                    h = mg.tanh(a) if k < n_layers - 1 else a
                loss = self.loss(h, t)
                loss.backward()
                for p in ts:
                    p.data -= lr * p.grad
                loss_sum += float(loss.item()) * len(t)
        return loss_sum / len(X)


class FlowgraphStepMLP:
    """flowgraph's bare planned step (``fg.step_plan(graph)``: fprop, bprop, ``SGD.step``) on
    the same batches, without ``fg.train`` around it."""

    name = "flowgraph (bare planned step)"

    def __init__(self, weights, lr, batch_size, seed=0, fold=False):
        from benchmarks.flowgraph_mlp import FlowgraphMLP

        base = FlowgraphMLP(weights, lr, batch_size, seed)
        self.model = base.model
        self.optimizer = fg.SGD(self.model.parameters, lr=lr, fold=fold)
        self.plan = fg.step_plan(self.model.train_graph)
        self.plan.fold(self.optimizer)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def parameters(self):
        return [p.value.copy() for p in self.model.parameters]

    def train_epochs(self, X, y, epochs):
        plan, opt, x_node, y_node = self.plan, self.optimizer, self.model.x, self.model.y
        loss_sum = 0.0
        for _ in range(epochs):
            loss_sum = 0.0
            for x, t in _batches(self.rng, X, y, self.batch_size):
                loss = plan.fprop({x_node: x, y_node: t})
                plan.bprop()
                opt.step()
                loss_sum += float(loss) * len(t)
        return loss_sum / len(X)


class FlowgraphFoldMLP(FlowgraphStepMLP):
    """The bare planned step with plain SGD folded into the weight-gradient products."""

    name = "flowgraph (bare planned step, SGD folded)"

    def __init__(self, weights, lr, batch_size, seed=0):
        super().__init__(weights, lr, batch_size, seed, fold=True)


class FloorMLP(_Base):
    """The 8 matrix products of a 3-layer step, into preallocated arrays: the floor."""

    name = "the 8 matrix products alone"

    def __init__(self, weights, lr, batch_size, seed=0):
        super().__init__(weights, lr, batch_size, seed)
        self.bufs: dict[int, tuple] = {}

    def _bufs(self, n):
        if n not in self.bufs:
            Ws = self.params[0::2]
            dt = Ws[0].dtype
            hs = [np.empty((n, W.shape[0]), dt) for W in Ws]
            gs = [np.empty((n, W.shape[1]), dt) for W in Ws]
            self.bufs[n] = hs, gs, [np.empty_like(W) for W in Ws]
        return self.bufs[n]

    def train_epochs(self, X, y, epochs):
        Ws = self.params[0::2]
        for _ in range(epochs):
            for x, _t in _batches(self.rng, X, y, self.batch_size):
                hs, gs, gW = self._bufs(len(x))
                h = x
                for k, W in enumerate(Ws):  # a(k) = h(k-1) W(k)^T
                    np.matmul(h, W.T, out=hs[k])
                    h = hs[k]
                for k in range(len(Ws) - 1, -1, -1):  # grad_W(k), then grad_h(k-1)
                    np.matmul(hs[k].T, hs[k - 1] if k else x, out=gW[k])
                    if k:
                        np.matmul(hs[k], Ws[k], out=gs[k])
        return float("nan")
