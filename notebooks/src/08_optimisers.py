# %% [markdown]
# # 8. Optimisers beyond plain SGD
#
# The lecture's optimisation part ends with *see Deep Learning, chapter 8*: the methods people
# actually train with. All of them keep the lecture's step $\boldsymbol\theta \leftarrow
# \boldsymbol\theta - \alpha_t\,(\text{a direction})$ and its schedules $\alpha_t$; they differ in
# the direction, built from the gradient $\nabla = \nabla_{\boldsymbol\theta} l$ and running averages
# of it (all operations element-wise):
#
# | optimiser | update | paper |
# |---|---|---|
# | SGD, momentum | $\bar\nabla^{(t)} = \nabla + \beta\,\bar\nabla^{(t-1)}$, $\;\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t \bar\nabla^{(t)}$ | the lecture (Polyak's heavy ball) |
# | Nesterov | the same $\bar\nabla^{(t)}$, $\;\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t(\nabla + \beta\,\bar\nabla^{(t)})$ | Nesterov 1983; Sutskever et al. 2013 |
# | AdaGrad | $r \leftarrow r + \nabla^2$, $\;\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t \nabla / (\sqrt{r} + \epsilon)$ | Duchi, Hazan & Singer 2011 |
# | RMSProp | $r \leftarrow \rho\, r + (1-\rho)\nabla^2$, $\;\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t \nabla / (\sqrt{r} + \epsilon)$ | Tieleman & Hinton 2012 |
# | Adam | $m \leftarrow \beta_1 m + (1-\beta_1)\nabla$, $v \leftarrow \beta_2 v + (1-\beta_2)\nabla^2$, $\;\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t \hat m / (\sqrt{\hat v} + \epsilon)$ | Kingma & Ba 2015 |
# | AdamW | Adam, and $\boldsymbol\theta \leftarrow (1 - \alpha_t\lambda_w)\boldsymbol\theta$ before each step | Loshchilov & Hutter 2019 |
#
# with $\hat m = m / (1-\beta_1^t)$ and $\hat v = v / (1-\beta_2^t)$ correcting the averages' start
# at 0. The adaptive methods divide by a running size of each coordinate's gradient, so that
# $\alpha$ becomes a step length in the parameter's own units, whatever the gradient's scale.
# Each class follows `torch.optim`'s rule with the same arguments (the tests compare 100 steps of
# each to 1e-10), e.g. `fg.Adam(model.parameters, lr=1e-3, betas=(0.9, 0.999))`.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import datasets

COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

# the optimisers on the toy losses below, each at a rate that suits it: alpha is a step in
# parameter units for the adaptive ones, a multiple of the gradient for SGD
TOY = {
    r"SGD, $\alpha = 0.02$": lambda ps: fg.SGD(ps, 0.02),
    r"momentum $\beta = 0.7$": lambda ps: fg.SGD(ps, 0.02, momentum=0.7),
    r"Nesterov $\beta = 0.7$": lambda ps: fg.SGD(ps, 0.02, momentum=0.7, nesterov=True),
    r"AdaGrad, $\alpha = 0.5$": lambda ps: fg.AdaGrad(ps, 0.5),
    r"RMSProp, $\alpha = 0.05$": lambda ps: fg.RMSProp(ps, 0.05),
    r"Adam, $\alpha = 0.2$": lambda ps: fg.Adam(ps, 0.2),
}


def descend(graph, feed, params, make, steps):
    """``steps`` updates of ``make(params)`` on ``graph``; the path of the two scalars and
    the loss before each update (and after the last)."""
    opt = make(params)
    path, losses = [[float(p.value.flat[0]) for p in params]], []
    for _ in range(steps):
        losses.append(float(graph.fprop(feed)))
        graph.bprop()
        opt.step()
        path.append([float(p.value.flat[0]) for p in params])
    losses.append(float(graph.fprop(feed)))
    return np.array(path), np.array(losses)


def draw(paths, grid, levels, extra=None, title=""):
    """Each optimiser's path on the contours of the loss, then every loss against updates."""
    g1, g2, L = grid
    fig, axes = plt.subplots(2, 3, figsize=(11, 5.6), sharex=True, sharey=True,
                             layout="constrained")
    for ax, (name, (path, losses)), color in zip(axes.flat, paths.items(), COLORS):
        ax.contour(g1, g2, L, levels=levels, colors="0.8", linewidths=0.8)
        if extra is not None:
            extra(ax)
        ax.plot(path[:, 0], path[:, 1], ".-", color=color, lw=1, ms=3)
        ax.plot(*path[0], "ko", ms=4)
        ax.set_title(f"{name}: loss {losses[-1]:.1e}", fontsize=9)
    fig.suptitle(title)
    fig2, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    for (name, (_, losses)), color in zip(paths.items(), COLORS):
        ax.plot(np.maximum(losses, 1e-16), color=color, label=name)
    ax.set(xlabel="update t", ylabel="loss", yscale="log", title=title)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    return fig, fig2


# %% [markdown]
# ## The valley
#
# Notebook 3's long, narrow valley $\theta_1^2 + 20\,\theta_2^2$ from $(-4, 1)$, 60 updates. Plain
# SGD must keep $\alpha$ small for the steep direction and crawls along the flat one; momentum
# adds the steps along the valley up. The adaptive methods rescale each coordinate by its own
# gradient size, which is exactly what an axis-aligned valley needs: they walk straight down
# both axes at once (RMSProp and Adam, whose steps stay about $\alpha$ long, then hover around
# the minimum at that scale until the running averages shrink).

# %%
def valley(make, steps=60):
    t1, t2 = fg.Parameter(np.array([-4.0]), "theta1"), fg.Parameter(np.array([1.0]), "theta2")
    bowl = fg.Graph(fg.Add()(fg.L2Penalty()(t1), fg.Scale(20.0)(fg.L2Penalty()(t2))))
    return descend(bowl, {}, [t1, t2], make, steps)


g1, g2 = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 120))
paths = {name: valley(make) for name, make in TOY.items()}
draw(paths, (g1, g2, g1**2 + 20 * g2**2), np.geomspace(0.05, 40, 12),
     extra=lambda ax: ax.plot(0, 0, "k*", ms=10), title=r"the valley $\theta_1^2 + 20\,\theta_2^2$");

# %% [markdown]
# ## The plateau
#
# The smallest network with a plateau: two linear units in a row, $\hat y = w_2 w_1 x$, fitted to
# $y = x$ on $x = 1$ (a `Linear` box on another, the biases fed as 0). The loss
# $(w_1 w_2 - 1)^2$ has a saddle at $\boldsymbol\theta = 0$, where the gradient
# $2(w_1 w_2 - 1)(w_2, w_1)$ vanishes, and a valley of minima along the hyperbola
# $w_1 w_2 = 1$. Started near the saddle, at $(0.02, 0.01)$, SGD hardly moves for dozens of
# updates: the gradient is about as small as $\boldsymbol\theta$. Momentum *gets through the
# plateau more quickly, by gaining momentum*; the adaptive methods divide the tiny gradient by
# its own size and leave at once, at about $\alpha$ per update.

# %%
def plateau(make, steps=100, start=(0.02, 0.01)):
    x, zero, minus_y = fg.Input("x"), fg.Input("zero"), fg.Input("minus_y")
    w1 = fg.Parameter(np.array([[start[0]]]), "w1")
    w2 = fg.Parameter(np.array([[start[1]]]), "w2")
    y_hat = fg.Linear()(fg.Linear()(x, w1, zero), w2, zero)
    graph = fg.Graph(fg.L2Penalty()(fg.Add()(y_hat, minus_y)))  # (w2 w1 x - y)^2
    feed = {x: np.ones((1, 1)), zero: np.zeros(1), minus_y: -np.ones((1, 1))}
    return descend(graph, feed, [w1, w2], make, steps)


def hyperbola(ax):
    w = np.linspace(1 / 1.6, 1.6, 50)
    ax.plot(w, 1 / w, "k--", lw=1)  # the minima w1 w2 = 1
    ax.plot(0, 0, "r+", ms=10, mew=2)  # the saddle
    ax.set(xlim=(-0.4, 1.6), ylim=(-0.4, 1.6))


g1, g2 = np.meshgrid(np.linspace(-0.4, 1.6, 160), np.linspace(-0.4, 1.6, 160))
paths = {name: plateau(make) for name, make in TOY.items()}
draw(paths, (g1, g2, (g1 * g2 - 1) ** 2), np.linspace(0.05, 1.6, 12), extra=hyperbola,
     title=r"the plateau around the saddle of $(w_1 w_2 - 1)^2$");

# %% [markdown]
# ## The digits, with each optimiser
#
# Notebook 3's network (64 tanh units, Glorot's initialisation, mini-batches of 20), 12 epochs
# with each optimiser at the rate `flowgraph train` uses by default for it (tuned on the digits;
# `torch.optim`'s own defaults are 1e-3 for Adam and 1e-2 for AdaGrad and RMSProp; momentum at
# notebook 3's 0.05), and the validation error against the wall time. On a network this small
# the adaptive updates can show in the time: a dozen element-wise NumPy passes per parameter
# array against SGD's one, next to the fprop and bprop of only 20 examples. On the 784-256-256-10
# network of `benchmarks/RESULTS.md` an Adam step costs about six SGD steps and less than
# torch.optim.Adam's, still small beside a batch of 128.

# %%
X, y = datasets.load_digits()
X = X / 16.0
(Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.split(X, y, valid=0.2, test=0.2, seed=0)

DIGITS = {
    "SGD": lambda ps: fg.SGD(ps, 0.2),
    r"momentum $\beta = 0.9$": lambda ps: fg.SGD(ps, 0.05, momentum=0.9),
    "Nesterov": lambda ps: fg.SGD(ps, 0.05, momentum=0.9, nesterov=True),
    "AdaGrad": lambda ps: fg.AdaGrad(ps, 0.1),
    "RMSProp": lambda ps: fg.RMSProp(ps, 3e-3),
    "Adam": lambda ps: fg.Adam(ps, 3e-3),
    "AdamW": lambda ps: fg.AdamW(ps, 3e-3, weight_decay=0.05),
}
runs = {}
for name, make in DIGITS.items():
    model = fg.mlp([64, 64, 10], activation="tanh", seed=0)
    start = time.perf_counter()
    hist = fg.train(model, (Xtr, ytr), (Xva, yva), epochs=12, batch_size=20,
                    optimizer=make(model.parameters), seed=0, progress=False)
    runs[name] = (hist, model, time.perf_counter() - start)

fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for (name, (hist, _, _)), color in zip(runs.items(), COLORS):
    ax_t.plot(np.cumsum(hist.seconds), hist.valid_error, ".-", color=color, label=name)
    ax_e.plot(hist.epoch, hist.train_loss, color=color, label=name)
ax_t.set(xlabel="seconds of training", ylabel="validation error", ylim=(0, 0.2),
         title="validation error against time")
ax_e.set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="training loss")
ax_t.legend(frameon=False, fontsize=8);

# %%
for name, (hist, model, seconds) in runs.items():
    print(f"{name.replace('$', '').replace(chr(92), ''):22s} best validation error "
          f"{hist.best_valid_error:.3f} (epoch {hist.best_epoch}), test error "
          f"{model.error(Xte, yte):.3f}, {seconds:.1f} s")

# %% [markdown]
# ## Resuming
#
# An optimiser's running averages are part of the training state: `opt.state()` copies them
# (and the update count $t$, which the schedule and Adam's bias correction read), and
# `load_state` on an optimiser built the same way continues bit for bit.

# %%
model = fg.mlp([64, 64, 10], activation="tanh", seed=0)
opt = fg.Adam(model.parameters, fg.optim.inverse(3e-3, 1e-3, warmup=50))
fg.train(model, (Xtr, ytr), epochs=2, batch_size=20, optimizer=opt, seed=0, progress=False)
saved_model, saved_opt = model.state(), opt.state()
fg.train(model, (Xtr, ytr), epochs=1, batch_size=20, optimizer=opt, seed=1, progress=False)

again = fg.mlp([64, 64, 10], activation="tanh", seed=0)
again.load_state(saved_model)
opt2 = fg.Adam(again.parameters, fg.optim.inverse(3e-3, 1e-3, warmup=50))
opt2.load_state(saved_opt)
fg.train(again, (Xtr, ytr), epochs=1, batch_size=20, optimizer=opt2, seed=1, progress=False)
print(f"saved after t = {saved_opt['t']} updates; buffers {[k for k in saved_opt if k in ('m', 'v')]}")
print("resumed == uninterrupted:",
      all(np.array_equal(p.value, q.value) for p, q in zip(model.parameters, again.parameters)))

# %% [markdown]
# ## What to remember
#
# * Every optimiser is the lecture's $\boldsymbol\theta \leftarrow \boldsymbol\theta - \alpha_t
#   \cdot$ direction; schedules, warm-up, the L2 penalty in the graph and the proximal L1 step
#   work with all of them.
# * Momentum and Nesterov average directions: they cross long valleys and leave plateaus faster.
# * AdaGrad, RMSProp and Adam divide by each coordinate's gradient size: $\alpha$ becomes a step
#   length, plateaus stop being slow, and badly scaled valleys become round.
# * AdamW decays the weights apart from the gradient's scaling; Adam's `weight_decay`, like an
#   L2 penalty, gets divided by $\sqrt{\hat v}$ with the rest of the gradient.
