"""flowgraph.analysis.hessian: H and H v, exact (the R-operator) and by finite differences."""

import importlib
import types
import warnings
from collections.abc import Mapping

import numpy as np
import pytest
from analysis_graphs import (
    TiedTranspose,
    TiedTransposeWithRules,
    autoencoder,
    data,
    quadratic_graph,
    quadratic_hessian,
)

import flowgraph as fg
from flowgraph import analysis as A


@pytest.mark.parametrize("method", ["exact", "fd"])
def test_hessian_of_a_quadratic_is_exact(method):
    graph, feed, X, _ = quadratic_graph()
    H = A.hessian(graph, feed=feed, method=method)
    np.testing.assert_allclose(H, quadratic_hessian(X, 2), rtol=0, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_the_two_hessian_methods_agree(activation):
    X, y = data()
    model = fg.mlp([3, 4, 3], activation, l2=0.01, l1=0.003, dtype=np.float64, seed=2)
    He = A.hessian(model, X, y, method="exact")
    Hf = A.hessian(model, X, y, method="fd")
    assert np.abs(He - He.T).max() < 1e-12  # the R-operator's Hessian is symmetric
    np.testing.assert_allclose(He, Hf, rtol=0, atol=1e-7)
    assert np.abs(He).max() > 0.05  # a real Hessian, not zeros agreeing with zeros


def test_hessian_through_separate_softmax_and_crossentropy():
    rng = np.random.default_rng(3)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    b = fg.Parameter(rng.standard_normal(3), "b")
    V = fg.Parameter(rng.standard_normal((3, 3)), "V")
    c = fg.Parameter(np.zeros(3), "c")
    h = fg.Sigmoid()(fg.Linear()(x, W, b))
    f = fg.Softmax()(fg.Linear()(h, V, c))
    loss = fg.Add()(fg.CrossEntropy()(f, y), fg.Scale(0.1)(fg.L2Penalty()(W, V)))
    feed = {x: rng.standard_normal((10, 2)), y: rng.integers(0, 3, 10)}
    graph = fg.Graph(loss)
    np.testing.assert_allclose(
        A.hessian(graph, feed=feed), A.hessian(graph, feed=feed, method="fd"), atol=1e-7
    )


@pytest.mark.parametrize("method", ["exact", "fd"])
def test_hvp_equals_hessian_times_v(method):
    X, y = data()
    model = fg.mlp([3, 5, 3], l2=0.01, dtype=np.float64, seed=0)
    before = A.flatten(model)
    H = A.hessian(model, X, y)
    v = np.random.default_rng(0).standard_normal(H.shape[0])
    np.testing.assert_allclose(A.hvp(model, X, y, v, method=method), H @ v, atol=1e-7)
    np.testing.assert_array_equal(A.flatten(model), before)  # parameters left as they were


def test_a_box_without_forward_rules_falls_back_on_finite_differences_and_says_so():
    class Cube(fg.Box):
        def fprop(self, a):
            return a**3

        def bprop(self, inputs, out, g):
            return (3 * inputs[0] ** 2 * g,)

    x = fg.Input("x")
    W = fg.Parameter(np.linspace(-1, 1, 4).reshape(2, 2), "W")
    loss = fg.L2Penalty()(Cube()(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b"))))
    graph = fg.Graph(loss)
    feed = {x: np.ones((3, 2))}
    assert A.missing_jvp_rules(graph) == ["'cube1' (Cube)"]
    with pytest.warns(A.HessianFallbackWarning, match=r"Cube .*no forward-mode rules"):
        H = A.hessian(graph, feed=feed)
    np.testing.assert_allclose(H, A.hessian(graph, feed=feed, method="fd"), rtol=1e-12)
    assert H.shape == (6, 6) and np.abs(H).max() > 1
    v = np.arange(6.0)
    with pytest.warns(A.HessianFallbackWarning):
        np.testing.assert_allclose(A.hvp(graph, feed=feed, v=v), H @ v, rtol=1e-5, atol=1e-6)
    with pytest.warns(A.HessianFallbackWarning):
        spec = A.spectrum(graph, feed=feed)
    assert spec.method == "fd" and "finite differences" in str(spec)
    with pytest.warns(A.HessianFallbackWarning):
        step = A.newton_step(graph, feed=feed, apply=False)
    assert step.method == "fd" and step.counts == spec.counts
    # a box only on the way of the data (no parameter below it) needs no rules
    data_side = fg.Graph(fg.L2Penalty()(fg.Linear()(Cube()(x), W, fg.Parameter(np.ones(2), "c"))))
    assert A.missing_jvp_rules(data_side) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.hessian(data_side, feed=feed)


@pytest.mark.parametrize("name", ["hessian", "spectrum", "newton", "directional"])
def test_the_second_order_modules_keep_no_table_of_boxes(name):
    """Each box carries its own forward-mode rules: no module of the analysis maps boxes to
    rules. (``import flowgraph.analysis.hessian as m`` would give the function: the package's
    name ``hessian`` hides the module, so the module is looked up by its full name.)"""
    module = importlib.import_module(f"flowgraph.analysis.{name}")
    assert isinstance(module, types.ModuleType) and module.__name__.endswith(name)
    boxes = {c for c in vars(fg).values() if isinstance(c, type) and issubclass(c, fg.Box)}
    for attr, value in vars(module).items():
        if isinstance(value, Mapping) and not attr.startswith("__"):
            entries = [*value, *value.values()]
            assert not [e for e in entries if isinstance(e, type) and e in boxes], attr
    assert not hasattr(module, "R_RULES")
    assert all(c.has_jvp() for c in (fg.Linear, fg.Tanh, fg.SoftmaxCrossEntropy, fg.Scale))


def test_float32_models_are_analysed_in_float64():
    X, y = data()
    m32 = fg.mlp([3, 4, 3], seed=0)
    m64 = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    np.testing.assert_allclose(A.hessian(m32, X, y), A.hessian(m64, X, y), atol=1e-6)
    assert m32.dtype == np.float32


def test_exact_hessian_of_an_autoencoder_with_tied_weights():
    assert fg.check_jvp(TiedTransposeWithRules()).ok
    graph, feed = autoencoder()
    assert A.missing_jvp_rules(graph) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact: no fallback
        He = A.hessian(graph, feed=feed)
    Hf = A.hessian(graph, feed=feed, method="fd")
    assert He.shape == (14, 14) and np.abs(He - He.T).max() < 1e-12
    np.testing.assert_allclose(He, Hf, rtol=0, atol=1e-6 * np.abs(He).max())
    v = np.random.default_rng(1).standard_normal(14)
    exact, fd = A.hvp(graph, feed=feed, v=v), A.hvp(graph, feed=feed, v=v, method="fd")
    assert np.linalg.norm(exact - fd) <= 1e-6 * np.linalg.norm(exact)
    np.testing.assert_allclose(exact, He @ v, rtol=1e-10, atol=1e-12)


def test_an_autoencoder_box_without_rules_falls_back_and_says_so():
    ruled, feed = autoencoder()
    plain, _ = autoencoder(transpose=TiedTranspose)
    assert A.missing_jvp_rules(plain) == ["'tiedtranspose1' (TiedTranspose)"]
    with pytest.warns(A.HessianFallbackWarning, match="TiedTranspose"):
        H = A.hessian(plain, feed=feed)
    He = A.hessian(ruled, feed=feed)
    np.testing.assert_allclose(H, He, rtol=0, atol=1e-6 * np.abs(He).max())
    with pytest.warns(A.HessianFallbackWarning):
        top = A.top_eigenvalues(plain, feed=feed)
    np.testing.assert_allclose(top, np.linalg.eigvalsh(He)[-1:], rtol=1e-6)


def test_a_float32_graph_is_analysed_in_float64_and_left_in_float32():
    g32, feed32 = autoencoder(dtype=np.float32)
    g64, feed64 = autoencoder(dtype=np.float64)
    before = [p.value.copy() for p in g32.parameters]
    np.testing.assert_allclose(
        A.hessian(g32, feed=feed32), A.hessian(g64, feed=feed64), rtol=0, atol=1e-5
    )
    for p, b in zip(g32.parameters, before):
        assert p.value.dtype == np.float32
        np.testing.assert_array_equal(p.value, b)
    damping = 0.1 - min(0.0, A.spectrum(g32, feed=feed32).eigenvalues.min())
    step = A.newton_step(g32, feed=feed32, damping=damping)
    assert step.positive_definite and step.applied and step.loss_after < step.loss_before
    assert step.applied and all(p.value.dtype == np.float32 for p in g32.parameters)
    with pytest.raises(A.AnalysisError, match="v must have shape"):
        A.hvp(g32, feed=feed32, v=np.ones(3))
    assert all(p.value.dtype == np.float32 for p in g32.parameters)


def test_second_order_tools_on_the_autoencoder_written_with_operators():
    """x_hat = tanh(x W^T + b) W + c with the box library's operators (MatMul, Transpose, Sum,
    Mean...): the same Hessian as the hand-built graph, exactly, and the tools agree."""
    graph, feed = autoencoder()
    x = fg.Input("x")
    W, b, c = (fg.Parameter(graph[name].value, name) for name in ("W", "b", "c"))
    x_hat = fg.tanh(x @ W.T + b) @ W + c
    loss = ((x_hat - x) ** 2).sum(axis=1).mean() * 0.5
    ops = fg.Graph(loss)
    assert A.missing_jvp_rules(ops) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every box on the way has its forward-mode rules
        H = A.hessian(ops, feed)
    np.testing.assert_allclose(H, A.hessian(graph, feed=feed), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        H, A.hessian(ops, feed, method="fd"), rtol=0, atol=1e-6 * np.abs(H).max()
    )
    np.testing.assert_allclose(A.top_eigenvalues(ops, feed), np.linalg.eigvalsh(H)[-1:], rtol=1e-8)
    assert A.spectrum(ops, feed).counts == A.newton_step(ops, feed, apply=False).counts
