"""The numerics family: issue 21's silent wrong numbers as properties, in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .harness import Case, Outcome, attempt


def grad_of_power(n: float, at: float) -> str | None:
    """d/dx sum(x ** n) at x = ``at`` is n at^(n-1) (0 for n = 0, as torch says)."""
    import flowgraph as fg

    x = fg.Parameter(np.full(3, at), "x")
    graph = fg.Graph(fg.sum(x**n))
    graph.fprop({})
    graph.bprop()
    want = 0.0 if n == 0 else n * at ** (n - 1)
    got = np.asarray(x.grad)
    return None if np.allclose(got, want) else f"gradient {got[0]} (want {want})"


def half_precision_loss(kind: str, n: int) -> str | None:
    """A float16 loss over N examples agrees with the float64 one (to float16's precision),
    in float16, and so does its gradient."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    scores = rng.standard_normal((n, 3))
    labels = rng.integers(0, 3, n)
    results = {}
    for dtype in (np.float16, np.float64):
        a = fg.Parameter(scores.astype(dtype), "a")
        y = fg.Input("y")
        if kind == "softmax":
            loss = fg.softmax_cross_entropy(a, y)
            feed = {y: labels}
        elif kind == "sigmoid":
            loss = fg.sigmoid_cross_entropy(a, y)
            feed = {y: (labels[:, None] == np.arange(3)).astype(np.int64)}
        else:
            loss = fg.squared_error(a, y)
            feed = {y: np.zeros((n, 3), dtype)}
        graph = fg.Graph(loss)
        value = np.asarray(graph.fprop(feed))
        graph.bprop()
        results[dtype] = (value, np.asarray(a.grad))
    (v16, g16), (v64, g64) = results[np.float16], results[np.float64]
    if v16.dtype != np.float16:
        return f"the loss is {v16.dtype}, not float16"
    if not abs(float(v16) - float(v64)) <= 1e-2 * abs(float(v64)):
        return f"loss {float(v16)} in float16, {float(v64)} in float64"
    if not np.allclose(g16.astype(np.float64), g64, rtol=2e-2, atol=1e-7):
        return f"gradient off: max |g16 - g64| = {np.max(np.abs(g16 - g64)):.3g}"
    return None


def mixed_precision(kind: str) -> str | None:
    """A parameter's gradient has its dtype; a box keeps its input's dtype."""
    import flowgraph as fg

    x = fg.Input("x")
    X = np.ones((4, 3))  # float64 data
    if kind == "leaky_relu float16":
        h = fg.Parameter(np.ones((4, 3), np.float16), "h")
        out = fg.Graph(fg.leaky_relu(h)).fprop({})
        return None if out.dtype == np.float16 else f"LeakyReLU gives {out.dtype}"
    dtype = np.float32 if "float32" in kind else np.float16
    W = fg.Parameter(np.ones((2, 3), dtype), "W")
    b = fg.Parameter(np.zeros(2, dtype), "b")
    node = fg.Linear()(x, W, b) if kind.startswith("Linear") else x @ W.T
    graph = fg.Graph(fg.sum(node))
    graph.fprop({x: X})
    graph.bprop()
    return None if W.grad.dtype == dtype else f"W is {np.dtype(dtype)}, its gradient {W.grad.dtype}"


def wrong_gradient_shape() -> str | None:
    """A box whose bprop forgets to sum the bias gradient over the batch: a BoxError naming
    the shapes at bprop, not a broadcasting error later."""
    import flowgraph as fg

    class AddBias(fg.Box):
        arity, input_names = 2, ("x", "b")

        def fprop(self, x, b):
            return x + b

        def bprop(self, inputs, y, grad_y):
            return grad_y, grad_y  # grad_b should be grad_y.sum(0)

    x, b = fg.Input("x"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.sum(AddBias()(x, b)))
    graph.fprop({x: np.ones((4, 3))})
    try:
        graph.bprop()
    except fg.BoxError as e:
        return None if "(3,)" in str(e) and "(4, 3)" in str(e) else f"BoxError without shapes: {e}"
    return f"accepted: b.grad has shape {np.shape(b.grad)} for a (3,) parameter"


def config_less_box(folder: Path) -> str | None:
    """A box with constructor arguments (with defaults) and no config() is refused at save."""
    import flowgraph as fg

    class Times(fg.Box):
        input_names = ("x",)

        def __init__(self, k=1.0):
            self.k = k

        def fprop(self, x):
            return self.k * x

        def bprop(self, inputs, y, grad_y):
            return (self.k * grad_y,)

    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(np.ones((2, 2)), "W")
    model = fg.Model(fg.squared_error(Times(3.0)(x @ W.T), y))
    try:
        model.save(folder / "times.npz")
    except (fg.FlowgraphError, TypeError, ValueError) as e:
        return None if "config" in str(e) else f"refused without naming config(): {e}"
    return "saved; it loads as another model (Times rebuilt without k)"


def jvp_with_preprocessing() -> str | None:
    """fg.jvp on a model applies its preprocessing, as Model.loss_value does."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)) * 5 + 3, rng.integers(0, 2, 20)
    model = fg.mlp([2, 3, 2], dtype=np.float64)
    model.preprocessing = fg.Preprocessing("scale", factor=0.1)
    want = model.loss_value(X, y)
    feed = {"x": X, "y": y}  # raw data, as for loss_value
    values, _ = fg.jvp(model, feed, {model.parameters[0]: np.zeros(model.parameters[0].shape)})
    got = float(np.ravel(values[0] if isinstance(values, (list, tuple)) else values)[0])
    return None if abs(got - want) < 1e-9 else f"jvp's loss {got:.4f}, loss_value {want:.4f}"


def train_error_of_other_output() -> str | None:
    """history.train_error is a number when the output's softmax reads another node."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    x, t = fg.Input("x"), fg.Input("y")
    V = fg.Parameter(rng.standard_normal((3, 2)), "V")
    model = fg.Model(loss=fg.softmax_cross_entropy(x @ V.T, t), output=fg.softmax(x @ V.T))
    history = fg.train(
        model,
        (X, y),
        epochs=1,
        batch_size=10,
        optimizer=fg.SGD(model.parameters, lr=0.1),
        progress=False,
    )
    error = history.train_error[-1]
    return None if np.isfinite(error) else f"train_error {error} (model.error works)"


def concat_axis() -> str | None:
    """fg.concat's default axis is NumPy's (0), as its docstring says."""
    import flowgraph as fg

    a, b = fg.Input("a"), fg.Input("b")
    out = fg.Graph(fg.concat([a, b])).fprop({a: np.ones((2, 3)), b: np.ones((2, 3))})
    want = np.concatenate([np.ones((2, 3))] * 2).shape
    return None if out.shape == want else f"shape {out.shape}, np.concatenate gives {want}"


def impossible_axis() -> str | None:
    """x.sum(0) on a 0-d node is refused where it is built, not in bprop."""
    import flowgraph as fg

    p = fg.Parameter(np.array(2.0), "p")
    try:
        node = p.sum(0)
    except (fg.FlowgraphError, ValueError) as e:
        return None if "axis" in str(e) else f"refused without naming the axis: {e}"
    graph = fg.Graph(node)
    graph.fprop({})
    graph.bprop()
    return "accepted at construction"


def numerics_cases(work: Path) -> list[Case]:
    cases = [
        Case("numerics", f"d/dx x**{n} at {at}", lambda n=n, at=at: grad_of_power(n, at))
        for n, at in [
            (0, 0.0),
            (0, 2.0),
            (1, 0.0),
            (2, 0.0),
            (3, 0.0),
            (0.5, 1.0),
            (0, -1.0),
            (2, -1.5),
        ]
    ]
    for kind in ("softmax", "sigmoid", "squared"):
        for n in (1_000, 70_000, 300_000):
            cases.append(
                Case(
                    "numerics",
                    f"float16 {kind} loss at N = {n}",
                    lambda k=kind, n=n: half_precision_loss(k, n),
                )
            )
    for kind in (
        "Linear float32",
        "Linear float16",
        "@ float32",
        "@ float16",
        "leaky_relu float16",
    ):
        cases.append(Case("numerics", f"dtype: {kind}", lambda k=kind: mixed_precision(k)))
    cases += [
        Case("numerics", "a bias gradient of the wrong shape", wrong_gradient_shape),
        Case("numerics", "a box without config()", lambda: config_less_box(work)),
        Case("numerics", "jvp applies preprocessing", jvp_with_preprocessing),
        Case("numerics", "train_error with another output", train_error_of_other_output),
        Case("numerics", "concat's default axis", concat_axis),
        Case("numerics", "sum(0) of a 0-d node", impossible_axis),
    ]
    return cases


def run_numerics(work: Path, limit: int | None) -> list[Outcome]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [attempt(c) for c in numerics_cases(work)[:limit]]
