"""Models: a graph together with its roles. ``Model(loss=..., output=...)`` wraps any graph;
``mlp`` builds the lecture's multilayer network as one such Model:

    a(k)(x) = b(k) + W(k) h(k-1)(x)         k = 1 .. L+1,   h(0)(x) = x
    h(k)(x) = g(a(k)(x))                     k = 1 .. L
    f(x)    = softmax(a(L+1)(x))
    loss    = 1/N sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)|

(penalties on the weights only, never the biases).

Data reaches a Model as a *feed*: a dict from Input names (or Input nodes) to arrays whose
first axis runs over the examples t = 1 .. N, all of the same length N. ``(X, y)`` is short for
``{"x": X, "y": y}`` on a model whose Inputs are named x and y (as ``mlp``'s are). A model
with a ``preprocessing`` applies it to x where data becomes a feed (:meth:`Model.as_feed`),
once: every method that takes data takes it raw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import init as initializers
from .boxes import (
    Add,
    Identity,
    L1Penalty,
    L2Penalty,
    Linear,
    ReLU,
    Scale,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)
from .core import Graph, Input, Node, Parameter
from .errors import DataError, FeedError, FlowgraphError, GraphError, LabelError, ModelError
from .preprocessing import Preprocessing

__all__ = ["ACTIVATIONS", "Feed", "Model", "MLP", "mlp"]

ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "identity": Identity}


def _first_bad(a: np.ndarray) -> tuple[int, ...]:
    """The index of the first NaN or inf of ``a`` (row-major), as a tuple."""
    flat = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
    return tuple(int(i) for i in np.unravel_index(flat, a.shape))


def check_labels(y: Any, n: int, n_classes: int | None, what: str, *, whole_floats: bool = False):
    """Class labels as an int64 array of shape (n,), or a LabelError saying what is wrong.

    Nothing is broadcast: a column (n, 1), another length, floats (unless ``whole_floats``
    and every value is a whole number), strings or booleans are refused, and so are labels
    outside [0, n_classes) when the class count is known."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        hint = " (a column: pass y.ravel())" if y.shape == (n, 1) else ""
        raise LabelError(f"{what}: labels y must have shape ({n},), got {y.shape}{hint}")
    if y.dtype.kind not in "iu":
        whole = y.dtype.kind == "f" and bool(np.all(np.isfinite(y))) and bool(np.all(y % 1 == 0))
        if not (whole_floats and whole):
            raise LabelError(
                f"{what}: labels y must be integers, got dtype {y.dtype}"
                + (" (convert with y.astype(int))" if whole else "")
            )
    if n and n_classes is not None and (y.min() < 0 or y.max() >= n_classes):
        raise LabelError(
            f"{what}: labels must lie in [0, {n_classes}), found {y.min()}..{y.max()}"
        )
    return y.astype(np.int64, copy=False)


class Feed(dict):
    """A feed as :meth:`Model.as_feed` returns it: ``{Input: array}`` as the graph reads it,
    checked, in the model's dtype, with the model's preprocessing already applied to x (x').

    Given back to the model that made it (to ``forward``, ``error``, ``evaluate``,
    ``fg.train``, ...), a Feed is taken as it is: the preprocessing is never applied twice. Any
    other dict, a plain copy of a Feed included, is data as the user has it (raw)."""

    __slots__ = ("model", "checked")

    def __init__(self, items: Any = (), *, model: Model | None = None, checked: bool = False):
        super().__init__(items)
        self.model, self.checked = model, checked


class Model:
    """A graph together with its roles: what training, saving, evaluation and analysis work on.

    ``loss`` is the scalar node training minimises (the regularised empirical risk
    1/T sum_t l(f(x_t), y_t) + lambda Omega, averaged over the batch); ``output`` (optional) is
    the prediction f(x). The Inputs are found in the graph. Attributes: ``graph`` (outputs
    ``[loss, output]``), ``train_graph`` (reaches only the loss: training does not compute what
    it does not need), ``predict_graph`` (only the output: prediction needs no labels),
    ``inputs`` (every Input), ``features`` (those the output reads), ``targets`` (those only
    the loss reads), ``parameters``, ``metadata`` (saved with the model), ``config`` (what
    rebuilds it, for models made by a builder such as ``mlp``; empty otherwise).

    The output is a *classifier* when it gives class probabilities of shape (N, C): by
    default when its box is a Softmax (``classifier=`` says otherwise). A classifier has
    ``predict_proba``, ``predict`` (argmax_c f(x)_c) and ``error`` (the fraction of examples
    whose predicted class differs from its label); ``labels`` is the Input holding the
    integer labels y, by default the one target.

    ``preprocessing`` (a :class:`flowgraph.Preprocessing` or None, settable) is the model's
    own input pipeline, fitted on the training inputs and applied to the Input named ``x``:

        scale:        x' = c x
        standardize:  x'_j = (x_j - mu_j) / sigma_j        (mu, sigma of the training part)
        none / None:  x' = x

    Every method that takes data (``predict``, ``predict_proba``, ``forward``, ``error``,
    ``loss_value``, ``evaluate``, and ``fg.train`` for its training and validation data)
    takes x as the user has it and feeds x' to the graph, exactly once, where the data
    becomes a feed (:meth:`as_feed`). The graph itself, and so whatever works on it directly
    (``graph.fprop``, gradients with respect to its Input x, Hessians), lives in the x'
    space. ``save_model`` keeps the preprocessing with the model (also as
    ``metadata["preprocessing"]``) and ``load_model`` restores it. A model without an Input
    named x has no preprocessing: setting one is a ModelError.
    """

    def __init__(
        self,
        loss: Node,
        output: Node | None = None,
        *,
        labels: Input | str | None = None,
        classifier: bool | None = None,
    ):
        if not isinstance(loss, Node):
            raise GraphError(f"Model: loss must be a Node, got {type(loss).__name__}")
        if output is not None and not isinstance(output, Node):
            raise GraphError(f"Model: output must be a Node or None, got {type(output).__name__}")
        self.loss, self.output = loss, output
        outs = [loss] if output is None or output is loss else [loss, output]
        self.graph = Graph(outs)
        self.train_graph = Graph(loss)
        self.predict_graph = Graph(output) if output is not None else None
        self.inputs: list[Input] = list(self.graph.inputs)
        self.parameters: list[Parameter] = list(self.graph.parameters)
        read_by_output = {id(i) for i in (self.predict_graph.inputs if output is not None else [])}
        self.features = [i for i in self.inputs if id(i) in read_by_output]
        self.targets = [
            i for i in self.train_graph.inputs if id(i) not in read_by_output
        ]
        if classifier is None:
            classifier = output is not None and isinstance(output.box, Softmax)
        if classifier and output is None:
            raise ModelError("Model: classifier=True needs an output (the probabilities f(x))")
        self.classifier = bool(classifier)
        if isinstance(labels, str):
            labels = self._named_input(labels)
        if labels is not None and not any(labels is i for i in self.inputs):
            raise ModelError(f"Model: labels {labels!r} is not an Input of this model's graph")
        if labels is None and self.classifier:
            if len(self.targets) != 1:
                raise ModelError(
                    "Model: a classifier's error needs its labels: the loss reads "
                    f"{len(self.targets)} Inputs the output does not "
                    f"({[t.name for t in self.targets]}); pass labels=<the Input of labels y> "
                    "(or classifier=False for a Softmax output that is not a classifier's)"
                )
            labels = self.targets[0]
        self.labels: Input | None = labels
        self.config: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}  # saved with the model (dataset, split, metrics...)
        self._preprocessing: Preprocessing | None = None

    # -- what the model holds -------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """The parameters' float dtype (float64 for a model without parameters)."""
        return self.parameters[0].value.dtype if self.parameters else np.dtype(np.float64)

    def __getitem__(self, name: str) -> Node:
        return self.graph[name]

    def _named_input(self, name: str) -> Input:
        node = self.graph.nodes.get(name)
        if not isinstance(node, Input):
            raise ModelError(
                f"this model has no Input named {name!r}; its inputs are "
                f"{[i.name for i in self.inputs]}"
            )
        return node

    @property
    def x(self) -> Input:
        """The Input named ``x`` (the data, in ``mlp``'s naming)."""
        try:
            return self._named_input("x")
        except ModelError as e:
            raise AttributeError(str(e)) from None

    @property
    def y(self) -> Input:
        """The Input named ``y`` (the labels, in ``mlp``'s naming)."""
        try:
            return self._named_input("y")
        except ModelError as e:
            raise AttributeError(str(e)) from None

    @property
    def n_classes(self) -> int | None:
        """C, the number of classes, where the graph alone says it (None otherwise)."""
        return None

    @property
    def preprocessing(self) -> Preprocessing | None:
        """The input pipeline x -> x' applied to the Input x of all data given (see the class
        docstring); None: x is fed as it is. Setting it also sets (or, with None, removes)
        ``metadata["preprocessing"]``, its description."""
        return self._preprocessing

    @preprocessing.setter
    def preprocessing(self, pre: Preprocessing | None) -> None:
        if pre is not None:
            if not isinstance(pre, Preprocessing):
                raise TypeError(
                    f"model.preprocessing takes a flowgraph.Preprocessing or None, got "
                    f"{type(pre).__name__} (a description dict: Preprocessing.from_dict(d))"
                )
            if not any(i.name == "x" for i in self.inputs):
                raise ModelError(
                    f"a preprocessing applies to the Input named 'x', and this model's inputs "
                    f"are {[i.name for i in self.inputs]}: name the data Input 'x' "
                    "(fg.Input('x')), or preprocess the arrays yourself"
                )
            self._check_preprocessing(pre)
        self._preprocessing = pre
        if pre is None:
            self.metadata.pop("preprocessing", None)
        else:
            self.metadata["preprocessing"] = pre.to_dict()

    def _check_preprocessing(self, pre: Preprocessing) -> None:
        """Refuse a preprocessing that cannot take this model's inputs (where that is known)."""

    def __repr__(self) -> str:
        n = sum(p.value.size for p in self.parameters)
        out = f", output {self.output.name!r}" if self.output is not None else ""
        return (
            f"<Model loss {self.loss.name!r}{out}, inputs {[i.name for i in self.inputs]}: "
            f"{n} parameters>"
        )

    # -- feeds ---------------------------------------------------------------------------------
    def _prepare(self, node: Input, value: Any, what: str) -> np.ndarray:
        """One fed array, as the graph will see it: float data in the parameters' dtype."""
        a = np.asarray(value)
        if a.dtype.kind == "f" and a.dtype != self.dtype:
            a = a.astype(self.dtype)
        return a

    def _rows(self, node: Input, a: np.ndarray) -> np.ndarray:
        """An array of Input ``node`` with its rows made explicit (an MLP takes one row as a
        vector); here, as it is."""
        return a

    def _preprocess(self, node: Input, value: Any, what: str) -> np.ndarray:
        """x', from the array given for the Input x: the one place data meets the
        preprocessing. Non-numbers pass untouched (the feed check names them), and NaN or
        inf stay where they are (the feed check names the first)."""
        pre = self._preprocessing
        assert pre is not None
        a = self._rows(node, np.asarray(value))
        if a.dtype.kind not in "biuf":
            return a
        try:
            return pre.transform(a, check_finite=False)
        except (FlowgraphError, ValueError) as e:
            raise DataError(
                f"{what}: array {node.name!r} of shape {a.shape} does not fit the model's "
                f"preprocessing {pre!r}: {e}"
            ) from None

    def as_feed(
        self,
        data: Any,
        y: Any = None,
        *,
        graph: str = "train",
        what: str = "data",
        check: bool = True,
        preprocess: bool = True,
    ) -> Feed:
        """The feed ``{Input: array}`` for ``train_graph`` (``graph="train"``),
        ``predict_graph`` (``"predict"``) or the whole ``graph`` (``"all"``) from ``data``: a
        dict from Input names (or Inputs) to arrays, an ``(X, y)`` pair or ``X, y`` (for
        Inputs named x and y), or one array X when the output reads one Input. Keys naming
        Inputs the chosen graph does not read (the labels, for prediction) are left out.

        This is where the model's ``preprocessing`` meets the data: x becomes x' here, and
        only here (``preprocess=False``: the arrays are x' already, the graph's own input
        space). The result is a :class:`Feed`, which this model takes back as it is. With
        ``check`` the arrays are verified: numbers, a first axis of the same length N > 0
        everywhere, no NaN or inf, integer labels."""
        targets = {"train": self.train_graph, "predict": self.predict_graph, "all": self.graph}
        if graph not in targets:
            raise ValueError(f"graph must be 'train', 'predict' or 'all', got {graph!r}")
        target = targets[graph]
        if target is None:
            raise ModelError("this model has no output: pass Model(loss=..., output=...)")
        if isinstance(data, Feed) and data.model is self:  # made here: x' already
            if y is not None:
                raise TypeError(f"{what}: pass either a feed or (X, y), not both")
            return self._refeed(data, target, graph, what, check)
        named = self._as_named(data, y, what, target)
        pre = self._preprocessing if preprocess else None
        feed = Feed(model=self, checked=check)
        for node in target.inputs:
            if node.name not in named:
                given = sorted(named)
                raise FeedError(
                    f"{what}: no array for Input {node.name!r}; this {graph} graph reads "
                    f"{[i.name for i in target.inputs]}, the data holds {given}"
                )
            value = named[node.name]
            if pre is not None and node.name == "x":
                value = self._preprocess(node, value, what)
            feed[node] = self._prepare(node, value, what)
        if check:
            self._check_feed(feed, what)
        return feed

    def _refeed(self, feed: Feed, target: Graph, graph: str, what: str, check: bool) -> Feed:
        """The part of one of this model's Feeds that ``target`` reads (nothing applied again)."""
        out = Feed(model=self, checked=feed.checked)
        for node in target.inputs:
            if node not in feed:
                raise FeedError(
                    f"{what}: no array for Input {node.name!r}; this {graph} graph reads "
                    f"{[i.name for i in target.inputs]}, the feed holds "
                    f"{sorted(k.name for k in feed)}"
                )
            out[node] = feed[node]
        if check and not out.checked:
            self._check_feed(out, what)
            out.checked = True
        return out

    def _as_named(self, data: Any, y: Any, what: str, target: Graph) -> dict[str, Any]:
        if isinstance(data, Mapping):
            if y is not None:
                raise TypeError(f"{what}: pass either a feed dict or (X, y), not both")
            named: dict[str, Any] = {}
            known = {i.name for i in self.inputs}
            for key, value in data.items():
                name = key.name if isinstance(key, Input) else key
                if isinstance(key, Input) and not any(key is i for i in self.inputs):
                    raise FeedError(
                        f"{what}: the feed holds Input {key.name!r} of another graph; this "
                        f"model's inputs are {sorted(known)}"
                    )
                if not isinstance(name, str) or name not in known:
                    raise FeedError(
                        f"{what}: the feed names {key!r}, which is not an Input of this model "
                        f"(inputs: {sorted(known)})"
                    )
                named[name] = value
            return named
        if y is None and isinstance(data, tuple):
            if len(data) != 2:
                raise TypeError(f"{what} must be an (X, y) tuple or a feed dict")
            data, y = data
        if y is not None:
            x_name, y_name = self._xy_names(what)
            return {x_name: data, y_name: y}
        if isinstance(data, (np.ndarray, list)) and len(target.inputs) == 1:
            return {target.inputs[0].name: data}
        raise TypeError(
            f"{what} must be a feed {{input name: array}} or an (X, y) tuple, got "
            f"{type(data).__name__}"
        )

    def _xy_names(self, what: str) -> tuple[str, str]:
        """Where ``(X, y)`` goes: the Inputs named x and y, else the one Input the output
        reads and the one only the loss reads (the labels, for a classifier)."""
        names = {i.name for i in self.inputs}
        if {"x", "y"} <= names:
            return "x", "y"
        target = self.labels if self.labels is not None else (
            self.targets[0] if len(self.targets) == 1 else None
        )  # fmt: skip
        if len(self.features) == 1 and target is not None:
            return self.features[0].name, target.name  # type: ignore[return-value]
        raise TypeError(
            f"{what}: (X, y) is for models with one data Input and one target Input (x and y); "
            f"this one has {sorted(names)}: pass a feed dict {{name: array}}"
        )

    def _check_feed(self, feed: Mapping[Input, np.ndarray], what: str) -> None:
        lengths = {}
        for node, a in feed.items():
            if a.dtype.kind not in "biuf":
                raise DataError(
                    f"{what}: array {node.name!r} has dtype {a.dtype}; feed numbers "
                    "(floats for data, integers for labels)"
                )
            if a.ndim == 0:
                raise DataError(
                    f"{what}: array {node.name!r} is a scalar; every fed array needs a first "
                    "axis over the examples (shape (N, ...))"
                )
            lengths[node.name] = a.shape[0]
        if self.labels is not None and self.labels in feed:
            n = next((lengths[k.name] for k in feed if k is not self.labels), None)
            if n is not None:
                feed[self.labels] = check_labels(  # type: ignore[index]
                    feed[self.labels], n, self.n_classes, what, whole_floats=True
                )
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{k} has {v}" for k, v in lengths.items())
            raise DataError(
                f"{what}: the arrays must have the same length along axis 0 (one row per "
                f"example): {sizes}"
            )
        if lengths and next(iter(lengths.values())) == 0:
            raise DataError(
                f"{what}: no examples (0 rows in {sorted(lengths)}); an empty batch or split "
                "has no loss and no error"
            )
        for node, a in feed.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                bad = int(a.size - np.count_nonzero(np.isfinite(a)))
                idx = _first_bad(a)
                raise DataError(
                    f"{what}: array {node.name!r} holds {a[idx]} at index {idx} ({bad} "
                    "non-finite value(s) in all): bad data, not a training problem; remove or "
                    "impute those rows first"
                )

    # -- prediction ---------------------------------------------------------------------------
    def forward(self, data: Any, *, batch_size: int = 4096, what: str = "forward") -> np.ndarray:
        """The output's value f(x) for the examples of ``data`` (a feed, or X), computed by the
        prediction graph in batches of ``batch_size`` rows: no labels needed. The data is raw:
        the model's ``preprocessing`` (if any) makes x' of x first."""
        feed = self.as_feed(data, graph="predict", what=what)
        assert self.predict_graph is not None
        n = len(next(iter(feed.values()))) if feed else 0
        if n <= batch_size:
            return self.predict_graph.fprop(feed)
        parts = []
        for i in range(0, n, batch_size):
            part = self.predict_graph.fprop({k: v[i : i + batch_size] for k, v in feed.items()})
            if np.ndim(part) == 0 or np.shape(part)[0] != min(batch_size, n - i):
                raise ModelError(
                    f"the output {self.output.describe()} is not one row per example (shape "
                    f"{np.shape(part)} for {min(batch_size, n - i)} rows): pass batch_size >= {n}"
                )
            parts.append(part)
        return np.concatenate(parts)

    def _need_classifier(self, what: str) -> None:
        if not self.classifier:
            out = self.output.describe() if self.output is not None else "none"
            raise ModelError(
                f"{what} needs a classification output (probabilities of shape (N, C)); this "
                f"model's output is {out}: use model.forward(feed)"
            )

    def predict_proba(
        self, X: Any, *, batch_size: int = 4096, what: str = "predict_proba"
    ) -> np.ndarray:
        """f(x), the class probabilities, for every example: shape (N, C)."""
        self._need_classifier(what)
        P = self.forward(X, batch_size=batch_size, what=what)
        if np.ndim(P) != 2:
            raise ModelError(
                f"the output {self.output.describe()} has shape {np.shape(P)}, not (N, C)"
            )
        return P

    def predict(self, X: Any, *, batch_size: int = 4096) -> np.ndarray:
        """The most probable class, argmax_c f(x)_c, shape (N,)."""
        return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)

    def error(self, data: Any, y: Any = None) -> float:
        """Classification error: the fraction of examples whose predicted class differs from
        its label. ``error(X, y)``, or ``error(feed)`` with the labels in the feed. Labels
        must be integers of shape (N,): nothing is broadcast."""
        self._need_classifier("error")
        assert self.labels is not None
        if isinstance(data, Feed) and data.model is self and y is None:  # x' already
            if self.labels not in data:
                raise FeedError(f"error: the feed holds no labels {self.labels.name!r}")
            y = data[self.labels]
            data = Feed(((k, v) for k, v in data.items() if k is not self.labels),
                        model=self, checked=data.checked)  # fmt: skip
        elif isinstance(data, Mapping) and y is None:
            named = self._as_named(data, None, "error", self.graph)
            if self.labels.name not in named:
                raise FeedError(f"error: the feed holds no labels {self.labels.name!r}")
            y = named.pop(self.labels.name)
            data = named
        elif y is None:
            raise TypeError("error needs the labels: error(X, y) or error(feed)")
        P = self.predict_proba(data, what="error")
        labels = check_labels(y, len(P), P.shape[1], "error")
        return float(np.count_nonzero(P.argmax(axis=1) != labels) / len(labels))

    def loss_value(self, data: Any, y: Any = None) -> float:
        """The loss (with its penalties) on the examples of ``data``: one fprop of the
        training graph. ``loss_value(X, y)`` or ``loss_value(feed)``."""
        feed = self.as_feed(data, y, what="loss_value")
        return float(self.train_graph.fprop(feed))

    def evaluate(self, data: Any, y: Any = None) -> dict[str, Any]:
        """What the model does on ``data`` (a feed, or X, y): ``{"examples": N, "loss": the
        loss with its penalties, "error": the classification error (None without a
        classification output)}``."""
        feed = self.as_feed(data, y, what="evaluate")
        n = len(next(iter(feed.values())))
        loss = float(self.train_graph.fprop(feed))
        error = self.error(feed) if self.classifier else None  # a Feed: x' already
        return {"examples": n, "loss": loss, "error": error}

    # -- parameters as data -------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's value, by name."""
        return {p.name: p.value.copy() for p in self.parameters}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the parameters from ``state`` (as made by ``state()``), checking names and shapes."""
        missing = [p.name for p in self.parameters if p.name not in state]
        if missing:
            raise KeyError(f"state lacks parameters {missing}")
        for p in self.parameters:
            v = np.asarray(state[p.name])
            if v.shape != p.value.shape:
                raise ValueError(f"{p.name}: shape {v.shape} does not match {p.value.shape}")
            p.value = v.astype(p.value.dtype, copy=True)

    def save(self, path, *, metadata: dict[str, Any] | None = None):
        """Write the model to one ``.npz`` (atomically); see :func:`flowgraph.load_model`.

        ``metadata`` (JSON-serialisable; default ``self.metadata``) travels with it."""
        from .io import save_model

        return save_model(self, path, metadata=metadata)


class MLP(Model):
    """The Model ``mlp`` builds: the lecture's network, with its layers' nodes by role.

    On top of :class:`Model`: ``x`` and ``y`` (Inputs), ``logits`` (a(L+1)), ``output``
    (softmax probabilities f(x)), ``weights`` ``W1 .. W{L+1}`` and ``biases``
    ``b1 .. b{L+1}``, ``n_classes`` C and ``config`` (the ``mlp`` arguments, which rebuild it).
    """

    def __init__(
        self,
        *,
        x: Input,
        y: Input,
        logits: Node,
        output: Node,
        loss: Node,
        config: dict[str, Any],
    ):
        super().__init__(loss, output, labels=y, classifier=True)
        if self.x is not x or self.y is not y:
            raise GraphError("MLP: the Inputs x and y must be named 'x' and 'y'")
        self.logits = logits
        self.config = dict(config)
        self.weights = [p for p in self.parameters if p.name.startswith("W")]
        self.biases = [p for p in self.parameters if p.name.startswith("b")]

    def __repr__(self) -> str:
        n = sum(p.value.size for p in self.parameters)
        return f"<Model {self.config.get('sizes')} {self.config.get('activation')}: {n} parameters>"

    @property
    def n_classes(self) -> int:
        return self.parameters[-1].value.shape[0]

    def _as_input(self, X: Any) -> np.ndarray:
        """X as the network takes it: shape (N, H_0) (one row may be a vector), in its dtype."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        n_in = self.parameters[0].value.shape[1]
        if X.ndim != 2 or X.shape[1] != n_in:
            raise ValueError(f"this model takes inputs of shape (N, {n_in}), got {X.shape}")
        if X.dtype.kind not in "biuf":
            raise DataError(f"array 'x' has dtype {X.dtype}; feed numbers")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _check_preprocessing(self, pre: Preprocessing) -> None:
        n_in, width = self.parameters[0].value.shape[1], pre.input_width()
        if width is not None and width != n_in:
            raise ModelError(
                f"this model takes inputs of {n_in} features; the preprocessing {pre!r} is for "
                f"{width}"
            )

    def _rows(self, node: Input, a: np.ndarray) -> np.ndarray:
        return a.reshape(1, -1) if node is self.x and a.ndim == 1 else a

    def _prepare(self, node: Input, value: Any, what: str) -> np.ndarray:
        if node is self.x:
            try:
                return self._as_input(value)
            except ValueError as e:
                if isinstance(e, DataError):
                    raise DataError(f"{what}: {e}") from None
                raise ValueError(f"{what}: {e}") from None
        return np.asarray(value)
def mlp(
    sizes: Sequence[int],
    activation: str = "tanh",
    l2: float = 0.0,
    l1: float = 0.0,
    dtype: Any = np.float32,
    seed: int | np.random.Generator | None = 0,
    *,
    weight_init: str | Callable[..., np.ndarray] = "glorot_uniform",
) -> MLP:
    """The lecture's multilayer network for classification, as a flow graph.

    ``sizes = [H_0, H_1, ..., H_L, C]``: input dimension, the L hidden widths, the number of
    classes. ``activation`` g is one of tanh, sigmoid, relu, identity. Weights come from
    ``weight_init`` (default Glorot's U[-b, b]), biases start at 0. Node names: ``x``, ``y``,
    ``a1, h1, ..., aL, hL, a{L+1}``, ``output`` (f(x)), ``nll`` and ``loss``; parameters
    ``W1, b1, ..., W{L+1}, b{L+1}``.

    Parameters
    ----------
    sizes
        ``[H_0, H_1, ..., H_L, C]``; ``[H_0, C]`` is logistic (softmax) regression.
    activation
        The hidden layers' g: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or ``"identity"``.
    l2, l1
        lambda of the penalties added to the loss: l2 sum_k ||W(k)||_F^2 and
        l1 sum_k sum_ij |W(k)_ij| (biases are not penalised).
    dtype
        Floating type of the parameters (float32 trains faster, float64 for second order).
    seed
        Seed (or generator) of the initial weights.
    weight_init
        A name in :mod:`flowgraph.init` or a function ``(shape, rng, dtype=) -> array``.

    Returns
    -------
    Model
        The graph with its roles: ``model.x``, ``model.y``, ``model.parameters``,
        ``predict``, ``predict_proba``, ``error``, ``save``.

    Examples
    --------
    >>> import flowgraph as fg
    >>> model = fg.mlp([2, 8, 3], seed=0)
    >>> model
    <Model [2, 8, 3] tanh: 51 parameters>
    >>> [(p.name, p.value.shape) for p in model.parameters]
    [('W1', (8, 2)), ('b1', (8,)), ('W2', (3, 8)), ('b2', (3,))]
    >>> import numpy as np
    >>> round(float(model.predict_proba(np.zeros((1, 2))).sum()), 6)  # softmax: sums to 1
    1.0
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(
            f"sizes must list at least an input size and a class count, all >= 1; got {sizes}"
        )
    if sizes[-1] < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got sizes[-1] = {sizes[-1]}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    if l2 < 0 or l1 < 0:
        raise ValueError(f"l2 and l1 must be >= 0, got l2={l2}, l1={l1}")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a float type, got {dtype}")
    rng = initializers.as_generator(seed)
    make_weight = initializers.get(weight_init)

    x, y = Input("x"), Input("y")
    h: Node = x
    weights = []
    n_layers = len(sizes) - 1
    for k in range(1, n_layers + 1):
        W = Parameter(make_weight((sizes[k], sizes[k - 1]), rng, dtype=dtype), f"W{k}")
        b = Parameter(np.zeros(sizes[k], dtype=dtype), f"b{k}")
        weights.append(W)
        a = Linear()(h, W, b, name=f"a{k}")
        h = ACTIVATIONS[activation]()(a, name=f"h{k}") if k < n_layers else a
    logits = h
    output = Softmax()(logits, name="output")
    terms: list[Node] = []
    if l2 > 0:
        terms.append(Scale(l2)(L2Penalty()(*weights, name="omega_l2"), name="l2_term"))
    if l1 > 0:
        terms.append(Scale(l1)(L1Penalty()(*weights, name="omega_l1"), name="l1_term"))
    if terms:
        nll = SoftmaxCrossEntropy()(logits, y, name="nll")
        loss = Add()(nll, *terms, name="loss")
    else:
        loss = SoftmaxCrossEntropy()(logits, y, name="loss")
    config = {
        "sizes": sizes,
        "activation": activation,
        "l2": float(l2),
        "l1": float(l1),
        "dtype": dtype.name,
        "weight_init": weight_init if isinstance(weight_init, str) else "custom",
        "seed": int(seed) if isinstance(seed, (int, np.integer)) else None,
    }
    return MLP(x=x, y=y, logits=logits, output=output, loss=loss, config=config)
