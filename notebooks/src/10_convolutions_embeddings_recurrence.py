# %% [markdown]
# # 10. Convolutions, embeddings and recurrence
#
# The models people build right after the lecture, written as in PyTorch with the layers of
# `fg.nn` (`Conv2d`, `MaxPool2d`, `Embedding`, `Linear`, `GRUCell`, `Sequential`, ...). A layer
# is a convenience: called on a node it builds ordinary boxes on its Parameters, so every model
# below is still a flow graph that `fg.train` trains, `fg.check_graph` verifies against central
# differences, `fg.save_model` saves and Jupyter draws.
#
# 1. a **convnet** on handwritten digits: $y_{n,o,i,j} = b_o + \sum_{c,p,q} W_{o,c,p,q}\,
#    x_{n,c,i+p,j+q}$, each output pixel a linear unit of one window, the same weights for
#    every window;
# 2. Bengio's **character-level model**: each of the three previous letters looked up in an
#    embedding table $\mathbf{C}$ (a row $\mathbf{C}_{\text{letter}}$, a gather whose bprop sums
#    the gradient into the rows read), concatenated, one tanh layer, a softmax over the next
#    letter;
# 3. a **GRU** unrolled over a sequence: the same cell, the same Parameters at every time step,
#    so their gradient is the sum over time (backpropagation through time).

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import flowgraph as fg
from flowgraph import datasets, nn

tmp = Path(tempfile.mkdtemp())


def round_trip(model, X, name):
    """Save, load, and check that the loaded model computes the same outputs bit for bit."""
    path = fg.save_model(model, tmp / f"{name}.npz")
    loaded = fg.load_model(path)
    same = np.array_equal(model.forward(X), loaded.forward(X))
    print(f"{name}: saved {path.stat().st_size} bytes, loaded, identical outputs: {same}")
    assert same
    return loaded


def check(model, X, y):
    """The gradient of every parameter against central differences, every box re-checked."""
    report = fg.check_graph(model.train_graph, model.as_feed((X, y)))
    print(str(report).splitlines()[0], f"({len(model.parameters)} parameters)")
    assert report.ok
    return report


def curves(history, title):
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    ax.plot(history.epoch, history.train_loss, label="training")
    ax.plot(history.epoch, history.valid_loss, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.legend()
    plt.show()


# %% [markdown]
# ## 1. A convnet on the digits
#
# MNIST when its files are on this machine (`fg.datasets.load_mnist` reads them; a subset keeps
# this notebook quick), the 8x8 digits shipped with flowgraph otherwise. Images are
# $(N, C, H, W)$, batch first, as in PyTorch. The network is PyTorch's MNIST example made small:
# convolution, $2 \times 2$ max pooling, ReLU, twice, then a linear layer to 10 scores. (Pooling
# before the ReLU is the same function as after it, since both are monotone, and avoids windows
# of exact zeros whose maximum is a tie.)

# %%
try:
    X, y, info = datasets.get_dataset("mnist", n_samples=3000, seed=0)
except datasets.DatasetNotFoundError:
    X, y, info = datasets.get_dataset("digits")
    X = X / 16  # pixel counts 0..16 -> [0, 1]
side = info["image_shape"][0]
images = X.reshape(-1, 1, side, side).astype(np.float32)
(X_tr, y_tr), (X_va, y_va), (X_te, y_te) = datasets.split(images, y, seed=0)
print(f"{info['description']}: {len(X_tr)} training, {len(X_va)} validation, {len(X_te)} test")

x, labels = fg.Input("x"), fg.Input("y")
convnet = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.MaxPool2d(2), nn.ReLU(),
    nn.Conv2d(8, 16, 3, padding=1, rng=1), nn.MaxPool2d(2), nn.ReLU(),
    nn.Flatten(), nn.Linear(16 * (side // 4) ** 2, 10, rng=2),
)
print(convnet)
scores = convnet(x)
cnn = fg.Model(loss=fg.softmax_cross_entropy(scores, labels), output=fg.softmax(scores))
history = fg.train(cnn, (X_tr, y_tr), (X_va, y_va), epochs=6, batch_size=32,
                   optimizer=fg.Adam(cnn.parameters, lr=0.01), progress=False)
print(f"test error {cnn.error(X_te, y_te):.3f} after {len(history)} epochs")
curves(history, "convnet")

# %% [markdown]
# The first layer's eight $3 \times 3$ kernels, `convnet[0].weight` of shape (8, 1, 3, 3) as
# in `torch.nn.Conv2d`: each slides over the image and answers where its pattern is.

# %%
fig, axes = plt.subplots(1, 8, figsize=(8, 1.2))
for k, ax in enumerate(axes):
    ax.imshow(convnet[0].weight.value[k, 0], cmap="RdBu_r")
    ax.axis("off")
plt.show()
round_trip(cnn, X_te[:100], "convnet")
check(cnn, X_tr[:4], y_tr[:4])

# %% [markdown]
# The graph: a box per layer, the Parameters as leaves (`0.weight` is `convnet[0].weight`).

# %%
cnn.graph

# %% [markdown]
# ## 2. Bengio's character-level model
#
# Made-up words (`datasets.make_words`: syllables drawn with unequal frequencies, no file or
# network needed), and for each letter the three letters before it (`.` pads the start and
# marks the end of a word). The table $\mathbf{C}$ has one row of 2 numbers per letter, so we
# can draw where training puts the letters.

# %%
words = datasets.make_words(3000, seed=0)
print(" ".join(words[:12]))
(C_tr, n_tr), (C_va, n_va) = (datasets.char_contexts(words[:2500]),
                              datasets.char_contexts(words[2500:]))
V, block = len(datasets.ALPHABET), 3

ctx, nxt = fg.Input("x"), fg.Input("y")
C = nn.Embedding(V, 2, rng=0)
fc1, fc2 = nn.Linear(block * 2, 64, rng=1), nn.Linear(64, V, rng=2)
h = fg.tanh(fc1(nn.Flatten()(C(ctx))))  # C[ctx].view(N, -1) in PyTorch
letters = fc2(h)
charnet = fg.Model(loss=fg.softmax_cross_entropy(letters, nxt), output=fg.softmax(letters))
history = fg.train(charnet, (C_tr, n_tr), (C_va, n_va), epochs=8, batch_size=64,
                   optimizer=fg.Adam(charnet.parameters, lr=0.01), progress=False)
p = np.bincount(n_tr, minlength=V) / len(n_tr)
print(f"validation loss {history.valid_loss[-1]:.3f} nats per letter; letter frequencies "
      f"alone give {-np.sum(p[p > 0] * np.log(p[p > 0])):.3f}, uniform guessing {np.log(V):.3f}")
curves(history, "character model")

# %% [markdown]
# New words, one letter at a time: the model's probabilities for the next letter given the
# last three, a letter drawn from them, until it draws the end `.`.

# %%
rng = np.random.default_rng(1)


def sample_word(model, rng, max_len=12):
    context, out = [0] * block, []
    for _ in range(max_len):
        probs = model.predict_proba(np.array([context]))[0].astype(np.float64)
        i = int(rng.choice(V, p=probs / probs.sum()))
        if i == 0:
            break
        out.append(datasets.ALPHABET[i])
        context = context[1:] + [i]
    return "".join(out)


print(" ".join(sample_word(charnet, rng) for _ in range(12)))

fig, ax = plt.subplots(figsize=(4, 4))
table = C.weight.value
ax.scatter(table[:, 0], table[:, 1], s=180, c="lightsteelblue")
for i, ch in enumerate(datasets.ALPHABET):
    ax.text(table[i, 0], table[i, 1], ch, ha="center", va="center")
ax.set_title("the embedding table C, one row per letter", fontsize=10)
plt.show()
round_trip(charnet, C_va[:200], "characters")
check(charnet, C_tr[:6], n_tr[:6])

# %% [markdown]
# ## 3. A GRU over a sequence
#
# Sequences of eight bits, labelled with how many of them are ones. The GRU reads one bit per
# step, `x[:, t]`, and carries its state $\mathbf{h}$:
#
# $\mathbf{r} = \mathrm{sigm}(\mathbf{W}_{ir}\mathbf{x} + \mathbf{W}_{hr}\mathbf{h} + \ldots)$,
# $\mathbf{z} = \mathrm{sigm}(\mathbf{W}_{iz}\mathbf{x} + \mathbf{W}_{hz}\mathbf{h} + \ldots)$,
# $\mathbf{n} = \tanh(\mathbf{W}_{in}\mathbf{x} + \mathbf{r} \odot (\mathbf{W}_{hn}\mathbf{h} +
# \ldots))$, $\mathbf{h}' = (1 - \mathbf{z}) \odot \mathbf{n} + \mathbf{z} \odot \mathbf{h}$.
#
# Unrolled, the graph holds eight copies of these boxes but one set of Parameters: each
# Parameter has eight parents, and bprop sums their gradients.

# %%
T, H = 8, 16
bits = np.random.default_rng(0).integers(0, 2, size=(3000, T, 1)).astype(np.float32)
counts = bits.sum(axis=(1, 2)).astype(np.int64)
(S_tr, k_tr), (S_va, k_va), (S_te, k_te) = datasets.split(bits, counts, seed=0)

seq, count = fg.Input("x"), fg.Input("y")
cell, head = nn.GRUCell(1, H, rng=0), nn.Linear(H, T + 1, rng=1)
state = np.zeros((1, H), np.float32)  # the initial state, broadcast over the batch
for t in range(T):
    state = cell(seq[:, t], state)
out = head(state)
gru = fg.Model(loss=fg.softmax_cross_entropy(out, count), output=fg.softmax(out))
history = fg.train(gru, (S_tr, k_tr), (S_va, k_va), epochs=10, batch_size=32,
                   optimizer=fg.Adam(gru.parameters, lr=0.02), progress=False)
parents = sum(any(c is cell.weight_hh for c in n.children) for n in gru.graph.order)
print(f"test error {gru.error(S_te, k_te):.3f} (always guessing {T // 2} ones: "
      f"{np.mean(k_te != T // 2):.3f}); {len(gru.parameters)} Parameters, weight_hh read by "
      f"{parents} nodes")
curves(history, "GRU")
round_trip(gru, S_te[:100], "gru")
check(gru, S_tr[:4], k_tr[:4])

# %% [markdown]
# ## 4. Dropout and batch norm: a training mode and an evaluation mode
#
# Dropout (Srivastava et al., 2014) multiplies the hidden units by a random mask while
# training, $\mathbf{h} \odot \mathbf{m} / (1 - p)$ with $m_j \sim \mathrm{Bernoulli}(1 - p)$,
# and leaves $\mathbf{h}$ as it is in evaluation. Batch normalisation (Ioffe and Szegedy, 2015)
# normalises each unit by the batch's mean and variance while training, by running averages
# of them in evaluation. Both read their randomness, their mode and their running statistics
# as leaves of the graph: `fg.train` draws the masks from a generator it seeds per step,
# trains in training mode, updates the running statistics after each step (an explicit step,
# after the optimiser's), and validates in evaluation mode; `predict` evaluates.

# %%
Xd, yd = datasets.load_digits()
(D_tr, d_tr), (D_va, d_va), (D_te, d_te) = datasets.split((Xd / 16).astype(np.float32), yd,
                                                          seed=0)
x, y = fg.Input("x"), fg.Input("y")
net = nn.Sequential(nn.Linear(64, 64, rng=0), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2),
                    nn.Linear(64, 10, rng=1), name="mlp")
scores = net(x)
regular = fg.Model(loss=fg.softmax_cross_entropy(scores, y), output=fg.softmax(scores))
history = fg.train(regular, (D_tr, d_tr), (D_va, d_va), epochs=15, batch_size=32,
                   optimizer=fg.Adam(regular.parameters, lr=0.01), progress=False)
print(f"test error {regular.error(D_te, d_te):.3f}; batch norm's running mean, first units: "
      f"{net[1].running_mean.value[:4].round(3)}")
g, feed = regular.train_graph, regular.as_feed((D_te[:64], d_te[:64]))
g.train()
masks = [float(g.fprop(feed, rng=np.random.default_rng(k))) for k in (1, 2)]
g.eval()
evaluated = [float(g.fprop(feed)) for _ in range(2)]
print(f"training mode, two draws of the masks: losses {masks[0]:.4f}, {masks[1]:.4f}; "
      f"evaluation mode: {evaluated[0]:.4f}, {evaluated[1]:.4f}")
curves(history, "dropout and batch norm")
round_trip(regular, D_te[:100], "regular")
g.train()
g.fprop(feed, rng=np.random.default_rng(3))  # one draw of the masks, held while checking
check(regular, D_te[:8], d_te[:8])

# %% [markdown]
# Three architectures and two modes, one engine: convolution and pooling are boxes with an fprop, a bprop
# and forward-mode rules, the embedding is a gather, the GRU is the lecture's boxes (linear,
# sigmoid, tanh, products) unrolled. Each model was trained by the same `fg.train`, saved in
# the same file format and checked by the same checker.
