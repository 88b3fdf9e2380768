# %% [markdown]
# # 5. The optimisation landscape
#
# Training minimises $l(\boldsymbol\theta) = \frac1T\sum_t l(\mathbf{f}(\mathbf{x}^{(t)}; \boldsymbol\theta), y^{(t)})$ over
# $\boldsymbol\theta \equiv \{\mathbf{W}^{(1)}, \mathbf{b}^{(1)}, \dots, \mathbf{W}^{(L+1)}, \mathbf{b}^{(L+1)}\}$. The lecture's notes on
# that problem:
#
# * there isn't a single global optimum (**non-convex** optimisation): we can permute the hidden
#   units, with their connections, and get the same function; the hidden unit parameters are
#   not identifiable;
# * optimisation can get stuck in local minima or on plateaus; in high dimension most critical
#   points are **saddle points** (Dauphin et al., NIPS 2014);
# * **Newton's method** uses the Hessian, but is only practical with few parameters and where the
#   loss is locally convex;
# * yet the straight line from the initialisation to the solution often goes **smoothly downhill**
#   (Goodfellow, Vinyals and Saxe, ICLR 2015);
# * large batches tend to find **sharp minima** that generalise worse (Keskar et al., ICLR 2017).
#
# `flowgraph.analysis` measures each of these with the engine's own fprop and bprop (the exact
# Hessian-vector product $\mathbf{H}\mathbf{v}$ comes from Pearlmutter's R-operator).

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph import datasets

X, y = datasets.make_moons(200, noise=0.15, seed=0)
Xt, yt = datasets.make_moons(1000, noise=0.15, seed=1)

# %% [markdown]
# ## Permutation symmetry, and why it makes the loss non-convex
#
# Exchanging hidden units $i$ and $j$ of layer $k$ (rows of $\mathbf{W}^{(k)}$ and $\mathbf{b}^{(k)}$, columns of
# $\mathbf{W}^{(k+1)}$) changes $\boldsymbol\theta$ but not $\mathbf{f}$. So every minimum $\boldsymbol\theta^*$ comes with
# $H_k!$ copies $\boldsymbol\theta'^*$ at the same loss. If the loss were convex, every point of the segment
# between two of them would be at least as good; instead the middle of the segment, which
# averages unrelated units, is much worse.

# %%
model = fg.mlp([2, 6, 2], activation="tanh", dtype=np.float64, seed=0)
fg.train(model, (X, y), epochs=100, batch_size=10, optimizer=fg.SGD(model.parameters, lr=0.1, momentum=0.9),
         seed=0, progress=False)
theta = A.flatten(model)
perm = [3, 0, 5, 1, 4, 2]
permuted = A.permute_hidden(model, 1, perm, inplace=False)  # a state {name: array}
print("W(1) rows before:", model["W1"].value[:, 0].round(2), " after:", permuted["W1"][:, 0].round(2))
print(f"loss at theta:  {model.loss_value(X, y):.6f}")
model.load_state(permuted)
theta_perm = A.flatten(model)
print(f"loss at theta': {model.loss_value(X, y):.6f}  (the same function),  "
      f"||theta - theta'|| = {np.linalg.norm(theta - theta_perm):.2f}")
A.set_flat(model, theta)
path = A.interpolate(model, theta, theta_perm, X, y, steps=41)

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(path["alpha"], path["loss"], color="#0072B2")
ax.plot([0, 1], [path["loss"][0], path["loss"][-1]], "k--", lw=1, label="a convex function stays below this chord")
ax.set(xlabel=r"$\alpha$:  $\theta(\alpha) = (1-\alpha)\,\theta + \alpha\,\theta'$",
       ylabel="training loss", title="between a minimum and its permuted copy")
ax.legend(frameon=False);

# %% [markdown]
# ## Newton's method on a tiny network
#
# Locally approximating the loss by its second-order Taylor expansion and minimising that gives
#
# $$\boldsymbol\theta^{(t+1)} = \boldsymbol\theta^{(t)} - \left(\nabla^2_{\boldsymbol\theta} l(\mathbf{f}(\mathbf{x}; \boldsymbol\theta^{(t)}), y)\right)^{-1} \nabla_{\boldsymbol\theta} l(\mathbf{f}(\mathbf{x}; \boldsymbol\theta^{(t)}), y).$$
#
# With 3 hidden units and 2 classes there are $P = 17$ parameters: the $17 \times 17$ Hessian is
# cheap (17 R-operator passes). A small L2 penalty ($\lambda = 10^{-3}$) makes the minimum strict
# except in one direction: the softmax does not change when the same constant is added to both
# output biases, so one eigenvalue is always 0 and we add a tiny damping $10^{-6}\,\mathbf{I}$.
#
# After 50 steps of (full-batch) gradient descent with momentum, the Hessian still has negative
# eigenvalues: the quadratic model has no minimum and `newton_step` refuses to step. After 150
# steps the loss is locally convex: from there Newton converges in a handful of steps, the error
# roughly squaring at each, while gradient descent crawls.

# %%
tiny = fg.mlp([2, 3, 2], activation="tanh", l2=1e-3, dtype=np.float64, seed=0)
opt = fg.SGD(tiny.parameters, lr=0.5, momentum=0.9)
fg.train(tiny, (X, y), epochs=50, batch_size=len(y), optimizer=opt, seed=0, progress=False)
print("after 50 steps: ", A.spectrum(tiny, X, y))
print(A.newton_step(tiny, X, y, damping=1e-6))
fg.train(tiny, (X, y), epochs=100, batch_size=len(y), optimizer=opt, seed=0, progress=False)
print("after 150 steps:", A.spectrum(tiny, X, y))
start = A.flatten(tiny)

newton_loss = [tiny.loss_value(X, y)]
for _ in range(6):
    step = A.newton_step(tiny, X, y, damping=1e-6)
    newton_loss.append(step.loss_after)
print(step)
final = newton_loss[-1]

A.set_flat(tiny, start)
gd_loss = [tiny.loss_value(X, y)]
for _ in range(10):
    fg.train(tiny, (X, y), epochs=50, batch_size=len(y), optimizer=opt, seed=0, progress=False)
    gd_loss.append(tiny.loss_value(X, y))

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogy(np.arange(11) * 50, np.maximum(np.array(gd_loss) - final, 1e-17), "s-",
            label=r"gradient descent, $\alpha = 0.5$, $\beta = 0.9$")
ax.semilogy(np.maximum(np.array(newton_loss) - final, 1e-17), "o-", label="Newton")
ax.set(xlabel="iteration", ylabel=r"$l(\theta^{(t)}) - l(\theta^*)$", xscale="symlog",
       title=r"17 parameters, from the same point ($l(\theta^*) = $" + f"{final:.4f})")
ax.legend(frameon=False);

# %% [markdown]
# Other initialisations end elsewhere: the same network from another seed settles in a different
# minimum, with a higher loss. Gradient descent stops at whatever minimum its basin leads to.

# %%
for seed in [0, 1]:
    other = fg.mlp([2, 3, 2], activation="tanh", l2=1e-3, dtype=np.float64, seed=seed)
    fg.train(other, (X, y), epochs=1000, batch_size=len(y), seed=0, progress=False,
             optimizer=fg.SGD(other.parameters, lr=0.5, momentum=0.9))
    print(f"seed {seed}: {A.spectrum(other, X, y)}, training error {other.error(X, y):.3f}")

# %% [markdown]
# ## Saddle points
#
# The lecture warns: with tanh, weights initialised to 0 put $\boldsymbol\theta$ at a **saddle point**, where
# all gradients are 0. (On the balanced moons the output biases at 0 are already optimal, so the
# whole gradient vanishes.) The Hessian there has negative as well as positive eigenvalues: the
# point is a minimum along some directions, a maximum along others.

# %%
zero = fg.mlp([2, 3, 2], activation="tanh", dtype=np.float64, weight_init="zeros", seed=0)
print(A.spectrum(zero, X, y))
evals, evecs = np.linalg.eigh(A.hessian(zero, X, y))
plane = A.slice_2d(zero, X, y, evecs[:, 0], evecs[:, -1], span=2.0, steps=41)
fig, ax = plt.subplots(figsize=(5, 4))
cs = ax.contourf(plane["alpha"], plane["beta"], plane["loss"], levels=20, cmap="viridis")
fig.colorbar(cs, label="training loss")
ax.plot(0, 0, "r+", ms=14, mew=2)
ax.set(xlabel=rf"along the eigenvector of $\lambda_{{min}} = {evals[0]:.2f}$",
       ylabel=rf"along the eigenvector of $\lambda_{{max}} = {evals[-1]:.2f}$",
       title=r"the loss around $\theta = 0$: a saddle");

# %% [markdown]
# Gradient descent started exactly there never moves. Started a hair away from it (weights of
# size $10^{-4}$), it stays on the **plateau** for a while, because the gradient is tiny near the
# saddle, then escapes down a direction of negative curvature. Dauphin et al. argue that in high
# dimension such saddles, not bad local minima, are what slows training down.

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for scale, label in [(0.0, "from exactly 0"), (1e-4, r"from weights $\sim 10^{-4}$"),
                     (1e-2, r"from weights $\sim 10^{-2}$")]:
    net = fg.mlp([2, 3, 2], activation="tanh", dtype=np.float64, seed=0,
                 weight_init=lambda shape, rng, dtype, s=scale: fg.init.normal(shape, rng, std=s, dtype=dtype))
    losses = []
    opt = fg.SGD(net.parameters, lr=0.5, momentum=0.9)
    for _ in range(60):
        fg.train(net, (X, y), epochs=5, batch_size=len(y), optimizer=opt, seed=0, progress=False)
        losses.append(net.loss_value(X, y))
    ax.plot(np.arange(1, 61) * 5, losses, label=label)
ax.set(xlabel="gradient descent step", ylabel="training loss", title="escaping the saddle at 0")
ax.legend(frameon=False);

# %% [markdown]
# ## From the initialisation to the solution, in a straight line
#
# Goodfellow, Vinyals and Saxe looked at the loss along $\boldsymbol\theta(\alpha) = (1-\alpha)\boldsymbol\theta_0 + \alpha\boldsymbol\theta^*$,
# from the initialisation $\boldsymbol\theta_0$ to the solution $\boldsymbol\theta^*$ found by SGD. For many networks it
# decreases monotonically: no bump, no local minimum on the way, even though SGD took a long,
# curved path. Here for 64 tanh units on the digits (and past both ends).

# %%
Xd, yd = datasets.load_digits()
Xd = Xd / 16.0
(Xtr, ytr), (Xva, yva), _ = datasets.split(Xd, yd, valid=0.2, test=0.2, seed=0)
net = fg.mlp([64, 64, 10], activation="tanh", seed=0)
theta0 = A.flatten(net)
fg.train(net, (Xtr, ytr), epochs=20, batch_size=20, optimizer=fg.SGD(net.parameters, lr=0.1, momentum=0.9),
         seed=0, progress=False)
line = A.interpolate(net, theta0, A.flatten(net), Xtr, ytr, steps=41, span=(-0.5, 1.5), valid=(Xva, yva))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
ax1.plot(line["alpha"], line["loss"], label="training")
ax1.plot(line["alpha"], line["valid_loss"], label="validation")
ax2.plot(line["alpha"], line["error"], label="training")
ax2.plot(line["alpha"], line["valid_error"], label="validation")
for ax, what in [(ax1, "loss"), (ax2, "classification error")]:
    for a in (0, 1):
        ax.axvline(a, color="0.6", lw=1, ls=":")
    ax.set(xlabel=r"$\alpha$  ($\theta_0$ at 0, $\theta^*$ at 1)", ylabel=what)
ax1.set_yscale("log")
ax1.legend(frameon=False)
fig.suptitle(r"the loss along $(1-\alpha)\,\theta_0 + \alpha\,\theta^*$")
fig.tight_layout()

# %% [markdown]
# ## Flat and sharp minima: the batch size matters
#
# Keskar et al. found that large mini-batches tend to converge to **sharp** minima, where the loss
# rises quickly in some direction, and that these generalise worse than the **flat** minima that
# small, noisy batches find (Hochreiter and Schmidhuber already argued for flat minima in 1997):
# *we can't talk about generalisation without taking the training algorithm into account*.
# Two measures of sharpness: the largest eigenvalue $\lambda_{max}$ of the Hessian of the training
# loss (Lanczos iterations on exact $\mathbf{H}\mathbf{v}$ products), the curvature in the sharpest
# direction; and the rise of the loss $l(\boldsymbol\theta^* + r\,\mathbf{d}) - l(\boldsymbol\theta^*)$ at a
# distance $r$ along random unit directions $\mathbf{d}$, about $r^2\,\mathrm{tr}(\mathbf{H})/(2P)$: the
# mean curvature. A fair comparison needs both solutions **equally well fitted**: each run stops
# at the first update after which the training loss is below the same target (`target_loss`).
# Same network (16 tanh units), same initialisation and step $\alpha = 0.5$, batches of 8 and the
# full training set of 300 digits, and five seeds (each a new training set and
# initialisation), since one seed proves nothing.

# %%
rows = []
for seed in range(5):
    (Xa, ya), (Xb, yb), _ = datasets.split(Xd, yd, valid=0.2, test=0.2, seed=seed)
    Xa, ya = Xa[:300], ya[:300]
    res = A.batch_size_sharpness((Xa, ya), (Xb, yb), batch_sizes=(8, 300), epochs=(100, 3000),
                                 hidden=(16,), lr=0.5, target_loss=0.05, sharpness_points=None,
                                 seed=seed)
    probe = fg.mlp([64, 16, 10], activation="tanh", dtype=np.float64, seed=seed)
    for i, bs in enumerate(res["batch_size"]):
        A.set_flat(probe, res["theta"][i])
        rise = A.loss_rise(probe, Xa, ya, [0.0, 1.0, 2.0, 3.0], n_directions=10, seed=100 + seed)
        rows.append(dict(seed=seed, batch=bs, steps=res["steps"][i], loss=res["train_loss"][i],
                         lam=res["sharpness"][i], rise=rise["mean"], error=res["test_error"][i]))
for r in rows:
    print(f"seed {r['seed']}  batch {r['batch']:3d}: {r['steps']:4d} updates, training loss "
          f"{r['loss']:.4f}, lambda_max {r['lam']:.2f}, rise at r = 3 {r['rise'][-1]:.4f}, "
          f"validation error {r['error']:.3f}")
small = [r for r in rows if r["batch"] == 8]
large = [r for r in rows if r["batch"] == 300]
for key, what in (("lam", "lambda_max"), ("error", "validation error")):
    a, b = np.array([r[key] for r in small]), np.array([r[key] for r in large])
    print(f"{what}: batch 8 {a.mean():.3f} ± {a.std():.3f}, batch 300 {b.mean():.3f} ± {b.std():.3f}, "
          f"larger for batch 300 on {np.sum(b > a)} of {len(a)} seeds")

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for group, color, label in ((small, "#009E73", "batch 8"), (large, "#CC79A7", "batch 300 (full)")):
    R = np.array([r["rise"] for r in group])
    ax.plot([0, 1, 2, 3], R.mean(axis=0), "o-", color=color, label=f"{label}: mean over 5 seeds")
    ax.fill_between([0, 1, 2, 3], R.mean(axis=0) - R.std(axis=0), R.mean(axis=0) + R.std(axis=0),
                    color=color, alpha=0.2, lw=0)
ax.set(xlabel=r"distance $r$ along random unit directions $d$",
       ylabel=r"$l(\theta^* + r\,d) - l(\theta^*)$", title="the two minima at equal training loss")
ax.legend(frameon=False);

# %% [markdown]
# At equal training loss the large-batch minimum is the sharper one on every seed, by both
# measures: $\lambda_{max}$ 1.43 against 0.78 on average, and the loss rises faster along
# random directions. But its validation error is **not** worse here: 6.5% ± 1.5 against
# 6.9% ± 1.6 for batches of 8, a difference well inside the spread over seeds, with the large
# batch worse on only one seed of five. Keskar et al.'s
# generalisation gap appears with large networks and batches of thousands; at this scale it does
# not show, and a figure should not claim it (`flowgraph experiment sharpness` reports the same
# with eight seeds of 500 digits). What carries over is the method: sharpness is something one
# can measure, from the same fprop and bprop, for any solution.

# %% [markdown]
# ## What to remember
#
# * The loss of a network is not convex: permuting hidden units gives many equivalent minima,
#   with worse points in between.
# * Newton's method converges in a few steps near a minimum, but needs the $P \times P$ Hessian and
#   local convexity; far from a minimum the Hessian is indefinite.
# * Critical points with high loss are mostly saddles; the path from the initialisation to the
#   solution is often simple.
# * How we train decides which minimum we find; sharpness ($\lambda_{max}$ of the Hessian) is one
#   measurable property of that minimum.
