"""fg.nn layers against torch.nn in float64: the same weights (copied across with
load_state_dict), the same outputs and the same gradients of every Parameter."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import nn

torch = pytest.importorskip("torch")


def _copy_from_torch(layer, tlayer):
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()})


def _compare(layer, tlayer, feed_arrays, call, tcall, atol=1e-10):
    """Build the graph, fprop/bprop sum(out * G) and compare with torch."""
    torch.manual_seed(0)
    _copy_from_torch(layer, tlayer.double())
    inputs = [fg.Input(f"x{i}") for i in range(len(feed_arrays))]
    out = call(layer, *inputs)
    G = np.random.default_rng(1).standard_normal
    y_t = tcall(tlayer, *[torch.tensor(a) for a in feed_arrays])
    Gv = G(tuple(y_t.shape))
    graph = fg.Graph((out * Gv).sum())
    graph.fprop(dict(zip(inputs, feed_arrays)))
    graph.bprop()
    np.testing.assert_allclose(out.value, y_t.detach().numpy(), atol=atol)
    tgrads = torch.autograd.grad(y_t, list(tlayer.parameters()), torch.tensor(Gv))
    named = dict(layer.named_parameters())
    for (k, _), tg in zip(tlayer.named_parameters(), tgrads):
        np.testing.assert_allclose(named[k].grad, tg.numpy(), atol=atol, err_msg=k)


def test_linear_matches_torch():
    X = np.random.default_rng(0).standard_normal((5, 4))
    _compare(nn.Linear(4, 3, dtype=np.float64), torch.nn.Linear(4, 3), [X],
             lambda m, x: m(x), lambda m, x: m(x))


def test_linear_without_bias_and_torch_layouts():
    layer = nn.Linear(4, 3, bias=False, rng=0)
    assert layer.weight.value.shape == (3, 4) and layer.bias is None
    assert [k for k, _ in layer.named_parameters()] == ["weight"]
    X = np.random.default_rng(0).standard_normal((5, 4))
    _compare(nn.Linear(4, 3, bias=False, dtype=np.float64), torch.nn.Linear(4, 3, bias=False),
             [X], lambda m, x: m(x), lambda m, x: m(x))


def test_embedding_matches_torch_with_repeated_indices():
    idx = np.array([[0, 4, 4], [1, 0, 4]])
    _compare(nn.Embedding(5, 3, dtype=np.float64), torch.nn.Embedding(5, 3), [idx],
             lambda m, i: m(i), lambda m, i: m(i))


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_conv2d_matches_torch(stride, padding):
    X = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    _compare(nn.Conv2d(3, 4, 3, stride, padding, dtype=np.float64),
             torch.nn.Conv2d(3, 4, 3, stride, padding), [X], lambda m, x: m(x), lambda m, x: m(x))


def test_layer_norm_matches_torch():
    X = np.random.default_rng(0).standard_normal((4, 3, 5))
    tl = torch.nn.LayerNorm((3, 5))
    with torch.no_grad():  # not the defaults 1 and 0, so that the affine part is tested
        tl.weight.normal_()
        tl.bias.normal_()
    _compare(nn.LayerNorm((3, 5), dtype=np.float64), tl, [X], lambda m, x: m(x),
             lambda m, x: m(x))


def test_sequential_keys_and_output_match_torch():
    X = np.random.default_rng(0).standard_normal((5, 4))
    ours = nn.Sequential(nn.Linear(4, 8, dtype=np.float64), nn.Tanh(),
                         nn.Linear(8, 2, dtype=np.float64))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _compare(ours, theirs, [X], lambda m, x: m(x), lambda m, x: m(x))


@pytest.mark.parametrize("cell", ["RNNCell", "GRUCell"])
def test_recurrent_cells_unrolled_match_torch(cell):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4, 5))  # (T, N, D)
    H0 = rng.standard_normal((4, 6))

    def ours(m, x, h):
        for t in range(3):
            h = m(x[t], h)
        return h

    def theirs(m, x, h):
        for t in range(3):
            h = m(x[t], h)
        return h

    _compare(getattr(nn, cell)(5, 6, dtype=np.float64), getattr(torch.nn, cell)(5, 6),
             [X, H0], ours, theirs)


def test_lstm_cell_matches_torch():
    rng = np.random.default_rng(0)
    X, H0, C0 = rng.standard_normal((3, 4, 5)), rng.standard_normal((4, 6)), \
        rng.standard_normal((4, 6))

    def ours(m, x, h, c):
        for t in range(3):
            h, c = m(x[t], (h, c))
        return h + 2 * c

    def theirs(m, x, h, c):
        for t in range(3):
            h, c = m(x[t], (h, c))
        return h + 2 * c

    _compare(nn.LSTMCell(5, 6, dtype=np.float64), torch.nn.LSTMCell(5, 6), [X, H0, C0], ours,
             theirs)


def test_a_layer_called_twice_shares_its_parameters_and_sums_gradients():
    layer = nn.Linear(3, 3, dtype=np.float64, rng=0, name="shared")
    x = fg.Input("x")
    graph = fg.Graph(layer(fg.tanh(layer(x))).sum())
    assert [p.name for p in graph.parameters] == ["shared.weight", "shared.bias"]
    assert fg.check_graph(graph, {x: np.random.default_rng(1).standard_normal((4, 3))}).ok


def test_two_unnamed_layers_get_distinct_parameter_names():
    x = fg.Input("x")
    graph = fg.Graph(nn.Linear(3, 2, rng=1)(nn.Linear(3, 3, rng=0)(x)).sum())
    names = [p.name for p in graph.parameters]
    assert len(set(names)) == 4


def test_load_state_dict_refuses_wrong_keys_and_shapes():
    layer = nn.Linear(4, 3, rng=0)
    with pytest.raises(KeyError, match="missing \\['bias'\\]"):
        layer.load_state_dict({"weight": np.zeros((3, 4))})
    with pytest.raises(fg.ShapeError, match="weight has shape \\(3, 4\\), got \\(4, 3\\)"):
        layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": np.zeros(3)})


def test_initialisations_follow_torch_bounds():
    layer = nn.Conv2d(3, 8, 5, rng=0)
    bound = 1 / np.sqrt(3 * 25)
    assert np.abs(layer.weight.value).max() <= bound
    assert np.abs(layer.weight.value).max() > 0.9 * bound
    assert layer.weight.value.dtype == np.float32
    assert np.array_equal(nn.Linear(4, 3, rng=5).weight.value, nn.Linear(4, 3, rng=5).weight.value)


@pytest.mark.parametrize("fn", ["kaiming_uniform", "kaiming_normal"])
@pytest.mark.parametrize("shape, nl, a", [((64, 32), "relu", 0.0), ((16, 8, 3, 3), "leaky_relu",
                                          np.sqrt(5.0)), ((32, 64), "tanh", 0.0)])
def test_kaiming_initialisers_have_torch_spread(fn, shape, nl, a):
    ours = getattr(fg.init, fn)(shape, rng=0, a=a, nonlinearity=nl, dtype=np.float64)
    t = torch.empty(shape, dtype=torch.float64)
    getattr(torch.nn.init, fn + "_")(t, a=a, nonlinearity=nl)
    assert ours.shape == shape
    assert abs(ours.std() / t.std().item() - 1) < 0.15
    if fn == "kaiming_uniform":
        bound = fg.init.gain(nl, a) * np.sqrt(3 / fg.init.fans(shape)[0])
        assert np.abs(ours).max() <= bound
