"""``export_onnx(model, path)``: a Model's prediction f(x) as an ONNX file, for onnxruntime,
Netron and every runtime that reads ONNX (the ``onnx`` extra: ``pip install onnx``).

What is written is the model's prediction graph, from the raw inputs the user has to the
output ``model.forward`` gives (a classifier's ``predict_proba``):

    x  ->  x' = preprocessing(x)  ->  f(x')        (scale: c x; standardize: (x - mu) / sigma)

so that ``onnxruntime`` on raw X gives what ``model.predict_proba(X)`` gives. The model's
preprocessing becomes ONNX operators (``preprocessing=False`` leaves it out: the file then
takes x', as the graph does). Each box node becomes the ONNX operator(s) of its class in
:data:`~flowgraph.export.onnx_ops.ONNX_OPS`; a Block's inner graph is written in place of each
use; Parameters and Constants become initializers in the exported float dtype. The first
node whose box has no counterpart stops the export with an :class:`OnnxExportError` naming
it. The loss, the labels and everything only the loss reads are left out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from .._version import __version__
from ..boxes import Linear
from ..core import Buffer, Constant, Graph, Input, Node, Parameter
from ..core.block import Block
from ..errors import FlowgraphError, ModelError
from .onnx_ops import ONNX_OPS, emitter_for

__all__ = ["OPSET", "OnnxExportError", "OnnxWriter", "export_onnx", "onnx_model"]

OPSET = 17  # ReduceSum's axes an input (13), ReduceMean's an attribute (until 18)
INSTALL = "install the onnx extra: pip install onnx (and onnxruntime to run the file)"


class OnnxExportError(FlowgraphError):
    """The model cannot be written as ONNX: a box without an ONNX counterpart, no output, or
    the ``onnx`` package missing."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise OnnxExportError(f"exporting to ONNX needs the onnx package: {INSTALL}") from None
    return onnx


class OnnxWriter:
    """The ONNX graph being written: nodes, initializers, and the name of each value.

    ``op`` adds one operator; ``const`` one initializer (floats in ``dtype``); ``emit_graph``
    writes every box node of a flowgraph graph, given the ONNX names of its Inputs."""

    def __init__(self, onnx: Any, dtype: np.dtype):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.used: set[str] = set()
        self.leaves: dict[int, str] = {}  # Parameters and Constants written, by id(node)
        self.kinds: dict[str, int] = {}  # values that are not floats: name -> ONNX type
        self.INT64, self.BOOL = onnx.TensorProto.INT64, onnx.TensorProto.BOOL
        self.FLOAT = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)  # the file's float type

    def fresh(self, hint: str) -> str:
        """A value name no other value has: ``hint``, else ``hint_2``, ``hint_3``, ..."""
        name, k = hint, 1
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.used.add(name)
        return name

    def op(self, op_type: str, inputs: list, output: str | None = None, **attributes: Any) -> str:
        """Add the operator ``op_type`` reading ``inputs``; returns its output's name."""
        output = output or self.fresh(op_type.lower())
        name = self.fresh(f"{op_type}_{output}")
        node = self.onnx.helper.make_node(op_type, inputs, [output], name=name, **attributes)
        self.nodes.append(node)
        return output

    def const(self, value: Any, hint: str, *, cast: bool = True) -> str:
        """An initializer holding ``value`` (in the exported float dtype unless ``cast`` is
        False: an integer shape or axes); returns its name."""
        array = np.asarray(value)
        if cast:
            array = array.astype(self.dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def leaf(self, node: Node) -> str:
        """The name of a Parameter's or a Constant's value (written once, however many boxes
        and Block uses read it)."""
        if id(node) not in self.leaves:
            self.leaves[id(node)] = self.const(node.value, node.name or "constant")
        return self.leaves[id(node)]

    def emit_graph(self, graph: Graph, names: dict[int, str], prefix: str = "") -> None:
        """Write each box node of ``graph`` that its outputs need, in fprop order; ``names``
        holds the ONNX name of each value written so far by ``id(node)`` (the Inputs', at the
        start) and gets the new ones. Inside a Block (``prefix`` its use's node name and a
        slash) names are prefixed, so the uses of one Block write distinct values."""
        needed = needed_nodes(graph)
        for n in graph.order:
            if n.box is None or id(n) not in needed:
                continue
            emit = None if isinstance(n.box, Block) else emitter_for(n.box)
            if emit is None and not isinstance(n.box, Block):
                raise OnnxExportError(unsupported_message(n, prefix))
            read = getattr(emit, "reads", range(len(n.children)))
            inputs = [self.value(c, names, n) if k in read else ""
                      for k, c in enumerate(n.children)]  # fmt: skip
            output = self.fresh(prefix + (n.name or type(n.box).__name__.lower()))
            names[id(n)] = output
            if emit is None:
                self.emit_block(n, inputs, output)
                continue
            try:
                emit(self, n, inputs, output)
            except NotImplementedError as e:
                raise OnnxExportError(f"cannot export node {n.describe()}: {e}") from None

    def value(self, child: Node, names: dict[int, str], parent: Node) -> str:
        if id(child) in names:
            return names[id(child)]
        if isinstance(child, (Parameter, Constant, Buffer)):
            return self.leaf(child)
        raise OnnxExportError(
            f"node {parent.describe()} reads {child.describe()}, which is not fed to the "
            "exported graph (an Input only the loss reads?)"
        )

    def emit_block(self, node: Node, inputs: list, output: str) -> None:
        """One use of a Block: its inner graph, its Inputs named by the use's children, its
        output ``block.index`` renamed ``output``."""
        block = node.box
        assert isinstance(block, Block)
        names = {id(x): name for x, name in zip(block.inputs, inputs)}
        self.emit_graph(block.graph, names, prefix=f"{node.name}/")
        inner = names[id(block.graph.outputs[block.index])]
        self.op("Identity", [inner], output)
        if inner in self.kinds:
            self.kinds[output] = self.kinds[inner]


def needed_nodes(graph: Graph) -> set[int]:
    """The ids of the nodes the graph's outputs read, through the children each box's
    emitter reads (a dropout's draws and mode are not read: the file is evaluation mode)."""
    needed = {id(o) for o in graph.outputs}
    for n in reversed(graph.order):
        if id(n) in needed and n.box is not None:
            emit = None if isinstance(n.box, Block) else emitter_for(n.box)
            read = getattr(emit, "reads", range(len(n.children)))
            needed.update(id(c) for k, c in enumerate(n.children) if k in read)
    return needed


def unsupported_message(node: Node, prefix: str) -> str:
    where = f" (inside the Block use {prefix.rstrip('/')!r})" if prefix else ""
    known = sorted(cls.__name__ for cls in ONNX_OPS)
    return (
        f"cannot export to ONNX: node {node.describe()}{where} has no ONNX counterpart "
        f"(box {node.box!r}); the boxes that have one: {', '.join(known)}, and Blocks of "
        "them. Add an entry to flowgraph.export.onnx_ops.ONNX_OPS for it"
    )


def input_shape(model: Any, node: Input, example: dict[str, np.ndarray]) -> list:
    """The ONNX shape of a feature Input: N (any batch) then the widths, from the example,
    else the last value fed, else a Linear reading it (h of shape (N, in))."""
    if node.name in example:
        return ["N", *np.shape(example[node.name])[1:]]
    if node.value is not None and np.ndim(node.value) >= 1:
        return ["N", *np.shape(node.value)[1:]]
    for n in model.predict_graph.order:
        if isinstance(n.box, Linear) and n.children[0] is node and n.children[1].value is not None:
            return ["N", int(np.shape(n.children[1].value)[1])]
    raise OnnxExportError(
        f"the shape of Input {node.name!r} is unknown (no Linear reads it, nothing was fed to "
        f"it yet): pass example=X (a few rows of the data, or a dict by Input name), or run "
        "model.forward(X) once before exporting"
    )


def input_type(node: Input, example: dict[str, np.ndarray], elem: int) -> int:
    """The ONNX element type of an Input: int64 where the example (else the last value fed)
    holds integers (labels, indices), else the exported float type."""
    value = example.get(node.name, node.value)
    if value is not None and np.asarray(value).dtype.kind in "iub":
        from onnx import TensorProto

        return TensorProto.INT64
    return elem


def preprocess(w: OnnxWriter, pre: Any, raw: str) -> str:
    """x' of the raw input ``raw`` as ONNX operators: c x, or (x - mu) / sigma."""
    if pre is None or pre.kind == "none":
        return raw
    if pre.kind == "scale":
        return w.op("Mul", [raw, w.const(pre.factor, "preprocessing_factor")], "x_preprocessed")
    std = pre.standardizer
    centred = w.op("Sub", [raw, w.const(std.mean, "preprocessing_mean")], "x_centred")
    return w.op("Div", [centred, w.const(std.scale, "preprocessing_scale")], "x_preprocessed")


def onnx_model(
    model: Any,
    *,
    example: Any = None,
    dtype: Any = None,
    preprocessing: bool = True,
    opset: int = OPSET,
) -> Any:
    """The ``onnx.ModelProto`` of ``model``'s prediction (see :func:`export_onnx`)."""
    if getattr(model, "predict_graph", None) is None:
        raise ModelError(f"{model!r} has no output to export: Model(loss=..., output=...)")
    onnx = _onnx()
    dtype = np.dtype(model.dtype if dtype is None else dtype)
    if dtype.kind != "f":
        raise OnnxExportError(f"dtype must be a float dtype, got {dtype}")
    w = OnnxWriter(onnx, dtype)
    graph: Graph = model.predict_graph
    if example is not None and not isinstance(example, dict):
        example = {graph.inputs[0].name: example} if len(graph.inputs) == 1 else {}
    elem = onnx.helper.np_dtype_to_tensor_dtype(dtype)
    if example:  # run once: every node's shape known (SwapAxes, Split and Var need ranks)
        graph.fprop(model.as_feed(example, graph="predict", what="example", check=False))
    names, raw = {}, []
    pre = model.preprocessing if preprocessing else None
    for x in graph.inputs:
        raw.append(w.fresh(x.name))
        names[id(x)] = preprocess(w, pre, raw[-1]) if x.name == "x" else raw[-1]
    w.emit_graph(graph, names)  # first: a box without a counterpart is the first error
    inputs = [
        onnx.helper.make_tensor_value_info(r, input_type(x, example or {}, elem),
                                           input_shape(model, x, example or {}))
        for r, x in zip(raw, graph.inputs)
    ]
    if model.output.box is None:  # the output is an Input or a leaf: a copy of it
        out_name = w.op("Identity", [w.value(model.output, names, model.output)], "output")
    else:
        out_name = names[id(model.output)]
    output = onnx.helper.make_tensor_value_info(out_name, w.kinds.get(out_name, elem), None)
    helper = onnx.helper
    g = helper.make_graph(
        w.nodes, "flowgraph", inputs, [output], w.initializers, doc_string=repr(model)
    )
    proto = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="flowgraph",
        producer_version=__version__,
    )
    meta = {
        "classifier": json.dumps(bool(model.classifier)),
        "preprocessing": json.dumps(pre.to_dict() if pre is not None else None),
    }
    onnx.helper.set_model_props(proto, meta)
    proto = onnx.shape_inference.infer_shapes(proto)
    onnx.checker.check_model(proto)
    return proto


def export_onnx(
    model: Any,
    path: str | os.PathLike,
    *,
    example: Any = None,
    dtype: Any = None,
    preprocessing: bool = True,
    opset: int = OPSET,
) -> Path:
    """Write ``model``'s prediction f(x) to ``path`` as ONNX (atomically); returns the path.

    The file computes what ``model.forward(X)`` (a classifier's ``model.predict_proba(X)``)
    computes from raw X: the model's preprocessing is its first operators (with
    ``preprocessing=False`` the file takes x', the graph's own input space). Its inputs are
    the Inputs the output reads, by name (``x``), of shape (N, ...) with any N; its output is
    the output node's value, by the node's name. ``example`` (X, or a dict of arrays by Input
    name) gives the inputs' widths where the graph does not (an MLP's W1 does); ``dtype``
    (default the parameters') is the float type of the file's values; ``opset`` the ONNX
    operator set (17). Open the file in Netron to see the graph.

    Raises :class:`OnnxExportError` naming the first node (in fprop order) whose box has no
    ONNX counterpart (see :data:`flowgraph.export.onnx_ops.ONNX_OPS`), or when the ``onnx``
    package is missing; :class:`~flowgraph.errors.ModelError` for a model without output.

    >>> import tempfile, pathlib, numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 4, 3], seed=0)
    >>> path = fg.export_onnx(model, pathlib.Path(tempfile.mkdtemp()) / "mlp.onnx")
    >>> import onnxruntime as ort
    >>> session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    >>> X = np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32)
    >>> bool(np.allclose(session.run(None, {"x": X})[0], model.predict_proba(X), atol=1e-6))
    True
    """
    proto = onnx_model(model, example=example, dtype=dtype, preprocessing=preprocessing,
                       opset=opset)  # fmt: skip
    data = proto.SerializeToString()
    return atomic_write(Path(path), lambda f: f.write(data))
