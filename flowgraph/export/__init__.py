"""Models in other formats: :func:`export_onnx` writes a Model's prediction as ONNX.

* :mod:`~flowgraph.export.onnx`: the writer (the model's preprocessing, its prediction
  graph, Blocks written in place), :func:`export_onnx` and :class:`OnnxExportError`;
* :mod:`~flowgraph.export.onnx_ops`: the one table, box class -> the ONNX operator(s) it
  becomes (adding a box's counterpart is one entry).

export sits beside :mod:`flowgraph.io`, above :mod:`flowgraph.model`; the ``onnx`` package
is imported only when a model is exported (``pip install flowgraph-autodiff[onnx]``).
"""

from .onnx import OPSET, OnnxExportError, export_onnx, onnx_model
from .onnx_ops import ONNX_OPS

__all__ = ["export_onnx", "onnx_model", "OnnxExportError", "ONNX_OPS", "OPSET"]
