# %% [markdown]
# # 3. Training: empirical risk minimisation with stochastic gradient descent
#
# Learning is cast as optimisation. The lecture's **empirical risk minimisation**:
#
# $$\arg\min_{\boldsymbol\theta} \frac{1}{T} \sum_t l(\mathbf{f}(\mathbf{x}^{(t)}; \boldsymbol\theta), y^{(t)}) + \lambda\,\Omega(\boldsymbol\theta)$$
#
# with the loss $l(\mathbf{f}(\mathbf{x}), y) = -\log f(\mathbf{x})_y$, a surrogate for the classification
# error, which is not smooth. **Stochastic gradient descent** updates after each example:
#
# * initialise $\boldsymbol\theta \equiv \{\mathbf{W}^{(1)}, \mathbf{b}^{(1)}, \dots, \mathbf{W}^{(L+1)}, \mathbf{b}^{(L+1)}\}$
# * for N iterations (epochs), for each training example $(\mathbf{x}^{(t)}, y^{(t)})$:
#   $\;\Delta = -\nabla_{\boldsymbol\theta} l(\mathbf{f}(\mathbf{x}^{(t)}; \boldsymbol\theta), y^{(t)}) - \lambda \nabla_{\boldsymbol\theta}\Omega(\boldsymbol\theta)$,
#   $\;\boldsymbol\theta \leftarrow \boldsymbol\theta + \alpha\,\Delta$
#
# It needs a loss, a procedure for the gradients (notebooks 1 and 2), a regulariser (notebook 4)
# and an initialisation method (below). Throughout: the 8x8 digits bundled with flowgraph.

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import datasets

X, y = datasets.load_digits()
X = X / 16.0  # pixels 0..16 -> 0..1
(Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.split(X, y, valid=0.2, test=0.2, seed=0)
print(f"train {Xtr.shape}, valid {Xva.shape}, test {Xte.shape}, classes {np.unique(y)}")

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
for c, ax in enumerate(axes):
    ax.imshow(Xtr[ytr == c][0].reshape(8, 8), cmap="gray_r")
    ax.set(xticks=[], yticks=[], title=f"y = {c}")

# %% [markdown]
# ## The empirical risk
#
# `fg.mlp` builds the lecture's network; its loss node is the mean over the batch fed to it, so
# feeding the whole training set gives the empirical risk $\frac1T\sum_t -\log f(\mathbf{x}^{(t)})_{y^{(t)}}$.
# Before training, with Glorot's initialisation, it is close to $\log 10$: every class about
# equally likely.

# %%
model = fg.mlp([64, 32, 10], activation="tanh", seed=0)
risk = model.loss_value(Xtr, ytr)
mean_of_losses = np.mean([model.loss_value(Xtr[t : t + 1], ytr[t : t + 1]) for t in range(len(ytr))])
print(f"empirical risk {risk:.4f}; mean of the {len(ytr)} per-example losses {mean_of_losses:.4f}; "
      f"log 10 = {np.log(10):.4f}")
print(f"training error {model.error(Xtr, ytr):.3f}")

# %% [markdown]
# ## Per-example SGD versus mini-batches
#
# Instead of one example, an update can use a **mini-batch**: the gradient of the average loss over
# the batch. It estimates the gradient of the risk better and turns many matrix-vector products
# into one matrix-matrix product. `fg.train(..., batch_size=1)` is the lecture's per-example SGD;
# a larger batch makes fewer, less noisy updates per epoch. Same network, same initialisation,
# same number of epochs:

# %%
runs = {}
for batch_size, alpha in [(1, 0.02), (10, 0.1), (100, 0.5), (len(ytr), 0.5)]:
    m = fg.mlp([64, 32, 10], activation="tanh", seed=0)
    opt = fg.SGD(m.parameters, lr=alpha)
    hist = fg.train(m, (Xtr, ytr), (Xva, yva), epochs=15, batch_size=batch_size,
                    optimizer=opt, seed=0, progress=False)
    runs[batch_size] = (hist, opt.t)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for batch_size, (hist, n_updates) in runs.items():
    label = "per example" if batch_size == 1 else (
        "full batch" if batch_size == len(ytr) else f"batches of {batch_size}")
    updates = np.arange(1, len(hist) + 1) * n_updates / len(hist)
    ax1.plot(hist.epoch, hist.train_loss, marker=".", label=label)
    ax2.plot(np.cumsum(hist.seconds), hist.valid_error, marker=".", label=label)
ax1.set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="loss per epoch")
ax2.set(xlabel="seconds of training", ylabel="validation error", title="validation error over time",
        xscale="log")
ax1.legend(frameon=False)
fig.tight_layout()
for batch_size, (hist, n_updates) in runs.items():
    print(f"batch {batch_size:5d}: {n_updates:6d} updates, {sum(hist.seconds):5.2f} s, "
          f"final training loss {hist.train_loss[-1]:.3f}, validation error {hist.valid_error[-1]:.3f}")

# %% [markdown]
# Per epoch, per-example SGD makes the most progress (many small steps), the full batch the
# least (one step per epoch). Per second of computation, mini-batches win: each of their steps
# costs little more than a single example's.
#
# ## Momentum
#
# An exponentially decaying average of previous gradients:
#
# $$\bar\nabla_{\boldsymbol\theta}^{(t)} = \nabla_{\boldsymbol\theta} l(\mathbf{f}(\mathbf{x}^{(t)}), y^{(t)}) + \beta\, \bar\nabla_{\boldsymbol\theta}^{(t-1)},
# \qquad \boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha\, \bar\nabla_{\boldsymbol\theta}^{(t)}$$
#
# It *gets through plateaus more quickly, by gaining momentum*. The picture is clearest on a
# long, narrow valley: the loss $\theta_1^2 + 20\,\theta_2^2$, made of two L2 boxes on two scalar
# parameters. Plain gradient descent must keep $\alpha$ small for the steep direction and crawls
# along the flat one; with $\beta = 0.7$ the steps along the valley add up (too large a $\beta$
# overshoots and circles around the minimum instead).

# %%
def descend(beta, alpha=0.02, steps=60):
    t1 = fg.Parameter(np.array([-4.0]), "theta1")
    t2 = fg.Parameter(np.array([1.0]), "theta2")
    bowl = fg.Graph(fg.Add()(fg.L2Penalty()(t1), fg.Scale(20.0)(fg.L2Penalty()(t2))))
    opt = fg.SGD([t1, t2], lr=alpha, momentum=beta)
    path = [(t1.value[0], t2.value[0])]
    for _ in range(steps):
        bowl.fprop({})
        bowl.bprop()
        opt.step()
        path.append((t1.value[0], t2.value[0]))
    return np.array(path)

g1, g2 = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 120))
fig, ax = plt.subplots(figsize=(9, 3.6))
ax.contour(g1, g2, g1**2 + 20 * g2**2, levels=np.geomspace(0.05, 40, 12), colors="0.8")
for beta, color in [(0.0, "#0072B2"), (0.7, "#D55E00")]:
    path = descend(beta)
    ax.plot(path[:, 0], path[:, 1], ".-", color=color, lw=1, ms=4,
            label=rf"$\beta = {beta}$: after 60 steps, loss = {path[-1, 0]**2 + 20 * path[-1, 1]**2:.1e}")
ax.plot(0, 0, "k*", ms=12)
ax.set(xlabel=r"$\theta_1$", ylabel=r"$\theta_2$", title=r"gradient descent on $\theta_1^2 + 20\,\theta_2^2$, $\alpha = 0.02$")
ax.legend(frameon=False, loc="lower right");

# %% [markdown]
# On the digits, with mini-batches of 20 and the same $\alpha$:

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for beta in [0.0, 0.5, 0.9]:
    m = fg.mlp([64, 32, 10], activation="tanh", seed=0)
    hist = fg.train(m, (Xtr, ytr), epochs=15, batch_size=20,
                    optimizer=fg.SGD(m.parameters, lr=0.02, momentum=beta), seed=0, progress=False)
    ax.plot(hist.epoch, hist.train_loss, marker=".", label=rf"$\beta = {beta}$")
ax.set(xlabel="epoch", ylabel="mean training loss", yscale="log", title=r"momentum, $\alpha = 0.02$")
ax.legend(frameon=False);

# %% [markdown]
# ## Decreasing the learning rate
#
# Stochastic gradient descent converges if
#
# $$\sum_{t=1}^\infty \alpha_t = \infty \qquad\text{and}\qquad \sum_{t=1}^\infty \alpha_t^2 < \infty$$
#
# where $\alpha_t$ is the learning rate of the $t$-th update: the steps must be able to travel
# any distance, but their noise must add up to something finite. Two decreasing strategies, with
# $\delta$ the decrease constant:
#
# $$\alpha_t = \frac{\alpha}{1 + \delta t} \qquad\qquad \alpha_t = \frac{\alpha}{t^\delta}\quad (0.5 < \delta \le 1)$$
#
# and it is *better to use a fixed learning rate for the first few updates* (`warmup`). A
# constant rate fails the second condition; $\delta \le 0.5$ would fail it too, which is why
# `fg.optim.power` refuses it.

# %%
schedules = {
    r"constant $\alpha$": fg.optim.constant(0.1),
    r"$\alpha/(1+\delta t)$, $\delta = 0.01$": fg.optim.inverse(0.1, 0.01),
    r"$\alpha/t^\delta$, $\delta = 0.6$, 100 fixed": fg.optim.power(0.1, 0.6, warmup=100),
    r"$\alpha/t^\delta$, $\delta = 1$, 100 fixed": fg.optim.power(0.1, 1.0, warmup=100),
}
t = np.arange(1, 100_001)
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for name, schedule in schedules.items():
    rates = np.array([schedule(int(s)) for s in t])
    axes[0].loglog(t, rates, label=name)
    axes[1].loglog(t, np.cumsum(rates), label=name)
    axes[2].loglog(t, np.cumsum(rates**2), label=name)
axes[0].set(xlabel="update t", ylabel=r"$\alpha_t$", title="the rate")
axes[1].set(xlabel="update t", ylabel=r"$\sum_{s \leq t} \alpha_s$", title=r"$\sum \alpha_t$: must grow without bound")
axes[2].set(xlabel="update t", ylabel=r"$\sum_{s \leq t} \alpha_s^2$", title=r"$\sum \alpha_t^2$: must level off")
axes[0].legend(frameon=False, fontsize=8)
fig.tight_layout()

try:
    fg.optim.power(0.1, 0.5)
except ValueError as e:
    print("power(0.1, 0.5):", e)

# %% [markdown]
# The sum of $\alpha/(1+\delta t)$ grows like $\log t$ (slowly, but without bound) while its squares
# level off; a constant rate's squares grow linearly. On the digits, per-example updates with a
# rate $\alpha = 0.3$ that is too large to keep: the constant rate keeps bouncing around a high
# loss, $\alpha/(1+\delta t)$ settles. Decreasing too fast is no better: $\alpha/t^{0.6}$ after 1000
# fixed updates (about one epoch) has shrunk the steps before the network got anywhere, and crawls.

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for name, schedule in {
    r"constant $\alpha = 0.3$": fg.optim.constant(0.3),
    r"$\alpha/(1+\delta t)$, $\delta = 10^{-3}$": fg.optim.inverse(0.3, 1e-3),
    r"$\alpha/t^\delta$, $\delta = 0.6$, 1000 fixed": fg.optim.power(0.3, 0.6, warmup=1000),
}.items():
    m = fg.mlp([64, 32, 10], activation="tanh", seed=0)
    hist = fg.train(m, (Xtr, ytr), epochs=10, batch_size=1,
                    optimizer=fg.SGD(m.parameters, lr=schedule), seed=0, progress=False)
    ax.plot(hist.epoch, hist.train_loss, marker=".", label=name)
ax.set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="per-example SGD, three schedules")
ax.legend(frameon=False);

# %% [markdown]
# ## Initialisation
#
# * Biases: initialise all to 0.
# * Weights: **not** all to 0 with tanh: $\mathbf{h}^{(k)} = \tanh(\mathbf{0}) = \mathbf{0}$, so
#   $\nabla_{\mathbf{W}^{(k)}} = \nabla_{\mathbf{a}^{(k)}} \mathbf{h}^{(k-1)\top} = 0$ and
#   $\nabla_{\mathbf{h}^{(k-1)}} = \mathbf{W}^{(k)\top}\nabla_{\mathbf{a}^{(k)}} = 0$: every weight gradient is 0,
#   a saddle point. Only the output biases learn.
# * **Not** all to the same value: all hidden units of a layer compute the same thing, receive the
#   same gradient and stay identical forever. Symmetry has to be broken.
# * Recipe (Glorot and Bengio, 2010): $W^{(k)}_{i,j} \sim U[-b, b]$ with $b = \frac{\sqrt6}{\sqrt{H_k + H_{k-1}}}$.
#
# The gradients right after initialisation:

# %%
inits = {"zeros": "zeros", "constant 0.1": "constant", "Glorot": "glorot_uniform"}
models = {}
for name, init in inits.items():
    m = fg.mlp([64, 32, 10], activation="tanh", seed=0, weight_init=init)
    m.train_graph.fprop({m.x: Xtr[:100].astype(np.float32), m.y: ytr[:100]})
    m.train_graph.bprop()
    norms = ", ".join(f"|grad {p.name}| = {np.linalg.norm(p.grad):.2e}" for p in m.parameters)
    print(f"{name:13s} {norms}")
    models[name] = m

# %% [markdown]
# Training each for 20 epochs. With zeros, only $\mathbf{b}^{(2)}$ moves and the network predicts
# one class for every input. With a constant, $\mathbf{W}^{(1)}$ gets almost no gradient at first (the
# rows of $\mathbf{W}^{(2)}$ are equal, so $\mathbf{W}^{(2)\top}\nabla_{\mathbf{a}^{(2)}}$ sums the output
# gradient $-(\mathbf{e}(y) - \mathbf{f}(\mathbf{x}))$, whose entries add up to 0), and its 32 hidden units
# receive identical updates: they stay one unit copied 32 times.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for name, m in models.items():
    hist = fg.train(m, (Xtr, ytr), (Xva, yva), epochs=20, batch_size=20,
                    optimizer=fg.SGD(m.parameters, lr=0.1), seed=0, progress=False)
    axes[0].plot(hist.epoch, hist.train_loss, marker=".", label=name)
    axes[1].plot(hist.epoch, hist.valid_error, marker=".", label=name)
    W1 = m.parameters[0].value
    print(f"{name:13s} validation error {hist.valid_error[-1]:.3f}; "
          f"spread of W(1) across hidden units (std over rows, mean over columns) {W1.std(axis=0).mean():.2e}")
axes[0].set(xlabel="epoch", ylabel="mean training loss", title="training loss")
axes[1].set(xlabel="epoch", ylabel="validation error", title="validation error", ylim=(0, 1))
axes[0].legend(frameon=False)
fig.tight_layout()

# %% [markdown]
# The rows of $\mathbf{W}^{(1)}$ after training, one 8x8 image per hidden unit (the first 8):
# identical with a constant start, all different with Glorot's.

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 2.8))
for row, name in zip(axes, ["constant 0.1", "Glorot"]):
    W1 = models[name].parameters[0].value
    lim = np.abs(W1[:8]).max()
    for j, ax in enumerate(row):
        ax.imshow(W1[j].reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set(xticks=[], yticks=[])
    row[0].set_ylabel(name, fontsize=9)
fig.suptitle(r"rows $\mathbf{W}^{(1)}_{j,\cdot}$ of the first 8 hidden units after training");

# %% [markdown]
# ## Learning curves on the digits
#
# Putting it together: Glorot's initialisation, mini-batches of 20, momentum 0.9 and
# $\alpha_t = \alpha/(1+\delta t)$, 64 tanh units. Training error and validation error per epoch,
# then the test error once, at the end.

# %%
model = fg.mlp([64, 64, 10], activation="tanh", seed=0)
opt = fg.SGD(model.parameters, lr=0.05, momentum=0.9, schedule="inverse", decay=1e-3)
hist = fg.train(model, (Xtr, ytr), (Xva, yva), epochs=40, batch_size=20, optimizer=opt,
                seed=0, progress=False)
hist.plot(title="64 tanh units on the digits: alpha / (1 + delta t), beta = 0.9")

# %%
print(f"after {len(hist)} epochs: training error {model.error(Xtr, ytr):.3f}, "
      f"validation error {model.error(Xva, yva):.3f}, test error {model.error(Xte, yte):.3f}")

# %% [markdown]
# ## What to remember
#
# * Training is the minimisation of the empirical risk (plus $\lambda\Omega$) by SGD.
# * Mini-batches make cheaper progress per second; momentum crosses long flat valleys.
# * A decreasing $\alpha_t$ with $\sum\alpha_t = \infty$ and $\sum\alpha_t^2 < \infty$ lets SGD settle.
# * Biases at 0; weights small, random and different: symmetry must be broken.
