"""The models people build right after the lecture (issue 23), each at small size and written
as in PyTorch (``fg.nn`` layers and function forms, integer indices and time steps taken with
``x[:, t]``: no one-hot inputs, no ``x @ eye`` tricks): a convnet on the 8x8 digits, Bengio's
character-level MLP with an embedding table, recurrent cells over a sequence, and logistic
regression. Each is trained with ``fg.train`` (the loss goes down), passes ``fg.check_graph``
and comes back from ``fg.save_model`` / ``fg.load_model`` giving the same predictions.

And a VAE, its noise a node of the graph (the reparametrisation trick).
"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import datasets, nn


def digits_images(n: int):
    """The first n digits as (n, 1, 8, 8) images in [0, 1] and their labels."""
    X, y = datasets.load_digits()
    return (X[:n] / 16).reshape(-1, 1, 8, 8).astype(np.float32), y[:n]


def classifier(a, labels):
    """Softmax cross-entropy on the scores a, with softmax(a) as the output."""
    return fg.Model(loss=fg.softmax_cross_entropy(a, labels), output=fg.softmax(a))


def convnet():
    """As PyTorch's MNIST example: relu(max_pool2d(conv(x))), pooling before the ReLU (the
    same function). Pooling after it, windows of exact zeros tie, and check_graph's
    forward-mode check of MaxPool2d.bprop_jvp cannot resolve the jump there (a checker
    matter: with jvp=False that order passes too)."""
    x, y = fg.Input("x"), fg.Input("y")
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.MaxPool2d(2), nn.ReLU(),    # 4 x 4 x 4
        nn.Conv2d(4, 8, 3, padding=1, rng=1), nn.AvgPool2d(2), nn.ReLU(),    # 8 x 2 x 2
        nn.Flatten(), nn.Linear(32, 10, rng=2),
    )  # fmt: skip
    return classifier(net(x), y)


def char_mlp(block_size: int = 3, dim: int = 4, hidden: int = 32):
    """Bengio et al. (2003): embed each of the block_size previous letters, concatenate,
    one tanh layer, scores of the next letter."""
    ctx, nxt = fg.Input("x"), fg.Input("y")
    V = len(datasets.ALPHABET)
    C = nn.Embedding(V, dim, rng=0)
    fc1, fc2 = nn.Linear(block_size * dim, hidden, rng=1), nn.Linear(hidden, V, rng=2)
    emb = C(ctx)  # (N, block_size, dim)
    h = fg.tanh(fc1(nn.Flatten()(emb)))  # emb.view(N, -1) in torch
    return classifier(fc2(h), nxt)


def recurrent(cell_name: str, steps: int = 5, hidden: int = 12):
    """A cell unrolled over ``steps`` time steps of x (N, steps, 1) from a zero state; the
    last state classifies the sequence."""
    x, y = fg.Input("x"), fg.Input("y")
    cell = getattr(nn, cell_name)(1, hidden, rng=0)
    head = nn.Linear(hidden, steps + 1, rng=1)
    h = np.zeros((1, hidden), np.float32)  # broadcast over the batch, as torch.zeros(N, H)
    state = (h, h) if cell_name == "LSTMCell" else h
    for t in range(steps):
        state = cell(x[:, t], state)
    last = state[0] if cell_name == "LSTMCell" else state
    return classifier(head(last), y)


def logistic_regression():
    x, y = fg.Input("x"), fg.Input("y")
    lin = nn.Linear(64, 1, rng=0)
    a = lin(x)[:, 0]  # .squeeze(1)
    return fg.Model(loss=fg.sigmoid_cross_entropy(a, y), output=fg.sigmoid(a))


def count_ones(n: int, steps: int = 5, seed: int = 0):
    """Sequences of 0/1 (n, steps, 1) labelled with how many ones they hold (0..steps)."""
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, steps, 1))
    return bits.astype(np.float32), bits.sum(axis=(1, 2))


def words_data(n_words: int = 150):
    return datasets.char_contexts(datasets.make_words(n_words, seed=0), block_size=3)


def digits_zero_or_not(n: int = 400):
    X, y = datasets.load_digits()
    return (X[:n] / 16).astype(np.float32), (y[:n] == 0).astype(np.int64)


# name: (builder, data, optimiser, learning rate, epochs)
MODELS = {
    "convnet on the digits": (convnet, lambda: digits_images(800), fg.Adam, 0.02, 5),
    "Bengio's character MLP": (char_mlp, words_data, fg.Adam, 0.01, 4),
    "RNN cell over a sequence": (lambda: recurrent("RNNCell"), lambda: count_ones(400),
                                 fg.Adam, 0.02, 4),
    "GRU cell over a sequence": (lambda: recurrent("GRUCell"), lambda: count_ones(400),
                                 fg.Adam, 0.02, 4),
    "LSTM cell over a sequence": (lambda: recurrent("LSTMCell"), lambda: count_ones(400),
                                  fg.Adam, 0.02, 4),
    "logistic regression": (logistic_regression, digits_zero_or_not, fg.SGD, 0.5, 4),
}  # fmt: skip


def trained(name):
    build, data, Optimiser, lr, epochs = MODELS[name]
    model = build()
    X, y = data()
    history = fg.train(
        model,
        (X, y),
        epochs=epochs,
        batch_size=32,
        optimizer=Optimiser(model.parameters, lr=lr),
        progress=False,
    )
    return model, X, y, history


@pytest.mark.parametrize("name", list(MODELS))
def test_model_trains_checks_and_round_trips(name, tmp_path):
    model, X, y, history = trained(name)
    # training: the loss goes down, and well below where it started
    losses = history.train_loss
    assert losses[-1] < 0.9 * losses[0], losses
    assert np.all(np.isfinite(losses))
    # the gradients of every parameter (and each box on its own) against central differences
    report = fg.check_graph(model.train_graph, model.as_feed((X[:6], y[:6])))
    assert report.ok, report
    # saved and loaded: the same graph, the same predictions
    path = tmp_path / "model.npz"
    fg.save_model(model, path)
    back = fg.load_model(path)
    assert [p.name for p in back.parameters] == [p.name for p in model.parameters]
    assert [type(n.box).__name__ for n in back.graph.order if n.box is not None] == [
        type(n.box).__name__ for n in model.graph.order if n.box is not None
    ]
    np.testing.assert_array_equal(back.forward(X[:50]), model.forward(X[:50]))
    assert back.loss_value(X[:50], y[:50]) == model.loss_value(X[:50], y[:50])


def test_the_convnet_learns_the_digits():
    model, X, y, _ = trained("convnet on the digits")
    X_te, y_te = digits_images(1000)
    assert model.error(X_te[800:], y_te[800:]) < 0.3  # chance: 0.9


def test_the_character_model_beats_the_letter_frequencies():
    model, X, y, history = trained("Bengio's character MLP")
    counts = np.bincount(y, minlength=len(datasets.ALPHABET)) + 1e-12
    p = counts / counts.sum()
    unigram = -np.sum(p * np.log(np.where(p > 0, p, 1)))  # the loss of the letter frequencies
    assert history.train_loss[-1] < unigram


def test_a_cell_is_one_set_of_parameters_shared_over_time():
    model = recurrent("GRUCell", steps=5)
    assert sorted(p.name for p in model.parameters) == sorted(
        ["grucell.weight_ih", "grucell.weight_hh", "grucell.bias_ih", "grucell.bias_hh",
         "linear.weight", "linear.bias"])  # fmt: skip
    time_steps = [n for n in model.graph.order if type(n.box).__name__ == "GetItem"]
    assert len(time_steps) == 5  # x[:, t], one node per step


def test_recurrent_model_predicts_counts():
    model, _, _, _ = trained("GRU cell over a sequence")
    X_te, y_te = count_ones(200, seed=1)
    assert model.error(X_te, y_te) < 0.6  # chance: about 0.69 (the commonest count, 2 or 3)


def test_logistic_regression_separates_zeros():
    model, X, y, _ = trained("logistic regression")
    X_te, y_te = digits_zero_or_not(800)
    p = model.forward(X_te[400:])
    assert p.shape == (400,)
    assert np.mean((p > 0.5) != y_te[400:]) < 0.05


def test_a_vae_with_the_reparametrisation_trick_trains_checks_and_round_trips(tmp_path):
    """Kingma and Welling's VAE on the digits: z = mu + exp(logvar / 2) * eps, the noise eps a
    node of the graph (fg.normal_like: drawn from the step's generator, which fg.train seeds
    per step), the loss the reconstruction's cross-entropy plus the KL divergence to N(0, I)."""
    X = 0.05 + 0.9 * datasets.load_digits()[0][:300] / 16  # (targets inside (0, 1))
    x = fg.Input("x")
    encode = nn.Linear(64, 16, rng=0, dtype=np.float64, name="enc")
    to_mu = nn.Linear(16, 2, rng=1, dtype=np.float64, name="mu")
    to_logvar = nn.Linear(16, 2, rng=2, dtype=np.float64, name="logvar")
    decode = nn.Sequential(nn.Linear(2, 16, rng=3, dtype=np.float64), nn.Tanh(),
                           nn.Linear(16, 64, rng=4, dtype=np.float64), name="dec")
    h = fg.tanh(encode(x))
    mu, logvar = to_mu(h), to_logvar(h)
    z = mu + fg.exp(0.5 * logvar) * fg.normal_like(mu)  # the reparametrisation trick
    logits = decode(z)
    recon = fg.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 300.0
    kl = -0.5 * (1 + logvar - mu**2 - fg.exp(logvar)).sum(axis=1).mean()
    model = fg.Model(loss=recon + kl, output=fg.sigmoid(logits), classifier=False)
    history = fg.train(model, {"x": X}, epochs=8, batch_size=32, seed=0, progress=False,
                       optimizer=fg.Adam(model.parameters, lr=0.01))
    assert history.train_loss[-1] < 0.9 * history.train_loss[0], history.train_loss
    graph = model.train_graph
    graph.fprop({x: X[:8]}, rng=np.random.default_rng(1))  # one draw of eps, then held
    assert fg.check_graph(graph, {x: X[:8]}).ok
    path = tmp_path / "vae.npz"
    fg.save_model(model, path)
    back = fg.load_model(path)
    np.testing.assert_array_equal(back.forward(X[:20]), model.forward(X[:20]))
