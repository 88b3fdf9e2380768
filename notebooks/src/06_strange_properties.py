# %% [markdown]
# # 6. The strange properties of neural networks
#
# The last part of the lecture lists properties of trained networks that the classical picture
# of learning does not predict. Each is measured here with `flowgraph.analysis`, on the 8x8
# digits (pixels scaled to $[0, 1]$):
#
# * **They can easily memorise** random labels (Zhang, Bengio, Hardt, Recht, Vinyals, ICLR 2017).
# * **They underfit and overfit strangely**: past the interpolation threshold the test error falls
#   again, *double descent* (Belkin et al., 2018).
# * **They are strangely non-convex**: a small sub-network, trained alone from the same
#   initialisation, does as well as the whole: the *lottery ticket* (Frankle and Carbin, ICLR 2019).
# * **They can make dumb errors**: a small perturbation, which leaves the digit perfectly
#   recognisable to us, changes the prediction:
#   *adversarial examples* (Szegedy et al., ICLR 2014).

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph import datasets

X, y = datasets.load_digits()
X = X / 16.0
(Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.split(X, y, valid=0.2, test=0.2, seed=0)
print(f"train {Xtr.shape}, valid {Xva.shape}, test {Xte.shape}")

# %% [markdown]
# ## They can easily memorise
#
# Replace the training labels by a random permutation of themselves: same class frequencies, no
# relation left between $\mathbf{x}$ and $y$. The empirical risk $\frac1T \sum_t -\log f(\mathbf{x}^{(t)})_{y^{(t)}}$ can
# still be driven to 0: a network with enough capacity fits the noise. The test error, measured
# on the true labels, stays at chance, $1 - 1/C = 0.9$. Its capacity alone cannot explain why the
# same network generalises on the true labels: the training algorithm and the data matter.

# %%
mem = A.memorization((Xtr[:500], ytr[:500]), (Xte, yte), hidden=(256,), activation="relu",
                     epochs=150, batch_size=16, lr=0.05, every=5, seed=0)
fig, ax = plt.subplots(figsize=(7, 3.8))
for name, color in [("true", "#0072B2"), ("random", "#D55E00")]:
    r = mem[name]
    ax.plot(r["epoch"], r["train_error"], color=color, label=f"{name} labels: training error")
    ax.plot(r["epoch"], r["test_error"], color=color, ls="--", label=f"{name} labels: test error")
ax.axhline(mem["chance_error"], color="0.5", lw=1, ls=":", label="chance")
ax.set(xlabel="epoch", ylabel="classification error", ylim=(-0.02, 1),
       title="256 ReLU units, 500 training digits")
ax.legend(frameon=False, fontsize=8, loc="center right");

# %% [markdown]
# ## Double descent
#
# The classical U-shaped curve says: as capacity grows, the test error first falls (less bias)
# then rises (more variance). Belkin et al. observed that past the **interpolation threshold**,
# where the model has just enough parameters to fit the $N$ training points exactly, the test error
# falls *again*. Their random-feature experiment, reproduced by `double_descent`: a first layer
# $\mathbf{h}^{(1)}(\mathbf{x}) = \mathrm{relu}(\mathbf{b}^{(1)} + \mathbf{W}^{(1)}\mathbf{x})$ left at its random initialisation, $H$ units wide,
# and an output layer fitted by minimum-norm least squares to the one-hot targets. At $H + 1 = N$
# the fit interpolates, with huge weights; beyond it, among the many interpolating solutions the
# minimum-norm one gets smoother and smoother. The inputs are centred on the training mean first:
# pixels are $\geq 0$, so otherwise some random ReLU features are 0 on every training digit, the
# features' rank stays below $H + 1$ and the peak moves to a larger $H$.

# %%
n_train = 200
mu = Xtr[:n_train].mean(axis=0)
widths = [10, 25, 50, 100, 150, 180, 190, 199, 210, 250, 300, 400, 600, 1000, 2000]
dd = A.double_descent((Xtr[:n_train] - mu, ytr[:n_train]), (Xte - mu, yte), widths,
                      activation="relu", repeats=3, seed=0)
peak = int(np.argmax(dd["test_error"]))
print(f"peak test error {dd['test_error'][peak]:.3f} at H = {dd['width'][peak]} (H + 1 = N at "
      f"H = {n_train - 1}); widest, H = {widths[-1]}: {dd['test_error'][-1]:.3f}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
ax1.plot(dd["width"], dd["train_error"], "o-", ms=3, label="training error")
ax1.plot(dd["width"], dd["test_error"], "o-", ms=3, label="test error")
ax2.plot(dd["width"], dd["test_mse"], "o-", ms=3, color="#009E73", label=r"test $\|\mathbf{a}^{(2)}(\mathbf{x}) - \mathbf{e}(y)\|^2$")
ax2b = ax2.twinx()
ax2b.plot(dd["width"], dd["weight_norm"], "s:", ms=3, color="0.4", label=r"$\|\mathbf{W}^{(2)}\|_F$")
ax2b.set(ylabel=r"$\|\mathbf{W}^{(2)}\|_F$", yscale="log")
for ax in (ax1, ax2):
    ax.axvline(n_train - 1, color="k", lw=1, ls=":")
    ax.set(xscale="log", xlabel="hidden width H (random features)")
ax1.set(ylabel="classification error", title=f"N = {n_train} training digits: the threshold at H + 1 = N")
ax2.set(ylabel="test squared error", yscale="log", title="squared error and weight norm peak together")
ax1.legend(frameon=False)
ax2.legend(frameon=False, loc="upper left")
ax2b.legend(frameon=False, loc="upper right")
fig.tight_layout()

# %% [markdown]
# ## Lottery tickets
#
# Frankle and Carbin's algorithm to identify winning tickets (sub-networks):
#
# 1. Randomly initialise a neural network $f(\mathbf{x}; \boldsymbol\theta_0)$ (where $\boldsymbol\theta_0 \sim \mathcal{D}_\theta$).
# 2. Train the network for $j$ iterations, arriving at parameters $\boldsymbol\theta_j$.
# 3. Prune $p\%$ of the parameters in $\boldsymbol\theta_j$, creating a mask $m$.
# 4. Reset the remaining parameters to their values in $\boldsymbol\theta_0$, creating the winning ticket $f(\mathbf{x}; m \odot \boldsymbol\theta_0)$.
#
# Repeated a few times (iterative pruning, $p = 50\%$ of each layer's remaining weights per round),
# the ticket keeps the accuracy of the dense network with a fraction of its weights; the same mask
# with a *fresh* random initialisation $m \odot \boldsymbol\theta_0'$ (the control) does worse. The mask is
# kept applied after every SGD step, so pruned weights stay exactly 0.

# %%
net = fg.mlp([64, 100, 10], activation="relu", seed=0)
lt = A.lottery_ticket(net, (Xtr, ytr), (Xva, yva), rounds=6, fraction=0.5, epochs=10,
                      batch_size=32, lr=0.05, seed=0)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
pct = 100 * np.array(lt.remaining)
ax.plot(pct, lt.ticket_error, "o-", label=r"winning ticket $m \odot \theta_0$")
ax.plot(pct, lt.random_error, "s--", label=r"same mask, fresh init $m \odot \theta_0'$")
ax.set(xscale="log", xlabel="% of weights remaining", ylabel="validation error",
       title="iterative magnitude pruning, 64-100-10 ReLU")
ax.invert_xaxis()
ax.set_xticks(pct, [f"{p:.3g}" for p in pct])
ax.minorticks_off()
ax.legend(frameon=False);
for r, e1, e2 in zip(pct, lt.ticket_error, lt.random_error):
    print(f"{r:6.2f}% of weights: ticket {e1:.3f}, fresh init {e2:.3f}")

# %% [markdown]
# ## Adversarial examples
#
# The gradient of the loss with respect to the *input*, $\nabla_{\mathbf{x}} -\log f(\mathbf{x})_y$, comes out of
# the same bprop as the parameters' (notebook 2: $\nabla_{\mathbf{h}^{(0)}}$). Moving every pixel a small
# step $\epsilon$ in the direction that increases the loss, the fast gradient sign method
# (Goodfellow et al., 2015, a one-step version of Szegedy et al.'s search),
#
# $$\tilde{\mathbf{x}} = \mathbf{x} + \epsilon\, \mathrm{sign}\left(\nabla_{\mathbf{x}} -\log f(\mathbf{x})_y\right),$$
#
# turns correctly classified digits into confidently misclassified ones, while random
# perturbations of the same size barely matter.

# %%
model = fg.mlp([64, 100, 10], activation="tanh", seed=0)
fg.train(model, (Xtr, ytr), epochs=30, batch_size=20, seed=0, progress=False,
         optimizer=fg.SGD(model.parameters, lr=0.1, momentum=0.9))
print(f"test error {model.error(Xte, yte):.3f}")
eps = 0.1
X_adv = A.fgsm(model, Xte, yte, eps)
pred, pred_adv = model.predict(Xte), model.predict(X_adv)
fooled = np.flatnonzero((pred == yte) & (pred_adv != yte))
print(f"eps = {eps}: {len(fooled)} of {np.sum(pred == yte)} correctly classified test digits are now misclassified")

# %% [markdown]
# The lecture's picture: correctly classified, difference, badly classified.

# %% tags=readme-adversarial
show = fooled[:4]
proba, proba_adv = model.predict_proba(Xte[show]), model.predict_proba(X_adv[show])
fig, axes = plt.subplots(3, len(show), figsize=(2.2 * len(show), 6.6))
for j, i in enumerate(show):
    diff = X_adv[i] - Xte[i]
    axes[0, j].imshow(Xte[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[0, j].set_title(f"'{pred[i]}' ({proba[j].max():.0%})")
    axes[1, j].imshow(diff.reshape(8, 8), cmap="RdBu_r", vmin=-eps, vmax=eps)
    axes[1, j].set_title(rf"$\pm\epsilon$ = {eps}")
    axes[2, j].imshow(X_adv[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    axes[2, j].set_title(f"'{pred_adv[i]}' ({proba_adv[j].max():.0%})")
for ax in axes.flat:
    ax.set(xticks=[], yticks=[])
for row, label in zip(axes[:, 0], ["correctly\nclassified", "difference", "badly\nclassified"]):
    row.set_ylabel(label)
fig.tight_layout()

# %%
curve = A.accuracy_vs_eps(model, Xte, yte, np.linspace(0, 0.3, 13), seed=0)
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(curve["eps"], curve["accuracy_fgsm"], "o-", label=r"$\epsilon\,\mathrm{sign}(\nabla_{\mathbf{x}} l)$ (FGSM)")
ax.plot(curve["eps"], curve["accuracy_random"], "s--", label=r"$\epsilon\,\mathbf{s}$, random signs")
ax.set(xlabel=r"$\epsilon$ (per pixel, pixels in [0, 1])", ylabel="test accuracy", ylim=(0, 1.02),
       title="the same size of perturbation, two directions")
ax.legend(frameon=False);

# %% [markdown]
# Humans have adversarial examples too (optical illusions), but they do not match those of neural
# networks: the direction that fools the network is given by its own gradient.
#
# ## What to remember
#
# * Capacity alone does not explain generalisation: the same network memorises noise or learns.
# * Test error is not U-shaped in capacity: past the interpolation threshold it falls again.
# * Large trained networks contain small ones that train as well from the same initialisation.
# * $\nabla_{\mathbf{x}}$ of the loss, one bprop away, finds perturbations that fool a network.
