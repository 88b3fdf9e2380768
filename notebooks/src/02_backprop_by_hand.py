# %% [markdown]
# # 2. Backpropagation by hand
#
# The lecture derives the gradient of the loss $-\log f(\mathbf{x})_y$ one step at a time: at the
# output $\mathbf{f}(\mathbf{x})$, at the output pre-activation $\mathbf{a}^{(L+1)}(\mathbf{x})$, at each hidden layer and
# for the parameters. Here each formula is written in NumPy, next to what flowgraph's bprop
# computes for the same network. They must agree to rounding error.

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg

rng = np.random.default_rng(0)

# %% [markdown]
# ## The network
#
# $L = 2$ hidden tanh layers, $\mathbf{x} \in \mathbb{R}^4$, 5 and 4 hidden units, $C = 3$ classes.
# For the output gradient we want a node for $\mathbf{f}(\mathbf{x})$ itself, so the graph uses a
# Softmax box followed by a CrossEntropy box (the fused `SoftmaxCrossEntropy` that `fg.mlp`
# uses skips that node). Float64 throughout, and one example at a time as on the slides.

# %%
sizes = [4, 5, 4, 3]
L = len(sizes) - 2
x, y = fg.Input("x"), fg.Input("y")
W = {k: fg.Parameter(fg.init.glorot_uniform((sizes[k], sizes[k - 1]), rng, dtype=np.float64), f"W{k}")
     for k in range(1, L + 2)}
b = {k: fg.Parameter(0.1 * rng.normal(size=sizes[k]), f"b{k}") for k in range(1, L + 2)}
h = {0: x}
a = {}
for k in range(1, L + 2):
    a[k] = fg.Linear()(h[k - 1], W[k], b[k], name=f"a{k}")
    if k <= L:
        h[k] = fg.Tanh()(a[k], name=f"h{k}")
f = fg.Softmax()(a[L + 1], name="f")
loss = fg.CrossEntropy()(f, y, name="loss")
graph = fg.Graph(loss)

x_t = rng.normal(size=(1, 4))  # one example, as a row
y_t = np.array([2])
graph.fprop({x: x_t, y: y_t})
graph.bprop(wrt=[x])  # also ask for the gradient at the input
graph

# %% [markdown]
# The engine's answers are now in each node's `.grad`. Next to them, the lecture's formulas.
#
# ## 1. Loss gradient at the output
#
# $$\frac{\partial}{\partial f(\mathbf{x})_c} -\log f(\mathbf{x})_y = \frac{-1_{(y=c)}}{f(\mathbf{x})_y},
# \qquad \nabla_{\mathbf{f}(\mathbf{x})} -\log f(\mathbf{x})_y = \frac{-\mathbf{e}(y)}{f(\mathbf{x})_y}$$

# %%
C = sizes[-1]
e_y = np.eye(C)[y_t[0]]  # the one-hot vector e(y)
f_x = f.value[0]
by_hand = -e_y / f_x[y_t[0]] + 0.0  # (+ 0.0 turns -0. into 0.)
print("by hand:   ", by_hand)
print("flowgraph: ", f.grad[0])
print("max |difference| =", np.abs(by_hand - f.grad[0]).max())

# %% [markdown]
# ## 2. Loss gradient at the output pre-activation
#
# $$\nabla_{\mathbf{a}^{(L+1)}(\mathbf{x})} -\log f(\mathbf{x})_y = -(\mathbf{e}(y) - \mathbf{f}(\mathbf{x}))$$

# %%
grad_a = {L + 1: -(e_y - f_x)}
print("by hand:   ", grad_a[L + 1])
print("flowgraph: ", a[L + 1].grad[0])
print("max |difference| =", np.abs(grad_a[L + 1] - a[L + 1].grad[0]).max())

# %% [markdown]
# ## 3. Down the layers: the backpropagation algorithm
#
# For $k$ from $L+1$ to 1:
#
# $$\nabla_{\mathbf{W}^{(k)}} -\log f(\mathbf{x})_y = (\nabla_{\mathbf{a}^{(k)}(\mathbf{x})} -\log f(\mathbf{x})_y)\; \mathbf{h}^{(k-1)}(\mathbf{x})^\top
# \qquad \nabla_{\mathbf{b}^{(k)}} -\log f(\mathbf{x})_y = \nabla_{\mathbf{a}^{(k)}(\mathbf{x})} -\log f(\mathbf{x})_y$$
#
# $$\nabla_{\mathbf{h}^{(k-1)}(\mathbf{x})} -\log f(\mathbf{x})_y = \mathbf{W}^{(k)\top} (\nabla_{\mathbf{a}^{(k)}(\mathbf{x})} -\log f(\mathbf{x})_y)$$
#
# $$\nabla_{\mathbf{a}^{(k-1)}(\mathbf{x})} -\log f(\mathbf{x})_y = (\nabla_{\mathbf{h}^{(k-1)}(\mathbf{x})} -\log f(\mathbf{x})_y) \odot [\dots, g'(a^{(k-1)}(\mathbf{x})_j), \dots]$$
#
# with $g'(a) = 1 - g(a)^2$ for tanh. Each line below is one of these formulas, in NumPy, with
# the forward values taken from the graph.

# %%
hv = {0: x_t[0]} | {k: h[k].value[0] for k in range(1, L + 1)}  # h(k)(x), forward values
grad_W, grad_b, grad_h = {}, {}, {}
for k in range(L + 1, 0, -1):
    grad_W[k] = np.outer(grad_a[k], hv[k - 1])           # (grad a(k)) h(k-1)^T
    grad_b[k] = grad_a[k]                                # grad a(k)
    grad_h[k - 1] = W[k].value.T @ grad_a[k]             # W(k)^T grad a(k)
    if k > 1:
        grad_a[k - 1] = grad_h[k - 1] * (1 - hv[k - 1] ** 2)  # ⊙ g'(a(k-1)), tanh

rows = []
for k in range(L + 1, 0, -1):
    rows.append((f"grad a({k})", grad_a[k], a[k].grad[0]))
    rows.append((f"grad W({k})", grad_W[k], W[k].grad))
    rows.append((f"grad b({k})", grad_b[k], b[k].grad))
    rows.append((f"grad h({k - 1})", grad_h[k - 1], (h[k - 1].grad[0])))
print(f"{'quantity':12s} {'shape':>8s} {'max |by hand - flowgraph|':>28s}")
for name, mine, theirs in rows:
    print(f"{name:12s} {str(np.shape(mine)):>8s} {np.abs(mine - theirs).max():28.2e}")
assert all(np.allclose(m, t, atol=1e-12) for _, m, t in rows)

# %% [markdown]
# $\mathbf{h}^{(0)} = \mathbf{x}$, so the last line is the gradient with respect to the input itself
# (we asked for it with `bprop(wrt=[x])`); notebook 6 uses it to build adversarial examples.
#
# ### Mini-batches
#
# With a mini-batch of $N$ examples the loss is the mean $\frac1N \sum_t -\log f(\mathbf{x}^{(t)})_{y^{(t)}}$,
# so each gradient is the mean of the per-example gradients: the rows of $\nabla_{\mathbf{a}}$ are
# divided by $N$ and the Linear box sums $\nabla_{\mathbf{a}}^\top \mathbf{h}$ over the batch.

# %%
Xb = rng.normal(size=(8, 4))
Yb = rng.integers(0, C, size=8)
graph.fprop({x: Xb, y: Yb})
graph.bprop()
batch_grad = W[1].grad.copy()
per_example = []
for t in range(8):
    graph.fprop({x: Xb[t : t + 1], y: Yb[t : t + 1]})
    graph.bprop()
    per_example.append(W[1].grad.copy())
print("max |batch gradient - mean of per-example gradients| =",
      np.abs(batch_grad - np.mean(per_example, axis=0)).max())

# %% [markdown]
# ## Activation functions and their derivatives
#
# | $g(a)$ | $g'(a)$ |
# |---|---|
# | linear: $a$ | $1$ |
# | sigmoid: $\mathrm{sigm}(a) = \frac{1}{1+\exp(-a)}$ | $g(a)(1 - g(a))$ |
# | tanh: $\frac{\exp(2a) - 1}{\exp(2a) + 1}$ | $1 - g(a)^2$ |
# | ReLU: $\max(0, a)$ | $1_{a > 0}$ |
#
# Each activation box returns $\nabla_{\mathbf{a}} = \nabla_{\mathbf{h}} \odot g'(\mathbf{a})$; with
# $\nabla_{\mathbf{h}} = 1$ its bprop gives $g'(a)$ itself. The solid lines are the boxes' fprop and
# bprop; the dots are the lecture's formulas.

# %%
grid = np.linspace(-4, 4, 201).reshape(1, -1)
formulas = {
    "Identity": lambda g: np.ones_like(g),
    "Sigmoid": lambda g: g * (1 - g),
    "Tanh": lambda g: 1 - g**2,
    "ReLU": lambda g: (g > 0).astype(float),
}
fig, axes = plt.subplots(1, 4, figsize=(13, 3), sharex=True)
for ax, (name, formula) in zip(axes, formulas.items()):
    box = getattr(fg, name)()
    g = box.fprop(grid)
    (g_prime,) = box.bprop([grid], g, np.ones_like(grid))
    ax.plot(grid[0], g[0], label="$g(a)$ (fprop)")
    ax.plot(grid[0], g_prime[0], label="$g'(a)$ (bprop)")
    ax.plot(grid[0, ::12], formula(g)[0, ::12], "k.", label="lecture's $g'(a)$")
    ax.set(title=name, xlabel="$a$", ylim=(-1.2, 2.2))
axes[0].set_ylabel("value")
axes[0].legend(frameon=False, fontsize=8, loc="upper left")
fig.tight_layout()

# %% [markdown]
# Sigmoid and tanh saturate: far from 0 their derivative vanishes, and so does every gradient
# that has to pass through them. ReLU's derivative is 1 wherever the unit is active.
#
# ## Gradient checking
#
# To debug fprop/bprop, compare with a finite-difference approximation:
#
# $$\frac{\partial f(x)}{\partial x} \approx \frac{f(x + \epsilon) - f(x - \epsilon)}{2\epsilon}$$
#
# `fg.check_box(box)` does it for every element of every input of a box, in float64. The built-in
# Tanh passes:

# %%
report = fg.check_box(fg.Tanh())
print(report)
assert report.ok

# %% [markdown]
# Now a box with a classic slip: the derivative of tanh written as $1 - g(a)$ instead of
# $1 - g(a)^2$. Its fprop is right, its bprop is not. Defining a box is a few lines: subclass
# `fg.Box` (here `fg.Tanh`, to keep its fprop and its `sample_inputs`) and override `bprop`.

# %%
class WrongTanh(fg.Tanh):
    """tanh with a bug: g'(a) = 1 - g(a), forgetting the square."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * (1 - h),)


report = fg.check_box(WrongTanh())
print(report)
assert not report.ok

# %% [markdown]
# In a whole graph, `fg.check_graph` checks every parameter end to end and, when something is
# wrong, re-checks each box with the values it received during fprop and names the first that
# fails: here the second hidden layer uses the buggy box.

# %%
x2, y2 = fg.Input("x"), fg.Input("y")
V = [fg.Parameter(fg.init.glorot_uniform((sizes[k], sizes[k - 1]), rng, dtype=np.float64), f"W{k}")
     for k in (1, 2, 3)]
c = [fg.Parameter(np.zeros(sizes[k]), f"b{k}") for k in (1, 2, 3)]
hh = fg.Tanh()(fg.Linear()(x2, V[0], c[0], name="a1"), name="h1")
hh = WrongTanh()(fg.Linear()(hh, V[1], c[1], name="a2"), name="h2")
buggy = fg.Graph(fg.SoftmaxCrossEntropy()(fg.Linear()(hh, V[2], c[2], name="a3"), y2, name="loss"))
greport = fg.check_graph(buggy, {x2: rng.normal(size=(6, 4)), y2: rng.integers(0, 3, size=6)})
print(greport)
assert greport.first_failing_box == "h2"

# %% [markdown]
# ### Choosing $\epsilon$
#
# The central difference has a truncation error of order $\epsilon^2$, the one-sided
# $\frac{f(x+\epsilon) - f(x)}{\epsilon}$ of order $\epsilon$; both suffer round-off of order
# $10^{-16}/\epsilon$ in float64. The error of each against the Tanh box's bprop, as $\epsilon$ shrinks:

# %%
box = fg.Tanh()
a0 = np.array([[0.7]])
(exact,) = box.bprop([a0], box.fprop(a0), np.ones_like(a0))
eps = np.logspace(-12, -1, 45)
central = [abs((box.fprop(a0 + e) - box.fprop(a0 - e)).item() / (2 * e) - exact.item()) for e in eps]
forward = [abs((box.fprop(a0 + e) - box.fprop(a0)).item() / e - exact.item()) for e in eps]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(eps, central, label=r"central $\frac{f(x+\epsilon)-f(x-\epsilon)}{2\epsilon}$")
ax.loglog(eps, forward, label=r"one-sided $\frac{f(x+\epsilon)-f(x)}{\epsilon}$")
ax.axvline(1e-6, color="0.5", ls="--", lw=1, label=r"checker's $\epsilon = 10^{-6}$")
ax.set(xlabel=r"$\epsilon$", ylabel="|numeric - bprop|", title="finite-difference error, tanh at a = 0.7")
ax.legend(frameon=False, fontsize=8);

# %% [markdown]
# ## What to remember
#
# * At the output: $-(\mathbf{e}(y) - \mathbf{f}(\mathbf{x}))$. Then, layer by layer: weights get
#   $\nabla_{\mathbf{a}^{(k)}} \mathbf{h}^{(k-1)\top}$, biases $\nabla_{\mathbf{a}^{(k)}}$, the layer below
#   $\mathbf{W}^{(k)\top}\nabla_{\mathbf{a}^{(k)}}$, times $g'$ element-wise.
# * A box's bprop is exactly one of these lines; the graph chains them.
# * Always check a new box with finite differences: a wrong derivative still trains, badly.
