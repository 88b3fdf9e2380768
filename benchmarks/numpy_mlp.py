"""The lecture's backprop for a tanh MLP, written by hand in NumPy: the "no graph" reference.

For one mini-batch (x_t, y_t), t = 1..N, with h(0) = x:

    a(k) = b(k) + W(k) h(k-1),   h(k) = tanh(a(k))          k = 1 .. L
    a(L+1) = b(L+1) + W(L+1) h(L),   f(x) = softmax(a(L+1))
    loss = 1/N sum_t -log f(x_t)_{y_t}

    grad_a(L+1) = -(e(y) - f(x)) / N
    for k = L+1 .. 1:
        grad_W(k) = grad_a(k) h(k-1)^T,  grad_b(k) = grad_a(k)    (summed over the batch)
        grad_h(k-1) = W(k)^T grad_a(k),  grad_a(k-1) = grad_h(k-1) ⊙ (1 - h(k-1)^2)
    theta <- theta - alpha grad_theta                               (plain SGD)

Two versions, both trained on the same batches in the same order as ``flowgraph.train``
(one ``rng.permutation`` per epoch, batches are consecutive slices of the permuted data):

* :class:`PlainNumpyMLP` writes the formulas as they read, allocating every temporary
  (``W -= alpha * np.outer(grad_a, h)`` for one example);
* :class:`FastNumpyMLP` is the best we could write by hand: preallocated buffers, ``out=``
  everywhere, and for batch 1 a BLAS rank-1 update ``W <- W - alpha grad_a h^T`` done in
  place (``sger``/``dger`` from SciPy's BLAS when SciPy is there; else an ``out=`` outer
  product into a buffer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

try:  # BLAS rank-1 update in place; optional (SciPy is not a flowgraph dependency)
    from scipy.linalg import blas as _blas
except ImportError:  # pragma: no cover - SciPy is installed wherever the tests run
    _blas = None

__all__ = ["PlainNumpyMLP", "FastNumpyMLP", "softmax_cross_entropy_loss"]


def softmax_cross_entropy_loss(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
) -> float:
    """The mean loss 1/N sum_t -log f(x_t)_{y_t} of the tanh MLP with parameters
    ``[W1, b1, ..., W{L+1}, b{L+1}]`` on (X, y), in float64: the common judge of every
    implementation's final parameters."""
    h = np.asarray(X, dtype=np.float64)
    n_layers = len(weights) // 2
    for k in range(n_layers):
        W = np.asarray(weights[2 * k], dtype=np.float64)
        b = np.asarray(weights[2 * k + 1], dtype=np.float64)
        a = h @ W.T + b
        h = np.tanh(a) if k < n_layers - 1 else a
    m = h.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(h - m).sum(axis=1)) + m[:, 0]
    return float(np.mean(log_z - h[np.arange(len(y)), y]))


class PlainNumpyMLP:
    """Backprop as written in the lecture, one NumPy expression per formula."""

    name = "NumPy (plain)"

    def __init__(self, weights: Sequence[np.ndarray], lr: float, batch_size: int, seed: int = 0):
        self.params = [np.array(w, copy=True) for w in weights]
        self.lr = lr
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def parameters(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params]

    def train_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        """``epochs`` epochs of SGD; returns the last epoch's mean training loss."""
        n_layers = len(self.params) // 2
        Ws, bs = self.params[0::2], self.params[1::2]
        lr, B = self.lr, self.batch_size
        for _ in range(epochs):
            perm = self.rng.permutation(len(X))
            Xs, ys = X[perm], y[perm]
            loss_sum = 0.0
            for i in range(0, len(X), B):
                x, t = Xs[i : i + B], ys[i : i + B]
                n = len(t)
                hs = [x]
                for k in range(n_layers):  # fprop
                    a = hs[-1] @ Ws[k].T + bs[k]
                    hs.append(np.tanh(a) if k < n_layers - 1 else a)
                a = hs.pop()
                e = np.exp(a - a.max(axis=1, keepdims=True))
                f = e / e.sum(axis=1, keepdims=True)
                rows = np.arange(n)
                loss_sum += float(-np.log(f[rows, t]).sum())
                grad_a = f
                grad_a[rows, t] -= 1
                grad_a /= n
                for k in range(n_layers - 1, -1, -1):  # bprop and update, top layer first
                    h = hs[k]
                    if n == 1:
                        grad_W = np.outer(grad_a[0], h[0])
                    else:
                        grad_W = grad_a.T @ h
                    grad_b = grad_a.sum(axis=0)
                    if k > 0:
                        grad_h = grad_a @ Ws[k]
                        grad_a = grad_h * (1 - h * h)
                    Ws[k] -= lr * grad_W
                    bs[k] -= lr * grad_b
        return loss_sum / len(X)


class FastNumpyMLP:
    """The same backprop with preallocated buffers, ``out=`` and in-place (rank-1) updates."""

    name = "NumPy (fast)"

    def __init__(self, weights: Sequence[np.ndarray], lr: float, batch_size: int, seed: int = 0):
        self.params = [np.array(w, copy=True) for w in weights]
        self.lr = lr
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        dtype = self.params[0].dtype
        self.ger = None
        if _blas is not None and dtype in (np.float32, np.float64):
            self.ger = _blas.sger if dtype == np.float32 else _blas.dger
        Ws = self.params[0::2]
        sizes = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
        self._buffers: dict[int, tuple] = {}
        self._sizes = sizes
        self._dtype = dtype

    def parameters(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params]

    def _bufs(self, n: int) -> tuple:
        """Activations a(k)/h(k), their gradients and the weight-gradient buffers for batch n."""
        if n not in self._buffers:
            s, dt = self._sizes, self._dtype
            acts = [np.empty((n, d), dt) for d in s[1:]]
            grads = [np.empty((n, d), dt) for d in s[1:]]
            gW = [np.empty((s[k + 1], s[k]), dt) for k in range(len(s) - 1)]
            gb = [np.empty(s[k + 1], dt) for k in range(len(s) - 1)]
            sqs = [np.empty((n, d), dt) for d in s[1:]]
            self._buffers[n] = (acts, grads, gW, gb, sqs)
        return self._buffers[n]

    def train_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        n_layers = len(self.params) // 2
        Ws, bs = self.params[0::2], self.params[1::2]
        lr, B, ger = self.lr, self.batch_size, self.ger
        neg_lr = self._dtype.type(-lr)
        for _ in range(epochs):
            perm = self.rng.permutation(len(X))
            Xs, ys = X[perm], y[perm]
            loss_sum = 0.0
            for i in range(0, len(X), B):
                x, t = Xs[i : i + B], ys[i : i + B]
                n = len(t)
                hs, gs, gW, gb, sqs = self._bufs(n)
                h = x
                for k in range(n_layers):  # fprop: h(k) = tanh(b(k) + h(k-1) W(k)^T)
                    np.matmul(h, Ws[k].T, out=hs[k])
                    hs[k] += bs[k]
                    if k < n_layers - 1:
                        np.tanh(hs[k], out=hs[k])
                    h = hs[k]
                a, g = hs[-1], gs[-1]  # softmax and cross-entropy, fused
                np.subtract(a, a.max(axis=1, keepdims=True), out=g)
                np.exp(g, out=g)
                z = g.sum(axis=1, keepdims=True)
                g /= z
                rows = np.arange(n)
                loss_sum += float(-np.log(g[rows, t]).sum())
                g[rows, t] -= 1
                g *= 1.0 / n
                for k in range(n_layers - 1, -1, -1):
                    h_below = hs[k - 1] if k > 0 else x
                    g = gs[k]
                    if k > 0:  # grad_h(k-1) before W(k) moves
                        np.matmul(g, Ws[k], out=gs[k - 1])
                    if n == 1 and ger is not None:  # W <- W - alpha g h^T, in place
                        ger(neg_lr, h_below[0], g[0], a=Ws[k].T, overwrite_a=True)
                        bs[k] -= lr * g[0]
                    else:
                        np.matmul(g.T, h_below, out=gW[k])
                        gW[k] *= neg_lr
                        Ws[k] += gW[k]
                        np.sum(g, axis=0, out=gb[k])
                        gb[k] *= neg_lr
                        bs[k] += gb[k]
                    if k > 0:  # grad_a(k-1) = grad_h(k-1) ⊙ (1 - h(k-1)^2)
                        hb, sq = hs[k - 1], sqs[k - 1]
                        np.multiply(hb, hb, out=sq)
                        np.subtract(1, sq, out=sq)
                        gs[k - 1] *= sq
        return loss_sum / len(X)
