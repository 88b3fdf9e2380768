# %% [markdown]
# # 9. Composing graphs: the MLP is one graph among many
#
# The lecture's network is one flow graph; the engine is not tied to it. Any expression built
# from boxes is a graph that `fg.Graph` orders, `bprop` differentiates and the checker
# verifies; `fg.Model(loss=..., output=...)` turns any such graph into something `fg.train`
# trains, `fg.save_model` saves and `fg.render` draws. Operators on nodes are sugar for boxes:
# `x @ W.T + b` is `Add(MatMul(x, Transpose(W)), b)`, and each of those boxes has an fprop, a
# bprop and a finite-difference check of its own.
#
# Five graphs below, each trained with `fg.train`, saved and loaded (identical outputs), drawn,
# and checked end to end with `fg.check_graph`:
#
# 1. logistic regression, $f(\mathbf{x}) = \mathrm{sigm}(\mathbf{w}^\top \mathbf{x} + b)$;
# 2. linear regression with the squared error $\frac{1}{2}\|f(\mathbf{x}) - t\|^2$;
# 3. an autoencoder with tied weights: $\mathbf{W}$ encodes and $\mathbf{W}^\top$ decodes, one
#    Parameter used twice, so its gradient is the sum over its two parents;
# 4. a residual MLP, $\mathbf{h} \mapsto \mathbf{h} + \tanh(\mathbf{W}\mathbf{h} + \mathbf{b})$
#    written once as a `Block` and applied three times with different Parameters;
# 5. a two-headed network: one trunk, a classification head and a regression head, and the sum
#    of the two losses.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg

rng = np.random.default_rng(0)
tmp = Path(tempfile.mkdtemp())


def round_trip(model, feed, name):
    """Save, load, and check that the loaded model computes the same outputs bit for bit."""
    path = fg.save_model(model, tmp / f"{name}.npz")
    loaded = fg.load_model(path)
    same = np.array_equal(model.forward(feed), loaded.forward(feed))
    print(f"{name}: saved {path.stat().st_size} bytes, loaded, identical outputs: {same}")
    assert same
    return loaded


def check(model, feed):
    """The gradient of every parameter against central differences, end to end."""
    report = fg.check_graph(model.train_graph, feed)
    print(str(report).splitlines()[0], f"({len(model.parameters)} parameters, every box re-checked)")
    assert report.ok
    return report


# %% [markdown]
# ## 1. Logistic regression
#
# One unit, the logistic sigmoid, the binary cross-entropy
# $l = -t \log f - (1 - t) \log (1 - f)$. `SigmoidCrossEntropy` takes the logit $a$ and computes
# $\log(1 + e^{-a})$ stably, so the loss is exact even where $f$ rounds to 0 or 1.

# %%
X, y = fg.datasets.make_moons(400, noise=0.15, seed=0)
(X_tr, y_tr), (X_va, y_va), _ = fg.datasets.split(X, y, valid=0.25, test=0.0, seed=0)

x, t = fg.Input("x"), fg.Input("t")
w = fg.Parameter(np.zeros((1, 2)), "w")
b = fg.Parameter(np.zeros(1), "b")
logit = (x @ w.T + b).reshape(-1)
logreg = fg.Model(loss=fg.SigmoidCrossEntropy()(logit, t, name="loss"),
                  output=fg.sigmoid(logit))  # fmt: skip
history = fg.train(logreg, {"x": X_tr, "t": y_tr}, {"x": X_va, "t": y_va}, epochs=50,
                   batch_size=20, optimizer=fg.SGD(logreg.parameters, lr=0.5), progress=False)  # fmt: skip
accuracy = np.mean((logreg.forward({"x": X_va}) > 0.5) == y_va)
print(f"validation loss {history.valid_loss[-1]:.4f}, accuracy {accuracy:.3f} (a line on moons)")
round_trip(logreg, {"x": X_va}, "logistic")
check(logreg, {"x": X_va[:8], "t": y_va[:8]})
logreg.graph

# %% [markdown]
# ## 2. Linear regression with the squared error
#
# $f(\mathbf{x}) = \mathbf{W}\mathbf{x} + \mathbf{b}$ on data from a known linear map plus noise;
# `SquaredError` is $\frac{1}{N}\sum_t \frac{1}{2}\|f(\mathbf{x}_t) - \mathbf{t}_t\|^2$. SGD
# should find the map: we print it next to the truth.

# %%
W_true = np.array([[2.0, -1.0, 0.5]])
Xr = rng.normal(size=(300, 3))
Tr = Xr @ W_true.T + 0.3 + 0.05 * rng.normal(size=(300, 1))

x, t = fg.Input("x"), fg.Input("t")
W = fg.Parameter(np.zeros((1, 3)), "W")
b = fg.Parameter(np.zeros(1), "b")
f = fg.Linear()(x, W, b, name="f")
linreg = fg.Model(loss=fg.SquaredError()(f, t, name="loss"), output=f)
history = fg.train(linreg, {"x": Xr[:240], "t": Tr[:240]}, {"x": Xr[240:], "t": Tr[240:]},
                   epochs=30, batch_size=10, optimizer=fg.SGD(linreg.parameters, lr=0.05),
                   progress=False)  # fmt: skip
print("W found", np.round(W.value, 3), "b", np.round(b.value, 3), "  true", W_true, 0.3)
print(f"validation loss {history.valid_loss[-1]:.5f} (noise variance / 2 = {0.05**2 / 2:.5f})")
round_trip(linreg, {"x": Xr[240:]}, "linear")
check(linreg, {"x": Xr[:8], "t": Tr[:8]})

# %% [markdown]
# ## 3. An autoencoder with tied weights
#
# Encode $\mathbf{h} = \tanh(\mathbf{W}\mathbf{x} + \mathbf{b})$, decode
# $\hat{\mathbf{x}} = \mathbf{W}^\top \mathbf{h} + \mathbf{c}$ with the *same* $\mathbf{W}$, and
# minimise the reconstruction error. $\mathbf{W}$ has two parents in the graph (the encoder's
# `MatMul` through `Transpose`, and the decoder's), so `bprop` adds two gradients into
# `W.grad`: the chain rule's sum over parents, which the checker confirms. The digits are
# squeezed through 16 units.

# %%
Xd, yd = fg.datasets.load_digits()
Xd = Xd / 16
x = fg.Input("x")
W = fg.Parameter(fg.init.glorot_uniform((16, 64), rng), "W")
b = fg.Parameter(np.zeros(16), "b")
c = fg.Parameter(np.zeros(64), "c")
code = fg.tanh(x @ W.T + b)
x_hat = code @ W + c
autoencoder = fg.Model(loss=fg.SquaredError()(x_hat, x, name="loss"), output=x_hat)
history = fg.train(autoencoder, {"x": Xd[:1500]}, {"x": Xd[1500:]}, epochs=15, batch_size=20,
                   optimizer=fg.SGD(autoencoder.parameters, lr=0.1, momentum=0.9),
                   progress=False)  # fmt: skip
print(f"reconstruction loss: {history.train_loss[0]:.3f} after one epoch, "
      f"{history.valid_loss[-1]:.3f} (validation) after {len(history)}")  # fmt: skip
parents = [n.name for n in autoencoder.graph.order if any(ch is W for ch in n.children)]
print(f"W is read by {parents}: its gradient is the sum of theirs")
round_trip(autoencoder, {"x": Xd[1500:1510]}, "autoencoder")
check(autoencoder, {"x": Xd[:4]})

fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
recon = autoencoder.forward({"x": Xd[1500:1508]})
for i in range(8):
    axes[0, i].imshow(Xd[1500 + i].reshape(8, 8), cmap="gray_r")
    axes[1, i].imshow(recon[i].reshape(8, 8), cmap="gray_r")
    axes[0, i].axis("off")
    axes[1, i].axis("off")
axes[0, 0].set_title("input", loc="left", fontsize=9)
axes[1, 0].set_title("through 16 units", loc="left", fontsize=9)
plt.show()

# %% [markdown]
# ## 4. A residual MLP from one Block used three times
#
# A `Block` is a graph used as a box. Its weights are Inputs, so each use passes its own
# Parameters and gets its own gradients; its bprop is the inner graph's bprop. The picture
# draws each use as a cluster.

# %%
h, Wb, bb = fg.Input("h"), fg.Input("W"), fg.Input("b")
residual = fg.Block(fg.Graph(h + fg.tanh(h @ Wb.T + bb)), inputs=[h, Wb, bb], name="residual")

X, y = fg.datasets.make_spirals(600, noise=0.05, seed=0)
(X_tr, y_tr), (X_va, y_va), _ = fg.datasets.split(X, y, valid=0.25, test=0.0, seed=0)
x, labels = fg.Input("x"), fg.Input("y")
W0 = fg.Parameter(fg.init.glorot_uniform((16, 2), rng), "W0")
b0 = fg.Parameter(np.zeros(16), "b0")
z = fg.tanh(x @ W0.T + b0)
for k in (1, 2, 3):
    z = residual(z, fg.Parameter(0.3 * fg.init.glorot_uniform((16, 16), rng), f"W{k}"),
                 fg.Parameter(np.zeros(16), f"b{k}"))  # fmt: skip
V = fg.Parameter(fg.init.glorot_uniform((2, 16), rng), "V")
c = fg.Parameter(np.zeros(2), "c")
a_out = z @ V.T + c
resnet = fg.Model(loss=fg.SoftmaxCrossEntropy()(a_out, labels, name="loss"),
                  output=fg.Softmax()(a_out, name="output"))  # fmt: skip
history = fg.train(resnet, {"x": X_tr, "y": y_tr}, {"x": X_va, "y": y_va}, epochs=60,
                   batch_size=16, optimizer=fg.SGD(resnet.parameters, lr=0.05, momentum=0.9),
                   progress=False)  # fmt: skip
print(f"spirals: validation error {history.valid_error[-1]:.3f} after {len(history)} epochs")
round_trip(resnet, {"x": X_va}, "residual")
check(resnet, {"x": X_va[:6], "y": y_va[:6]})
resnet.graph

# %% [markdown]
# ## 5. Two heads, two losses summed
#
# A trunk $\mathbf{h} = \tanh(\mathbf{W}\mathbf{x} + \mathbf{b})$ feeds a classifier (which digit)
# and a regressor (how much ink: the mean pixel, standardised). The loss is the sum
# $l = l_{\text{class}} + l_{\text{ink}}$, so the trunk's gradient is the sum of the two heads'.
# The model's output is the classifier's; the regression head is a node we can read.

# %%
ink = Xd.mean(axis=1, keepdims=True)
ink = (ink - ink[:1500].mean()) / ink[:1500].std()  # in units of its spread on the training part
x, labels, t = fg.Input("x"), fg.Input("y"), fg.Input("ink")
Wt = fg.Parameter(fg.init.glorot_uniform((32, 64), rng), "W_trunk")
bt = fg.Parameter(np.zeros(32), "b_trunk")
trunk = fg.tanh(x @ Wt.T + bt)
Wc, bc = fg.Parameter(fg.init.glorot_uniform((10, 32), rng), "W_class"), fg.Parameter(np.zeros(10), "b_class")
Wi, bi = fg.Parameter(fg.init.glorot_uniform((1, 32), rng), "W_ink"), fg.Parameter(np.zeros(1), "b_ink")
scores = fg.Linear()(trunk, Wc, bc, name="scores")
ink_hat = fg.Linear()(trunk, Wi, bi, name="ink_hat")
loss = fg.SoftmaxCrossEntropy()(scores, labels) + fg.SquaredError()(ink_hat, t)
two_heads = fg.Model(loss=loss, output=fg.Softmax()(scores, name="output"), labels=labels)
history = fg.train(two_heads, {"x": Xd[:1500], "y": yd[:1500], "ink": ink[:1500]},
                   {"x": Xd[1500:], "y": yd[1500:], "ink": ink[1500:]}, epochs=15, batch_size=20,
                   optimizer=fg.SGD(two_heads.parameters, lr=0.1, momentum=0.9),
                   progress=False)  # fmt: skip
feed = {"x": Xd[1500:], "y": yd[1500:], "ink": ink[1500:]}
two_heads.graph.fprop(feed)
ink_error = np.sqrt(np.mean((ink_hat.value - ink[1500:]) ** 2))
print(f"digit error {two_heads.error(feed):.3f}; ink RMS error {ink_error:.3f} "
      "(predicting the mean ink would give 1.0)")  # fmt: skip
round_trip(two_heads, {"x": Xd[1500:1520]}, "two_heads")
check(two_heads, {"x": Xd[:5], "y": yd[:5], "ink": ink[:5]})

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.epoch, history.train_loss, label="training loss (sum of both)")
ax.plot(history.epoch, history.valid_loss, label="validation loss")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
plt.show()

# %% [markdown]
# Every graph above went through the same three ideas: boxes are math (the operators only make
# boxes), parameters are leaves (a tied weight is one leaf with two parents), and the graph only
# orders and accumulates. Nothing in `fg.train`, `fg.save_model`, `fg.render` or the checker
# knows what an MLP is.
