# %% [markdown]
# # 7. A 2-D playground
#
# The lecture points to an interactive browser demo of neural network training on points in the
# plane (Andrej Karpathy's): you watch the decision regions bend as training goes. This notebook
# does the same with flowgraph, on four classic sets of 2-d points. Every network is the
# lecture's
#
# $$\mathbf{h}^{(k)}(\mathbf{x}) = \mathbf{g}\big(\mathbf{b}^{(k)} + \mathbf{W}^{(k)} \mathbf{h}^{(k-1)}(\mathbf{x})\big), \qquad
# \mathbf{f}(\mathbf{x}) = \mathrm{softmax}\big(\mathbf{b}^{(L+1)} + \mathbf{W}^{(L+1)} \mathbf{h}^{(L)}(\mathbf{x})\big)$$
#
# and the coloured region of a class is where $f(\mathbf{x})_c$ is largest. Without a hidden layer
# the boundary $\{ \mathbf{x} : a^{(1)}(\mathbf{x})_0 = a^{(1)}(\mathbf{x})_1 \}$ is a straight line; each
# hidden layer of units $g(\cdot)$ bends it.

# %%
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML
from matplotlib import animation

import flowgraph as fg
from flowgraph import datasets

plt.rcParams["figure.dpi"] = 72  # small pictures: this notebook has many

sets = {
    "moons": datasets.make_moons(200, noise=0.15, seed=0),
    "circles": datasets.make_circles(200, noise=0.08, factor=0.5, seed=0),
    "spirals": datasets.make_spirals(300, noise=0.03, turns=1.5, seed=0),
    "XOR": datasets.make_xor(200, noise=0.05, seed=0),
}
tests = {  # a fresh sample of each, to measure generalisation
    "moons": datasets.make_moons(1000, noise=0.15, seed=1),
    "circles": datasets.make_circles(1000, noise=0.08, factor=0.5, seed=1),
    "spirals": datasets.make_spirals(1000, noise=0.03, turns=1.5, seed=1),
    "XOR": datasets.make_xor(1000, noise=0.05, seed=1),
}
# the spirals fill the unit disc; spread them over [-3, 3] so that the first layer's units
# g(b_j + W_j x) can cut sharply from the start (inputs of order 1 to 3 suit Glorot's weights)
for name in ["spirals"]:
    for d in (sets, tests):
        d[name] = (3 * d[name][0], d[name][1])
COLORS = np.array(["#0072B2", "#D55E00"])
REGIONS = plt.matplotlib.colors.LinearSegmentedColormap.from_list(
    "regions", ["#8fc3e6", "#ffffff", "#f2b48f"])  # pale blue (class 0) to pale orange (class 1)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for ax, (name, (X, y)) in zip(axes, sets.items()):
    ax.scatter(X[:, 0], X[:, 1], c=COLORS[y], s=10)
    ax.set(title=f"{name} ({len(y)} points)", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
fig.tight_layout()

# %% [markdown]
# A few lines of glue: evaluate $f(\mathbf{x})_1$ on a grid covering the points and draw it, with the
# training points on top, and train a network on a set.

# %%
def grid_for(X, n=120, margin=0.4):
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    g1, g2 = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    return np.column_stack([g1.ravel(), g2.ravel()]), (x0, x1, y0, y1)


def draw(ax, proba, extent, X, y, title=""):
    n = int(np.sqrt(len(proba)))
    g1, g2 = np.linspace(*extent[:2], n), np.linspace(*extent[2:], n)
    ax.contourf(g1, g2, proba.reshape(n, n), levels=np.linspace(0, 1, 11), cmap=REGIONS)
    ax.contour(g1, g2, proba.reshape(n, n), levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=COLORS[y], s=8, edgecolors="white", linewidths=0.3)
    ax.set(title=title, xticks=[], yticks=[], xlim=extent[:2], ylim=extent[2:])


def fit(name, hidden, activation="tanh", l2=0.0, epochs=200, lr=0.1, seed=0):
    X, y = sets[name]
    model = fg.mlp([2, *hidden, 2], activation=activation, l2=l2, seed=seed)
    opt = fg.SGD(model.parameters, lr=lr, momentum=0.9)
    fg.train(model, (X, y), epochs=epochs, batch_size=10, optimizer=opt, seed=seed, progress=False)
    Xt, yt = tests[name]
    return model, model.error(X, y), model.error(Xt, yt)

# %% [markdown]
# ## A straight line is not enough
#
# With no hidden layer ($L = 0$) the network is a linear classifier: on every one of these sets
# it draws one straight boundary. One hidden layer of 8 tanh units bends it.

# %%
fig, axes = plt.subplots(2, 4, figsize=(13, 6.4))
for col, name in enumerate(sets):
    X, y = sets[name]
    grid, extent = grid_for(X)
    for row, hidden in enumerate([[], [8]]):
        model, err, test_err = fit(name, hidden, epochs=100)
        what = "no hidden layer" if not hidden else "8 tanh units"
        draw(axes[row, col], model.predict_proba(grid)[:, 1], extent, X, y,
             f"{name}, {what}\ntrain error {err:.2f}, test {test_err:.2f}")
fig.tight_layout()

# %% [markdown]
# ## Watching training
#
# The two spirals, with two hidden layers of 16 tanh units, mini-batches of 10, $\alpha = 0.02$
# and momentum $\beta = 0.9$. A `fg.Callback` records $f(\mathbf{x})_1$ on the grid after some epochs;
# the frames become an animation (press play). The boundary first cuts the plane in two, then
# wraps itself around the arms.

# %%
class Snapshots(fg.Callback):
    """Record f(x)_1 on the grid, the epoch and the training error at chosen epochs."""

    def __init__(self, grid, X, y, every):
        self.grid, self.X, self.y, self.every, self.frames = grid, X, y, every, []

    def on_epoch_end(self, model, history):
        epoch = history.epoch[-1]
        if epoch in self.every:
            self.frames.append((epoch, model.predict_proba(self.grid)[:, 1], model.error(self.X, self.y)))


X, y = sets["spirals"]
grid, extent = grid_for(X, n=90)
model = fg.mlp([2, 16, 16, 2], activation="tanh", seed=0)
snaps = Snapshots(grid, X, y, every={1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80,
                                     100, 125, 150, 200})
hist = fg.train(model, (X, y), epochs=200, batch_size=10, seed=0, progress=False,
                optimizer=fg.SGD(model.parameters, lr=0.02, momentum=0.9), callbacks=[snaps])

fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=64)
draw(ax, snaps.frames[0][1], extent, X, y)

def frame(i):
    epoch, proba, err = snaps.frames[i]
    ax.clear()
    draw(ax, proba, extent, X, y, f"epoch {epoch}: training error {err:.2f}")

anim = animation.FuncAnimation(fig, frame, frames=len(snaps.frames), interval=300)
html = anim.to_jshtml(default_mode="once")
plt.close(fig)
HTML(html)

# %% [markdown]
# The same run as still frames, and its learning curve:

# %% tags=["readme-playground"]
picks = [0, 5, 9, 12, 15, len(snaps.frames) - 1]
fig, axes = plt.subplots(1, len(picks) + 1, figsize=(17, 2.9),
                         gridspec_kw={"width_ratios": [1] * len(picks) + [1.4]})
for ax, i in zip(axes, picks):
    epoch, proba, err = snaps.frames[i]
    draw(ax, proba, extent, X, y, f"epoch {epoch}, error {err:.2f}")
axes[-1].plot(hist.epoch, hist.train_loss, color="#009E73")
axes[-1].set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="training loss")
fig.tight_layout()

# %% [markdown]
# `flowgraph.plots.plot_decision_boundary` draws the regions of any classifier of 2-d points in
# one call: each point of a grid coloured by $\arg\max_c f(\mathbf{x})_c$, lighter where the network is
# less sure; here the trained spirals network with training points as dots and 150 fresh test
# points as crosses.

# %%
from flowgraph import plots

Xt, yt = tests["spirals"]
plots.plot_decision_boundary(model, X, y, X_test=Xt[:150], y_test=yt[:150], resolution=150,
                             title=f"spirals after 200 epochs: test error {model.error(Xt, yt):.3f}")

# %% [markdown]
# ## Width: how many hidden units
#
# One hidden layer of $H_1$ tanh units on the circles and the spirals. Each unit contributes one
# soft straight cut $g(b_j + \mathbf{W}_{j,\cdot}\mathbf{x})$; the output combines them. Two cuts cannot
# enclose a disc; a few can; the spirals need many.

# %%
widths = [2, 3, 8, 32]
fig, axes = plt.subplots(2, len(widths), figsize=(13, 6.4))
for row, name in enumerate(["circles", "spirals"]):
    X, y = sets[name]
    grid, extent = grid_for(X, n=80)
    for ax, width in zip(axes[row], widths):
        model, err, test_err = fit(name, [width], epochs=200, lr=0.02)
        draw(ax, model.predict_proba(grid)[:, 1], extent, X, y,
             f"{name}, $H_1$ = {width}\ntrain {err:.2f}, test {test_err:.2f}")
fig.tight_layout()

# %% [markdown]
# ## Depth: how many hidden layers
#
# The spirals with $L$ = 1, 2 and 3 hidden layers of 8 tanh units each (and the same number of
# epochs): each layer bends the space that the next layer cuts straight.

# %%
X, y = sets["spirals"]
grid, extent = grid_for(X, n=80)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, depth in zip(axes, [1, 2, 3]):
    model, err, test_err = fit("spirals", [8] * depth, epochs=200, lr=0.05)
    draw(ax, model.predict_proba(grid)[:, 1], extent, X, y,
         f"L = {depth} x 8 units ({sum(p.value.size for p in model.parameters)} parameters)\n"
         f"train {err:.2f}, test {test_err:.2f}")
fig.tight_layout()

# %% [markdown]
# ## Activation: the shape of each cut
#
# The same 8 units with $g$ = identity, sigmoid, tanh and ReLU on the XOR and the moons. With the
# identity, $\mathbf{f}$ is a composition of affine maps, hence affine: a straight line again. ReLU
# makes a boundary of straight pieces; sigmoid and tanh a smooth one.

# %%
acts = ["identity", "sigmoid", "tanh", "relu"]
fig, axes = plt.subplots(2, len(acts), figsize=(13, 6.4))
for row, name in enumerate(["XOR", "moons"]):
    X, y = sets[name]
    grid, extent = grid_for(X, n=80)
    for ax, act in zip(axes[row], acts):
        model, err, test_err = fit(name, [8], activation=act, epochs=100)
        draw(ax, model.predict_proba(grid)[:, 1], extent, X, y,
             f"{name}, g = {act}\ntrain {err:.2f}, test {test_err:.2f}")
fig.tight_layout()

# %% [markdown]
# ## Regularisation: a smoother boundary
#
# A noisy moons set of 100 points and a large network (2 x 32 tanh units) that can trace almost
# every point. Adding $\lambda\,\Omega(\boldsymbol\theta) = \lambda \sum_k \|\mathbf{W}^{(k)}\|_F^2$ to the loss keeps
# the weights small, so each unit stays in the near-linear part of tanh and the boundary smooth.
# Too large a $\lambda$ and it is nearly straight again (notebook 4 measures this trade-off).

# %%
sets["noisy moons"] = datasets.make_moons(100, noise=0.3, seed=3)
tests["noisy moons"] = datasets.make_moons(2000, noise=0.3, seed=4)
X, y = sets["noisy moons"]
grid, extent = grid_for(X, n=80)
lambdas = [0.0, 1e-3, 3e-3, 1e-2]
fig, axes = plt.subplots(1, len(lambdas), figsize=(13, 3.6))
for ax, lam in zip(axes, lambdas):
    model, err, test_err = fit("noisy moons", [32, 32], l2=lam, epochs=500, lr=0.05)
    draw(ax, model.predict_proba(grid)[:, 1], extent, X, y,
         rf"$\lambda$ = {lam:g}: train {err:.2f}, test {test_err:.2f}")
fig.tight_layout()

# %% [markdown]
# ## What to remember
#
# * Without hidden layers, a straight boundary; every hidden unit adds a (soft) cut.
# * Wider layers allow more cuts, deeper ones fold the plane; the identity activation adds nothing.
# * Regularisation trades a perfect fit of the training points for a simpler, smoother boundary.
