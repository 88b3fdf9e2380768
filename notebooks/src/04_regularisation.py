# %% [markdown]
# # 4. Regularisation and model selection
#
# Training minimises the **regularised** empirical risk
#
# $$\arg\min_{\boldsymbol\theta} \frac{1}{T} \sum_t l(\mathbf{f}(\mathbf{x}^{(t)}; \boldsymbol\theta), y^{(t)}) + \lambda\,\Omega(\boldsymbol\theta)$$
#
# where the regulariser $\Omega(\boldsymbol\theta)$ penalises certain values of $\boldsymbol\theta$. This notebook looks at
# the two classic regularisers, at what they trade (bias against variance), at capacity and at
# the protocol that chooses $\lambda$ and every other **hyper-parameter**: the validation set,
# early stopping, grid and random search. Data: the 8x8 digits, pixels scaled to $[0, 1]$.

# %%
import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph import datasets
from flowgraph import select

X, y = datasets.load_digits()
X = X / 16.0
(Xtr, ytr), (Xva, yva), (Xte, yte) = datasets.split(X, y, valid=0.2, test=0.2, seed=0)
small = (Xtr[:200], ytr[:200])  # a small training set, to make overfitting easy to see
print(f"train {Xtr.shape}, valid {Xva.shape}, test {Xte.shape}; small training set {small[0].shape}")

# %% [markdown]
# ## Training, validation and test sets
#
# * The training set $\mathcal{D}^{train}$ serves to train a model (the parameters $\boldsymbol\theta$).
# * The validation set $\mathcal{D}^{valid}$ serves to select hyper-parameters ($\lambda$, $\alpha$, the widths, the
#   number of epochs...).
# * The test set $\mathcal{D}^{test}$ serves to estimate the generalisation error, once, at the end.
#
# Generalisation is the behaviour of the model on **unseen examples**: this is what we care about.
# `datasets.split` makes the three parts, disjoint and with the class proportions of the whole.
#
# ## Capacity, underfitting and overfitting
#
# The **capacity** of a model is how complex a function it can fit; here, the number of hidden
# units $H_1$. Too little and the model **underfits**: high training and validation error. With
# enough, it fits the training set perfectly, and the gap between training and validation error
# is the **overfitting**. Trained on the 200 examples, 150 epochs each:

# %%
widths = [1, 2, 4, 8, 16, 32, 64, 256]
tr_err, va_err = [], []
for H in widths:
    m = fg.mlp([64, H, 10], activation="tanh", seed=0)
    fg.train(m, small, epochs=150, batch_size=10, optimizer=fg.SGD(m.parameters, lr=0.05, momentum=0.9),
             seed=0, progress=False)
    tr_err.append(m.error(*small))
    va_err.append(m.error(Xva, yva))
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(widths, tr_err, "o-", label="training error")
ax.plot(widths, va_err, "o-", label="validation error")
ax.set(xscale="log", xlabel="hidden units $H_1$ (capacity)", ylabel="classification error",
       title="200 training digits")
ax.set_xticks(widths, [str(w) for w in widths])
ax.minorticks_off()
ax.legend(frameon=False);

# %% [markdown]
# From 4 units on the training error is 0, while the validation error keeps improving up to about
# 32 units and then stays put: on this data, more width does not make it worse. The classical
# picture, where too much capacity makes the validation error climb again, is not the whole story
# (notebook 6: double descent). The gap, though, is real, and regularisation works on it.
#
# ## L2 regularisation
#
# $$\Omega(\boldsymbol\theta) = \sum_k \sum_i \sum_j \left(W^{(k)}_{i,j}\right)^2 = \sum_k \|\mathbf{W}^{(k)}\|_F^2, \qquad
# \nabla_{\mathbf{W}^{(k)}} \Omega(\boldsymbol\theta) = 2\,\mathbf{W}^{(k)}$$
#
# applied to the weights only, not the biases ("weight decay": each step shrinks $\mathbf{W}$ by a factor
# $1 - 2\alpha\lambda$); it can be interpreted as a Gaussian prior on the weights. `fg.mlp(..., l2=lambda)`
# adds the `L2Penalty` box to the graph. A large network (256 units) on the 200 examples:

# %%
lambdas = [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2]
rows = []
for lam in lambdas:
    m = fg.mlp([64, 256, 10], activation="tanh", l2=lam, seed=0)
    fg.train(m, small, epochs=150, batch_size=10, optimizer=fg.SGD(m.parameters, lr=0.05, momentum=0.9),
             seed=0, progress=False)
    rows.append((lam, m.error(*small), m.error(Xva, yva), np.sqrt(sum(np.sum(W.value ** 2) for W in m.weights))))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
lam_axis = [max(r[0], 3e-5) for r in rows]  # lambda = 0 drawn at the left edge
ax1.plot(lam_axis, [r[1] for r in rows], "o-", label="training error")
ax1.plot(lam_axis, [r[2] for r in rows], "o-", label="validation error")
ax2.plot(lam_axis, [r[3] for r in rows], "o-", color="#009E73")
for ax in (ax1, ax2):
    ax.set(xscale="log", xlabel=r"$\lambda$ (leftmost point: $\lambda = 0$)")
ax1.set(ylabel="classification error", title="256 units, 200 training digits")
ax2.set(ylabel=r"$\sqrt{\sum_k \|\mathbf{W}^{(k)}\|_F^2}$", title="the weights shrink")
ax1.legend(frameon=False)
fig.tight_layout()

# %% [markdown]
# ## L1 regularisation: weights exactly 0
#
# $$\Omega(\boldsymbol\theta) = \sum_k \sum_i \sum_j |W^{(k)}_{i,j}|, \qquad \nabla_{\mathbf{W}^{(k)}} \Omega(\boldsymbol\theta) = \mathrm{sign}(\mathbf{W}^{(k)}),
# \quad \mathrm{sign}(\mathbf{W}^{(k)})_{i,j} = 1_{W^{(k)}_{i,j} > 0} - 1_{W^{(k)}_{i,j} < 0}$$
#
# Unlike L2, L1 pushes certain weights to be **exactly 0** (a Laplacian prior). But only if the
# optimiser lets them land there: a plain (sub)gradient step $-\alpha\lambda\,\mathrm{sign}(W)$ overshoots 0
# and oscillates around it. The **proximal step** of $\lambda|W|$, applied after each gradient step on
# the data term, soft-thresholds instead:
#
# $$W \leftarrow \mathrm{sign}(W)\,\max(|W| - \alpha_t\lambda,\ 0)$$
#
# (`fg.SGD(..., l1_prox=lambda, l1_params=model.weights)`). `analysis.l1_sparsity` trains the same
# network three ways for each $\lambda$ and counts the weights that are exactly 0.

# %%
sp = A.l1_sparsity((Xtr, ytr), (Xva, yva), lambdas=(1e-3, 3e-3, 1e-2), hidden=(64,), epochs=15,
                   batch_size=16, lr=0.05, seed=0)
names = {"l1_subgradient": "L1, subgradient", "l1_proximal": "L1, proximal step", "l2": "L2"}
for method, name in names.items():
    r = sp[method]
    print(f"{name:18s} " + "  ".join(
        f"lambda={lam:g}: {100 * fz:5.1f}% zeros, valid error {e:.3f}"
        for lam, fz, e in zip(sp["lambda"], r["fraction_zero"], r["test_error"])))

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
for ax, (method, name) in zip(axes, names.items()):
    w = np.abs(sp[method]["weights"])
    ax.hist(np.log10(w[w > 0]), bins=np.linspace(-9, 0, 73), color="#0072B2", label=r"$|W_{i,j}| > 0$")
    ax.bar(-9.6, np.sum(w == 0), width=0.5, color="#D55E00", label="exactly 0")
    ax.set(title=f"{name}: {100 * np.mean(w == 0):.0f}% exactly 0", xlabel=r"$\log_{10} |W_{i,j}|$",
           yscale="log")
axes[0].set_ylabel("number of weights")
axes[0].legend(frameon=False, loc="upper left")
fig.suptitle(rf"the weights after training with $\lambda$ = {sp['lambda'][-1]:g}: subgradient steps leave them "
             r"hovering near 0, the proximal step puts them on 0")
fig.tight_layout()

# %% [markdown]
# ## Bias and variance
#
# * **Variance** of the trained model: does it vary a lot if the training set changes?
# * **Bias**: is the average model close to the true solution?
# * The generalisation error can be seen as the sum of the (squared) bias and the variance.
#
# `analysis.bias_variance` trains networks on bootstrap resamples $\mathcal{D}_b$ of the training set and,
# with $\mathbf{f}_b$ their predicted probabilities and $\bar{\mathbf{f}} = \frac1B\sum_b \mathbf{f}_b$, splits the squared error
# exactly: $\mathbb{E}_b\|\mathbf{f}_b(\mathbf{x}) - \mathbf{e}(y)\|^2 = \|\bar{\mathbf{f}}(\mathbf{x}) - \mathbf{e}(y)\|^2 + \mathbb{E}_b\|\mathbf{f}_b(\mathbf{x}) - \bar{\mathbf{f}}(\mathbf{x})\|^2$.
# More regularisation: less variance, more bias.

# %%
bv = A.bias_variance(small, (Xva, yva), l2_values=(0.0, 1e-3, 1e-2, 3e-2, 1e-1), n_boot=6,
                     hidden=(64,), epochs=40, batch_size=10, lr=0.05, seed=0)
lam_axis = [max(v, 3e-4) for v in bv["l2"]]
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(lam_axis, bv["bias2"], "o-", label=r"bias$^2$")
ax.plot(lam_axis, bv["variance"], "o-", label="variance")
ax.plot(lam_axis, bv["mse"], "k.--", label=r"their sum: expected squared error")
ax.set(xscale="log", xlabel=r"$\lambda$ (leftmost point: $\lambda = 0$)", ylabel="on the validation set",
       title="64 units, 6 bootstrap resamples of 200 digits")
ax.legend(frameon=False);

# %% [markdown]
# ## Early stopping
#
# The number of epochs is a hyper-parameter too. *To select the number of epochs, stop training
# when the validation set error increases (with some look ahead)*: `fg.EarlyStopping(patience=p)`
# waits $p$ epochs without improvement (the look-ahead) before stopping, then restores the
# parameters of the best epoch. A small look-ahead may stop at a bump; a larger one waits.
# Here the validation error stops improving after a few dozen epochs, and training stops long
# before the 300 epochs allowed.

# %%
m = fg.mlp([64, 256, 10], activation="tanh", seed=0)
hist = fg.train(m, small, (Xva, yva), epochs=300, batch_size=10, seed=0, progress=False,
                optimizer=fg.SGD(m.parameters, lr=0.1, momentum=0.9),
                early_stopping=fg.EarlyStopping(patience=30))
print(f"stopped early: {hist.stopped_early} after {len(hist)} epochs; best epoch {hist.best_epoch}, "
      f"validation error {hist.best_valid_error:.3f} (restored)")
hist.plot(title="early stopping with a look-ahead of 30 epochs (200 training digits)")

# %% [markdown]
# ## Grid search and random search
#
# To search for the best configuration of the hyper-parameters:
#
# * **grid search**: specify a set of values for each hyper-parameter and try all combinations;
# * **random search**: specify a distribution for each (e.g. uniform in some range, or log-uniform
#   for scales like $\alpha$ and $\lambda$) and sample configurations independently.
#
# Use the validation performance to select the best configuration; then, once, measure its test
# error. `select.grid_search` and `select.random_search` do exactly that (in parallel if asked:
# `n_jobs=`, or a Dask cluster). Here 16 configurations each, 64 hidden units, 15 epochs:

# %%
data = ((Xtr, ytr), (Xva, yva), (Xte, yte))
fixed = {"hidden": 64, "epochs": 15, "batch_size": 20, "momentum": 0.9}
grid = select.grid_search({"lr": [0.003, 0.01, 0.03, 0.1], "l2": [0.0, 1e-4, 1e-3, 1e-2], **fixed},
                          data, seed=0, progress=False)
rand = select.random_search({"lr": select.loguniform(1e-3, 0.3), "l2": select.loguniform(1e-5, 3e-2),
                             **fixed}, data, 16, seed=0, progress=False)
for name, res in [("grid", grid), ("random", rand)]:
    best = res.best_trial
    print(f"{name:6s} search: best lr = {best['config']['lr']:.3g}, l2 = {best['config']['l2']:.3g}, "
          f"validation error {best['valid_error']:.3f}; its test error (measured once) {res.test_error:.3f}")

# %%
fig_grid = grid.plot("lr", "l2", title="grid search: validation error")
fig_rand = rand.plot("lr", "l2", title="random search: validation error")
display(fig_grid, fig_rand)

# %% [markdown]
# Random search tries a different value of each hyper-parameter in every trial (16 values of
# $\alpha$ instead of 4), which pays when only some of the hyper-parameters matter much; the grid
# covers its box evenly. Either way one can go back and refine the grid or the distributions
# around the best region.
#
# ## What to remember
#
# * Choose capacity, $\lambda$, $\alpha$ and the number of epochs on the validation set; report the
#   test error of the chosen model once.
# * L2 shrinks all weights; L1 with a proximal step sets many exactly to 0.
# * Regularisation trades variance for bias; early stopping is a regulariser too.
