"""Convolution and pooling over images in NCHW layout (batch, channels, height, width), as
``torch.nn.functional.conv2d``, ``max_pool2d`` and ``avg_pool2d``.

A convolution is a matrix product on windows ("im2col"): every kh x kw window of the padded
input, taken with ``sliding_window_view`` at the given stride, is one row; the kernel is one
column per output channel:

    y[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] x_pad[n, c, s i + p, s j + q]

Its bprop is two more products on the same windows: grad_W correlates grad_y with the
windows; grad_x sends each window's gradient back where the window was read ("col2im"),
summing where windows overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like


def pair(v: int | Sequence[int], what: str) -> tuple[int, int]:
    """An int or a pair of ints (kernel size, stride, padding) as a pair."""
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != 2 or not all(isinstance(i, (int, np.integer)) for i in t):
        raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
    return int(t[0]), int(t[1])


def out_size(box: str, shape: tuple, k: tuple, s: tuple, p: tuple) -> tuple[int, int]:
    """The output height and width; a kernel larger than the padded input is a ShapeError."""
    if len(shape) != 4:
        raise ShapeError(f"{box}: x must be (N, C, H, W), got shape {shape}")
    H, W = shape[2] + 2 * p[0], shape[3] + 2 * p[1]
    if k[0] > H or k[1] > W:
        raise ShapeError(
            f"{box}: kernel {k} is larger than the padded input {H}x{W} (x {shape}, padding {p})"
        )
    return (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1


def windows(x: np.ndarray, k: tuple, s: tuple, p: tuple, fill: float = 0.0) -> np.ndarray:
    """The (N, C, Ho, Wo, kh, kw) view of every window of x padded by ``p`` with ``fill``."""
    return sliding_window_view(padded(x, p, fill), k, axis=(2, 3))[:, :, :: s[0], :: s[1]]


def padded(x: np.ndarray, p: tuple, fill: float = 0.0) -> np.ndarray:
    """x with ``p`` rows and columns of ``fill`` around each image (x itself when p is 0)."""
    if not (p[0] or p[1]):
        return x
    N, C, H, W = np.shape(x)
    dtype = np.result_type(x) if np.isfinite(fill) else np.result_type(x, fill)  # as np.pad
    out = np.full((N, C, H + 2 * p[0], W + 2 * p[1]), fill, dtype=dtype)
    out[:, :, p[0] : p[0] + H, p[1] : p[1] + W] = x
    return out


def at_offset(x_pad: np.ndarray, i: int, j: int, s: tuple, size: tuple) -> np.ndarray:
    """The view x_pad[n, c, s r + i, s q + j] over (r, q) in the output grid: the element at
    offset (i, j) of every window, (N, C, Ho, Wo)."""
    return x_pad[:, :, i : i + s[0] * size[0] : s[0], j : j + s[1] * size[1] : s[1]]


def im2col(x: np.ndarray, k: tuple, s: tuple, p: tuple) -> np.ndarray:
    """The windows as columns, (N, C kh kw, Ho Wo), one copy: column (r, q) of image n is
    the window read for output pixel (r, q), laid out as W[o] is (c, p, q)."""
    win = windows(x, k, s, p)
    N, C, Ho, Wo = win.shape[:4]
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * k[0] * k[1], Ho * Wo)


def col2im(cols: np.ndarray, shape: tuple, k: tuple, s: tuple, p: tuple,
           out: np.ndarray | None = None) -> np.ndarray:
    """The adjoint of ``windows``: cols (N, C, kh, kw, Ho, Wo) added back into an array of
    ``shape`` (N, C, H, W), summing where windows overlap, padding cropped: from +0, each
    offset (p, q) in row order adds its (N, C, Ho, Wo) block. ``out``: the padded array
    (N, C, H + 2 pad, W + 2 pad) to do it in (a step plan's buffer), zeroed first."""
    N, C, H, W = shape
    out = np.empty((N, C, H + 2 * p[0], W + 2 * p[1]), cols.dtype) if out is None else out
    out.fill(0)
    for i in range(k[0]):
        for j in range(k[1]):
            at_offset(out, i, j, s, cols.shape[4:])[...] += cols[:, :, i, j]
    return out[:, :, p[0] : p[0] + H, p[1] : p[1] + W]


def conv(x, weight, s, p) -> np.ndarray:
    """sum_{c,p,q} W[o, c, p, q] x_pad[n, c, s i + p, s j + q]: the kernels (O, C kh kw)
    times each image's columns (C kh kw, Ho Wo), one GEMM per image: (N, O, Ho, Wo)."""
    N, O = np.shape(x)[0], weight.shape[0]
    Ho, Wo = out_size("Conv2d", np.shape(x), weight.shape[2:], s, p)
    y = np.matmul(weight.reshape(O, -1), im2col(x, weight.shape[2:], s, p))
    return y.reshape(N, O, Ho, Wo)


def conv_grad_x(g, weight, shape, s, p) -> np.ndarray:
    """grad_x of ``conv``: each window's gradient sum_o g[n, o, i, j] W[o] (W^T g, one GEMM
    per image) sent back where the window was read (col2im)."""
    N, O, Ho, Wo = np.shape(g)
    cols = np.matmul(weight.reshape(O, -1).T, np.reshape(g, (N, O, Ho * Wo)))
    return col2im(cols.reshape(N, shape[1], *weight.shape[2:], Ho, Wo), shape,
                  weight.shape[2:], s, p)  # fmt: skip


def conv_grad_w(g, x, wshape, s, p) -> np.ndarray:
    """grad_W of ``conv``: grad_y correlated with the windows, sum_n g[n] cols[n]^T, (O, C,
    kh, kw)."""
    N, O = np.shape(g)[:2]
    cols = im2col(x, wshape[2:], s, p)
    return np.matmul(np.reshape(g, (N, O, -1)), cols.transpose(0, 2, 1)).sum(axis=0) \
        .reshape(wshape)


def one_float_dtype(*arrays) -> bool:
    """Whether ``arrays`` are NumPy arrays of one float dtype (the kernels' case: the boxes'
    math then casts nothing)."""
    dtype = getattr(arrays[0], "dtype", None)
    return dtype is not None and dtype.kind == "f" and all(
        type(a) is np.ndarray and a.dtype == dtype for a in arrays
    )


class Conv2d(Box):
    """2-D convolution (cross-correlation, as every deep-learning library) of x (N, C, H, W)
    with kernels W (O, C, kh, kw) and an optional bias b (O,), as
    ``torch.nn.functional.conv2d(x, W, b, stride, padding)``.

    fprop:  y[n,o,i,j] = b[o] + sum_{c,p,q} W[o,c,p,q] x_pad[n, c, s i + p, s j + q]
            y: (N, O, (H + 2 pad - kh) // s + 1, (W + 2 pad - kw) // s + 1)
    bprop:  grad_W[o,c,p,q] = sum_{n,i,j} grad_y[n,o,i,j] x_pad[n, c, s i + p, s j + q]
            grad_x = the windows' gradients sum_o grad_y[n,o,i,j] W[o] added back (col2im)
            grad_b[o] = sum_{n,i,j} grad_y[n,o,i,j]
    """

    arity = None
    min_arity = 2
    input_names = ("x", "W", "b")

    def __init__(self, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0):
        self.stride, self.padding = pair(stride, "stride"), pair(padding, "padding")
        if min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2d needs stride >= 1 and padding >= 0, got {stride}, {padding}")

    @classmethod
    def example(cls) -> Conv2d:
        return cls(stride=2, padding=1)

    def config(self) -> dict:
        return {"stride": list(self.stride), "padding": list(self.padding)}

    def _check(self, x, weight, b=None) -> None:
        if len(np.shape(weight)) != 4:
            raise ShapeError(f"Conv2d: W must be (O, C, kh, kw), got shape {np.shape(weight)}")
        out_size("Conv2d", np.shape(x), weight.shape[2:], self.stride, self.padding)
        if np.shape(x)[1] != weight.shape[1]:
            raise ShapeError(
                f"Conv2d: x has {np.shape(x)[1]} channels (shape {np.shape(x)}) but W expects "
                f"{weight.shape[1]} (shape {weight.shape})"
            )
        if b is not None and np.shape(b) != (weight.shape[0],):
            raise ShapeError(f"Conv2d: b must have shape ({weight.shape[0]},), got {np.shape(b)}")

    def fprop(self, x, weight, *b):
        if len(b) > 1:
            raise ShapeError(f"Conv2d takes x, W and an optional b, got {2 + len(b)} children")
        self._check(x, weight, *b)
        y = conv(x, weight, self.stride, self.padding)
        return y + b[0][:, None, None] if b else y

    def bprop(self, inputs, y, grad_y):
        x, weight = inputs[:2]
        s, p = self.stride, self.padding
        grads = (conv_grad_x(grad_y, weight, np.shape(x), s, p),
                 conv_grad_w(grad_y, x, weight.shape, s, p))
        grads += (grad_y.sum(axis=(0, 2, 3)),) if len(inputs) == 3 else ()
        return tuple(grad_like(g, v) for g, v in zip(grads, inputs))

    def bprop_needed(self, inputs, y, grad_y, needs):
        """``bprop`` without grad_x when x wants none (the first layer reads the images):
        its col2im is a third of a step's work there."""
        if needs[0]:
            return self.bprop(inputs, y, grad_y)
        x, weight = inputs[:2]
        grads = (None, conv_grad_w(grad_y, x, weight.shape, self.stride, self.padding))
        grads += (grad_y.sum(axis=(0, 2, 3)),) if len(inputs) == 3 else ()
        return (None,) + tuple(grad_like(g, v) for g, v in zip(grads[1:], inputs[1:]))

    # -- the step plan's kernels (flowgraph.step.calls): fprop and bprop_needed in buffers ---
    def fprop_kernel(self, inputs, out, shared=None):
        """fprop's operations for one float dtype in buffers made once: x copied into a
        zero-bordered x_pad (the border written once), its windows into the columns (im2col),
        W (O, C kh kw) times each image's columns into ``out``, + b. The columns stay in
        ``shared`` for bprop_kernel's grad_W (the same windows of the same x)."""
        x, weight = inputs[:2]
        if not one_float_dtype(*inputs, out) or not out.flags.c_contiguous:
            return None
        (N, C, H, W), O, k = x.shape, weight.shape[0], weight.shape[2:]
        s, p, (Ho, Wo) = self.stride, self.padding, out.shape[2:]
        cols = np.empty((N, C * k[0] * k[1], Ho * Wo), x.dtype)
        if shared is not None:
            shared["cols"] = cols
        y, into = out.reshape(N, O, Ho * Wo), cols.reshape(N, C, k[0], k[1], Ho, Wo)
        x_pad = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), x.dtype)  # (its border kept)
        inner = x_pad[:, :, p[0] : p[0] + H, p[1] : p[1] + W]
        fixed = windows(x_pad, k, s, (0, 0)).transpose(0, 1, 4, 5, 2, 3)
        copyto, matmul, add = np.copyto, np.matmul, np.add

        def conv2d(x, weight, *b):
            copyto(inner, x)
            copyto(into, fixed)  # (im2col's copy)
            matmul(weight.reshape(O, -1), cols, out=y)
            return add(out, b[0][:, None, None], out=out) if b else out  # (y + b)

        return conv2d

    def bprop_kernel(self, inputs, y, grad_y, needs, out, shared=None):
        """bprop_needed's operations for one float dtype in buffers made once: grad_x's W^T g
        (a GEMM per image) into columns, col2im in a padded buffer (x's gradient buffer
        without padding), its interior copied out; grad_W's g cols^T per image, summed over
        the batch, with the columns fprop_kernel left in ``shared`` at this step (None
        without them); grad_b the sum of g over (n, i, j)."""
        x, weight = inputs[:2]
        want = tuple(needs) + (False,) * (3 - len(needs))
        out_x, out_W, out_b = tuple(out) + (None,) * (3 - len(out))
        cols, bufs = (shared or {}).get("cols"), [o for o, k in zip(out, needs) if k]
        if any(o is None or not o.flags.c_contiguous for o in bufs):
            return None  # (a gradient wanted with no contiguous buffer to write it into)
        if want[1] and (cols is None or cols.dtype != x.dtype):
            return None  # (grad_W reads the columns of this step's fprop kernel)
        if not one_float_dtype(*inputs, grad_y, *bufs):
            return None
        (N, C, H, W), O, k = x.shape, weight.shape[0], weight.shape[2:]
        s, p, (Ho, Wo) = self.stride, self.padding, grad_y.shape[2:]
        spread = np.empty((N, C, k[0], k[1], Ho, Wo), x.dtype) if want[0] else None
        pad = p[0] or p[1]
        x_pad = np.empty((N, C, H + 2 * p[0], W + 2 * p[1]), x.dtype) if pad else out_x
        parts = np.empty((N, O, C * k[0] * k[1]), x.dtype) if want[1] else None
        w_sum = out_W.reshape(O, -1) if want[1] else None
        matmul, reduce, copyto, reshape = np.matmul, np.add.reduce, np.copyto, np.reshape
        result = tuple(o if w else None for o, w in zip(out, want))

        def conv2d(inputs, y, grad_y):
            g = reshape(grad_y, (N, O, Ho * Wo))
            if want[0]:
                matmul(inputs[1].reshape(O, -1).T, g, out=spread.reshape(N, -1, Ho * Wo))
                inner = col2im(spread, (N, C, H, W), k, s, p, out=x_pad)
                if pad:
                    copyto(out_x, inner)
            if want[1]:
                matmul(g, cols.transpose(0, 2, 1), out=parts)
                reduce(parts, axis=0, out=w_sum)  # (.sum(axis=0))
            if want[2]:
                reduce(grad_y, axis=(0, 2, 3), out=out_b)
            return result

        return conv2d

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = conv(R{x}, W) + conv(x, R{W}) + R{b} (bilinear in x and W)."""
        (x, weight), (Rx, RW) = inputs[:2], tangents[:2]
        s, p = self.stride, self.padding
        Ry = conv(Rx, weight, s, p) + conv(x, RW, s, p)
        Ry = Ry + tangents[2][:, None, None] if len(inputs) == 3 else Ry
        return Ry.astype(np.result_type(y), copy=False)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """Product rule on each formula of bprop (each is bilinear)."""
        (x, weight), (Rx, RW) = inputs[:2], tangents[:2]
        s, p = self.stride, self.padding
        Rgx = conv_grad_x(R_grad_y, weight, np.shape(x), s, p) + \
            conv_grad_x(grad_y, RW, np.shape(x), s, p)
        RgW = conv_grad_w(R_grad_y, x, weight.shape, s, p) + \
            conv_grad_w(grad_y, Rx, weight.shape, s, p)
        grads = (Rgx, RgW) + ((R_grad_y.sum(axis=(0, 2, 3)),) if len(inputs) == 3 else ())
        return tuple(grad_like(g, v) for g, v in zip(grads, inputs))

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((4, 3, 3, 2)),
                rng.standard_normal(4))

    def __repr__(self) -> str:
        return f"Conv2d(stride={self.stride}, padding={self.padding})"


class Pooling:
    """What the pooling boxes share (a mixin, not a box): kh x kw windows at a stride
    (default: the kernel size), padded."""

    def __init__(self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None,
                 padding: int | Sequence[int] = 0):
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{type(self).__name__}: kernel and stride >= 1, padding >= 0")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{type(self).__name__}: padding at most half the kernel size")

    @classmethod
    def example(cls):
        return cls(3, stride=2, padding=1)

    def config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding)}

    def _size(self, x) -> tuple[int, int]:
        return out_size(type(self).__name__, np.shape(x), self.kernel_size, self.stride,
                        self.padding)

    def reader(self, x, size: tuple, fill: float):
        """For a kernel: a function of x giving the (N, C, Ho, Wo) views of x_pad at each
        window offset, in row order; x_pad a buffer whose border of ``fill`` is written once
        (x copied into its interior at each call), or x itself without padding."""
        k, s, p = self.kernel_size, self.stride, self.padding
        offsets = [(i, j) for i in range(k[0]) for j in range(k[1])]
        if not (p[0] or p[1]):
            return lambda x: [at_offset(x, i, j, s, size) for i, j in offsets]
        x_pad = padded(x, p, fill)
        inner, copyto = x_pad[:, :, p[0] : p[0] + x.shape[2], p[1] : p[1] + x.shape[3]], np.copyto
        views = [at_offset(x_pad, i, j, s, size) for i, j in offsets]
        return lambda x: (copyto(inner, x), views)[1]

    def grad_buffers(self, x_shape: tuple, size: tuple, g_x, dtype):
        """For a bprop kernel: (the padded gradient buffer, x's gradient buffer ``g_x``
        itself without padding; its views at each window offset, in row order; its interior)."""
        k, s, p = self.kernel_size, self.stride, self.padding
        N, C, H, W = x_shape
        grad = np.empty((N, C, H + 2 * p[0], W + 2 * p[1]), dtype) if p[0] or p[1] else g_x
        views = [at_offset(grad, i, j, s, size) for i in range(k[0]) for j in range(k[1])]
        return grad, views, grad[:, :, p[0] : p[0] + H, p[1] : p[1] + W]

    def window_kernel(self, inputs, out):
        """fprop's operations for one float dtype into ``out`` (x copied into a buffer whose
        border of ``fill`` is written once, where padded): the first offset's values, then
        ``combine`` (maximum, +) with each other offset's in row order; / (kh kw) for +."""
        x = inputs[0]
        if not one_float_dtype(x, out):
            return None
        read, copyto, combine = self.reader(x, out.shape[2:], self.fill), np.copyto, self.combine
        mean = self.kernel_size[0] * self.kernel_size[1] if combine is np.add else 0

        def pool(x):
            first, *rest = read(x)
            copyto(out, first)
            for view in rest:
                combine(out, view, out=out)
            return np.divide(out, mean, out=out) if mean else out

        return pool

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3, 6, 5)),)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding})")


class MaxPool2d(Pooling, Box):
    """The largest value of each kh x kw window, as ``torch.nn.functional.max_pool2d``
    (padding with -inf).

    fprop:  y[n,c,i,j] = max_{p,q} x_pad[n, c, s i + p, s j + q]
    bprop:  grad_x = grad_y sent to the maximum of each window (one element on ties: the
            first in row order), summed where windows overlap
    """

    def _winners(self, x):
        win = windows(x, self.kernel_size, self.stride, self.padding, fill=-np.inf)
        flat = win.reshape(win.shape[:4] + (-1,))
        return win, np.argmax(flat, axis=-1)

    def fprop(self, x):
        size = self._size(x)
        return self._max(padded(np.asarray(x), self.padding, -np.inf), size)

    def _max(self, x_pad, size):
        """max over the window offsets (p, q) of x_pad at that offset: kh kw element-wise
        maxima of (N, C, Ho, Wo) views, no window copied."""
        kh, kw = self.kernel_size
        y = at_offset(x_pad, 0, 0, self.stride, size).copy()
        for i in range(kh):
            for j in range(kw):
                if i or j:  # (max(v, v) is v, to the bit: the first offset is taken once)
                    np.maximum(y, at_offset(x_pad, i, j, self.stride, size), out=y)
        return y

    def bprop(self, inputs, y, grad_y):
        """Each window's gradient goes to the first offset, in row order, holding its
        maximum (recomputed from x: bprop trusts nothing but its inputs)."""
        x, g = np.asarray(inputs[0]), np.asarray(grad_y)
        size = self._size(x)
        x_pad = padded(x, self.padding, -np.inf)
        top = self._max(x_pad, size)
        grad = np.zeros(x_pad.shape, dtype=g.dtype)
        free = np.ones(top.shape, dtype=bool)  # windows whose maximum is not yet found
        for i in range(self.kernel_size[0]):
            for j in range(self.kernel_size[1]):
                hit = at_offset(x_pad, i, j, self.stride, size) == top
                hit &= free
                free ^= hit
                at_offset(grad, i, j, self.stride, size)[...] += g * hit
        p, (H, W) = self.padding, x.shape[2:]
        return (grad[:, :, p[0] : p[0] + H, p[1] : p[1] + W],)

    # -- the step plan's kernels (flowgraph.step.calls): fprop and bprop in buffers --------
    fill, combine = -np.inf, np.maximum
    fprop_kernel = Pooling.window_kernel

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """bprop's operations for one float dtype, into buffers made once, with the maxima
        y that fprop gave (what bprop recomputes from x: the same numbers), per offset in
        row order: hit = (x_pad there == y) & free, free ^= hit (the same booleans, without
        the & of the first offset, where all are free, and the ^ of the last), grad there
        += g * hit (g * hit into a buffer). Windows that tile x_pad (stride = kernel, no
        element left over) add once to each element, from +0: ``0 + g * hit`` is written
        there, without the zeroing."""
        x, g_x = inputs[0], out[0]
        if g_x is None or not one_float_dtype(x, y, grad_y, g_x):
            return None
        size, (k, s) = y.shape[2:], (self.kernel_size, self.stride)
        read = self.reader(x, size, -np.inf)
        grad, views, inner = self.grad_buffers(x.shape, size, g_x, x.dtype)
        hit, free, term = np.empty(y.shape, bool), np.empty(y.shape, bool), np.empty_like(y)
        equal, both, either, multiply, add = (np.equal, np.bitwise_and, np.bitwise_xor,
                                              np.multiply, np.add)  # fmt: skip
        once = s == k and (size[0] * k[0], size[1] * k[1]) == grad.shape[2:]
        zero, last, result = x.dtype.type(0), len(views) - 1, (g_x,)

        def max_pool(inputs, y, grad_y):
            if not once:
                grad.fill(0)
            for o, (x_at, grad_at) in enumerate(zip(read(inputs[0]), views)):
                equal(x_at, y, out=hit)
                if o:
                    both(hit, free, out=hit)  # (hit &= free)
                if o < last:  # (free ^= hit; at the first offset all were free: not hit)
                    either(free if o else True, hit, out=free)
                multiply(grad_y, hit, out=term)
                add(zero if once else grad_at, term, out=grad_at)  # (grad there += g * hit)
            if grad is not g_x:
                np.copyto(g_x, inner)
            return result

        return max_pool

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} at each window's maximum."""
        x = inputs[0]
        arg = self._winners(x)[1]
        Rwin = windows(tangents[0], self.kernel_size, self.stride, self.padding)
        Rflat = Rwin.reshape(Rwin.shape[:4] + (-1,))
        return np.take_along_axis(Rflat, arg[..., None], axis=-1)[..., 0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} sent to the same maxima."""
        return self.bprop(inputs, y, R_grad_y)


class AvgPool2d(Pooling, Box):
    """The mean of each kh x kw window, as ``torch.nn.functional.avg_pool2d`` (zero padding
    counted in the mean, torch's default ``count_include_pad=True``).

    fprop:  y[n,c,i,j] = 1/(kh kw) sum_{p,q} x_pad[n, c, s i + p, s j + q]
    bprop:  grad_x = grad_y / (kh kw) added over each window, summed where windows overlap
    """

    def fprop(self, x):
        size = self._size(x)
        x_pad, (kh, kw) = padded(np.asarray(x), self.padding), self.kernel_size
        y = at_offset(x_pad, 0, 0, self.stride, size).copy()
        for i in range(kh):
            for j in range(kw):
                if i or j:
                    y += at_offset(x_pad, i, j, self.stride, size)
        return y / (kh * kw)

    def bprop(self, inputs, y, grad_y):
        kh, kw = self.kernel_size
        g = np.asarray(grad_y) / (kh * kw)
        cols = np.broadcast_to(g[:, :, None, None], g.shape[:2] + (kh, kw) + g.shape[2:])
        return (col2im(cols, np.shape(inputs[0]), self.kernel_size, self.stride,
                       self.padding),)

    # -- the step plan's kernels (flowgraph.step.calls): fprop and bprop in buffers --------
    fill, combine = 0.0, np.add
    fprop_kernel = Pooling.window_kernel

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """bprop's operations for one float dtype, into buffers made once: g / (kh kw) into a
        buffer, added at each offset in row order into the zeroed padded buffer (col2im),
        its interior copied out where padded."""
        x, g_x = inputs[0], out[0]
        if g_x is None or not one_float_dtype(x, y, grad_y, g_x):
            return None
        k, s, p = self.kernel_size, self.stride, self.padding
        scaled = np.empty(grad_y.shape, x.dtype)
        cols = np.broadcast_to(scaled[:, :, None, None], y.shape[:2] + k + y.shape[2:])
        grad = self.grad_buffers(x.shape, y.shape[2:], g_x, x.dtype)[0]
        divide, count, result = np.divide, k[0] * k[1], (g_x,)

        def avg_pool(inputs, y, grad_y):
            divide(grad_y, count, out=scaled)
            inner = col2im(cols, x.shape, k, s, p, out=grad)
            if grad is not g_x:
                np.copyto(g_x, inner)
            return result

        return avg_pool

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = the window means of R{x} (linear)."""
        return self.fprop(tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)
