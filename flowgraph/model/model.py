"""A Model: a graph together with its roles (loss, output, inputs, parameters).

``Model(loss=..., output=...)`` wraps any graph; :func:`flowgraph.mlp` builds the lecture's
network as one such Model (:mod:`flowgraph.model.mlp`). The parts of a Model, by role:

* the roles themselves (this class): which node is the loss, which the output f(x), which
  Inputs the output reads (``features``) and which only the loss (``targets``, the
  ``labels``);
* feeds (:mod:`flowgraph.model.feeds`): data as the graph reads it, checked in one place;
* preprocessing (:mod:`flowgraph.model.preprocessing`): the input pipeline x -> x' the model
  owns, applied where data becomes a feed, once: every method that takes data takes it raw;
* prediction and evaluation (``forward``, ``predict``, ``error``, ``loss_value``,
  ``evaluate``) and the parameters as data (``state``, ``load_state``);
* saving, which belongs to :mod:`flowgraph.io` (``Model.save`` delegates to it).

    >>> import numpy as np, flowgraph as fg
    >>> x, t = fg.Input("x"), fg.Input("t")
    >>> W = fg.Parameter(np.ones((1, 2)), "W")
    >>> f = x @ W.T
    >>> model = fg.Model(loss=fg.squared_error(f, t), output=f)
    >>> [i.name for i in model.features], [i.name for i in model.targets]
    (['x'], ['t'])
    >>> model.forward(np.array([[1.0, 2.0]]))
    array([[3.]])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..boxes import Softmax
from ..core import Buffer, Graph, Input, Node, Parameter
from ..errors import DataError, FeedError, FlowgraphError, GraphError, ModelError
from .feeds import Feed, check_labels, make_feed, named_arrays
from .preprocessing import Preprocessing
from .summary import summary_html, summary_text

__all__ = ["Model"]


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
        if self.predict_graph is not None:
            self.predict_graph.eval()  # predictions: dropout off, running statistics
        self.inputs: list[Input] = list(self.graph.inputs)
        self.parameters: list[Parameter] = list(self.graph.parameters)
        self.buffers: list[Buffer] = list(self.graph.buffers)  # state, not learnt
        predicted = self.predict_graph.inputs if self.predict_graph is not None else []
        read_by_output = {id(i) for i in predicted}
        self.features = [i for i in self.inputs if id(i) in read_by_output]
        self.targets = [i for i in self.train_graph.inputs if id(i) not in read_by_output]
        if classifier is None:
            classifier = output is not None and isinstance(output.box, Softmax)
        if classifier and output is None:
            raise ModelError("Model: classifier=True needs an output (the probabilities f(x))")
        self.classifier = bool(classifier)
        self.labels: Input | None = self._labels_of(labels)
        self.config: dict[str, Any] = {}
        self.metadata: dict[str, Any] = {}  # saved with the model (dataset, split, metrics...)
        self._preprocessing: Preprocessing | None = None

    def _labels_of(self, labels: Input | str | None) -> Input | None:
        """The Input of the labels y: the one given (by node or name), else a classifier's
        one target; a ModelError when there is no single candidate."""
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
        return labels

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
            self.check_preprocessing(pre)
        self._preprocessing = pre
        if pre is None:
            self.metadata.pop("preprocessing", None)
        else:
            self.metadata["preprocessing"] = pre.to_dict()

    def check_preprocessing(self, pre: Preprocessing) -> None:
        """Refuse a preprocessing that cannot take this model's inputs (where that is known:
        an MLP knows the width of x); here nothing is known."""

    def __repr__(self) -> str:
        n = sum(p.value.size for p in self.parameters)
        out = f", output {self.output.name!r}" if self.output is not None else ""
        return (
            f"<Model loss {self.loss.name!r}{out}, inputs {[i.name for i in self.inputs]}: "
            f"{n} parameters>"
        )

    # -- display (flowgraph.model.summary) --------------------------------------------------
    def summary(self, input_shape: Any = None) -> str:
        """The model as a table, as Keras's ``summary()``: each Input and box node in fprop
        order (its box, what it reads, the shape of its value, the parameter elements it reads
        first), each Parameter (shape, dtype, elements) and the total |theta|. Shapes come
        from the last fprop, or, given ``input_shape`` (the feature Input's shape, or a dict of
        shapes by Input name), from one fprop of the output on zeros of that shape (the nodes'
        values are put back). ``print(model.summary())``."""
        return summary_text(self, input_shape)

    def _repr_html_(self) -> str:
        """Jupyter shows a Model as its graph's picture (``fg.to_svg``; left out without
        Graphviz's ``dot``) above its summary table."""
        # The picture is flowgraph.render's, a layer above: imported when Jupyter calls this
        # (as Graph._repr_svg_ does), so that model/ never imports render/ when it is loaded.
        from ..render import to_svg

        svg = to_svg(self)
        picture = "" if svg is None else svg[svg.find("<svg") :]
        return f'<div class="flowgraph-model">{picture}{summary_html(self)}</div>'

    # -- feeds (flowgraph.model.feeds) --------------------------------------------------------
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
        space). The result is a :class:`~flowgraph.model.feeds.Feed`, which this model takes
        back as it is. With ``check`` the arrays are verified: numbers, a first axis of the
        same length N > 0 everywhere, no NaN or inf, integer labels."""
        targets = {"train": self.train_graph, "predict": self.predict_graph, "all": self.graph}
        if graph not in targets:
            raise ValueError(f"graph must be 'train', 'predict' or 'all', got {graph!r}")
        target = targets[graph]
        if target is None:
            raise ModelError("this model has no output: pass Model(loss=..., output=...)")
        return make_feed(self, data, y, target, graph=graph, what=what, check=check,
                         preprocess=preprocess)  # fmt: skip

    def prepare(self, node: Input, value: Any, what: str) -> np.ndarray:
        """One fed array, as the graph will see it: float data in the parameters' dtype (a
        subclass may check more, as an MLP checks the width of x)."""
        a = np.asarray(value)
        if a.dtype.kind == "f" and a.dtype != self.dtype:
            a = a.astype(self.dtype)
        return a

    def rows(self, node: Input, a: np.ndarray) -> np.ndarray:
        """An array of Input ``node`` with its rows made explicit (an MLP takes one row as a
        vector); here, as it is."""
        return a

    def preprocess(self, node: Input, value: Any, what: str) -> np.ndarray:
        """x', from the array given for the Input x: the one place data meets the
        preprocessing. Non-numbers pass untouched (the feed check names them), and NaN or
        inf stay where they are (the feed check names the first)."""
        pre = self._preprocessing
        if pre is None:
            raise ModelError("this model has no preprocessing to apply")
        a = self.rows(node, np.asarray(value))
        if a.dtype.kind not in "biuf":
            return a
        try:
            return pre.transform(a, check_finite=False)
        except (FlowgraphError, ValueError) as e:
            raise DataError(
                f"{what}: array {node.name!r} of shape {a.shape} does not fit the model's "
                f"preprocessing {pre!r}: {e}"
            ) from None

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
                    f"the output {self.output.describe()} is not one row per example (shape "  # type: ignore[union-attr]
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
                f"the output {self.output.describe()} has shape {np.shape(P)}, not (N, C)"  # type: ignore[union-attr]
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
            named = named_arrays(self, data, None, "error", self.graph)
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
        with self.evaluating():
            return float(self.train_graph.fprop(feed))

    def evaluate(self, data: Any, y: Any = None) -> dict[str, Any]:
        """What the model does on ``data`` (a feed, or X, y): ``{"examples": N, "loss": the
        loss with its penalties, "error": the classification error (None without a
        classification output)}``."""
        feed = self.as_feed(data, y, what="evaluate")
        n = len(next(iter(feed.values())))
        with self.evaluating():
            loss = float(self.train_graph.fprop(feed))
        error = self.error(feed) if self.classifier else None  # a Feed: x' already
        return {"examples": n, "loss": loss, "error": error}

    # -- parameters as data -------------------------------------------------------------------
    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """The training graph in evaluation mode for the ``with`` block (dropout off, running
        statistics): how the loss is measured outside training steps."""
        was = self.train_graph.training
        self.train_graph.eval()
        try:
            yield
        finally:
            self.train_graph.train(was)

    def state(self, *, buffers: bool = False) -> dict[str, np.ndarray]:
        """A copy of every parameter's value, by name (and of every Buffer's, the running
        statistics, with ``buffers=True``: what early stopping and resuming keep)."""
        kept = [*self.parameters, *(self.buffers if buffers else [])]
        return {p.name: p.value.copy() for p in kept}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the parameters from ``state`` (as made by ``state()``), checking names and
        shapes; Buffers too where ``state`` holds them."""
        missing = [p.name for p in self.parameters if p.name not in state]
        if missing:
            raise KeyError(f"state lacks parameters {missing}")
        for p in [*self.parameters, *(b for b in self.buffers if b.name in state)]:
            v = np.asarray(state[p.name])
            if v.shape != p.value.shape:
                raise ValueError(f"{p.name}: shape {v.shape} does not match {p.value.shape}")
            p.value = v.astype(p.value.dtype, copy=True)

    def save(self, path, *, metadata: dict[str, Any] | None = None):
        """Write the model to one ``.npz`` (atomically); see :func:`flowgraph.load_model`.

        ``metadata`` (JSON-serialisable; default ``self.metadata``) travels with it. The
        same as ``fg.save_model(model, path, metadata=...)``."""
        # Model files are flowgraph.io's, a layer above this one (io rebuilds Models when it
        # loads): this delegate imports it when called, so that model/ never imports io/ when
        # it is loaded and the layers keep their order.
        from ..io.save import save_model

        return save_model(self, path, metadata=metadata)
