"""Small graphs and data with known second derivatives, shared by the analysis tests."""

import numpy as np

import flowgraph as fg


def data(n=24, d=3, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def quadratic_graph(n=12, d_in=3, d_out=2, seed=0):
    """loss = sum_{t,i} (b_i + W_i . x_t - T_ti)^2, built from boxes: a quadratic in (W, b)."""
    rng = np.random.default_rng(seed)
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(rng.standard_normal((d_out, d_in)), "W")
    b = fg.Parameter(rng.standard_normal(d_out), "b")
    r = fg.Add()(fg.Linear()(x, W, b), fg.Scale(-1.0)(t))
    loss = fg.L2Penalty()(r, name="loss")
    X, T = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    return fg.Graph(loss), {x: X, t: T}, X, T


def quadratic_hessian(X, d_out):
    """The known answer: for each output i, d^2/d(W_i, b_i)^2 = 2 Z^T Z with Z = [X, 1]; the
    parameter vector is (W row-major, then b)."""
    n, d_in = X.shape
    ZZ = 2 * np.hstack([X, np.ones((n, 1))]).T @ np.hstack([X, np.ones((n, 1))])
    P = d_out * d_in + d_out
    H = np.zeros((P, P))
    for i in range(d_out):
        idx = [i * d_in + j for j in range(d_in)] + [d_out * d_in + i]
        H[np.ix_(idx, idx)] = ZZ
    return H


class TiedTranspose(fg.Box):
    """fprop: y = W^T;  bprop: grad_W = grad_y^T"""

    input_names = ("W",)

    def fprop(self, W):
        return W.T.copy()

    def bprop(self, inputs, y, grad_y):
        return (grad_y.T,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3)),)


class TiedTransposeWithRules(TiedTranspose):
    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{W}^T"""
        return tangents[0].T

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """R{grad_W} = R{grad_y}^T"""
        return (Rgrad_y.T,)


def autoencoder(transpose=TiedTransposeWithRules, n=20, d=4, k=2, dtype=np.float64, seed=0):
    """x_hat = W^T tanh(W x + b) + c, loss = 1/(2N) sum_t ||x_hat_t - x_t||^2: one Parameter W
    used twice (encoder W, decoder W^T, gradients summed)."""
    rng = np.random.default_rng(seed)
    x = fg.Input("x")
    W = fg.Parameter(0.7 * rng.standard_normal((k, d)).astype(dtype), "W")
    b = fg.Parameter(0.1 * rng.standard_normal(k).astype(dtype), "b")
    c = fg.Parameter(0.1 * rng.standard_normal(d).astype(dtype), "c")
    h = fg.Tanh()(fg.Linear()(x, W, b))
    x_hat = fg.Linear()(h, transpose()(W), c, name="x_hat")
    err = fg.Add()(x_hat, fg.Scale(-1.0)(x))
    loss = fg.Scale(1 / (2 * n))(fg.L2Penalty()(err), name="loss")
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5
    return fg.Graph(loss), {"x": X.astype(dtype)}
