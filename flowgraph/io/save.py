"""Writing a model file: one kind, every model described as its graph.

:func:`save_model` describes the model's graph node by node (:class:`Describer`), its roles,
and for a model :func:`flowgraph.mlp` built the ``mlp`` arguments that rebuild it; the layout
is :mod:`flowgraph.io.format`'s. Every box must say how to rebuild itself: ``config()``
returns its constructor's arguments, and a box whose constructor takes arguments but keeps
the default ``config()`` is refused here (it would come back as another box, with the
defaults). The file is written to a temporary file in the same folder and renamed, so a crash
never leaves half a file.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..core import Box, Buffer, Constant, Graph, Input, Mode, Node, Parameter, RandomSource
from ..core.block import Block
from ..errors import ModelError
from ..model import MLP, Model
from .format import FORMAT, MAX_DEPTH, VERSION, canonical, digest

__all__ = ["save_model", "describe", "Describer", "check_rebuildable"]


def check_rebuildable(cls: type[Box], where: str = "") -> None:
    """Refuse a box type whose constructor takes arguments that its ``config()`` cannot
    return: the class (or the ancestor) that defines ``__init__`` with parameters has no
    ``config()`` of its own or below it, so ``type(box)(**box.config())`` would silently
    build the box with its default arguments."""
    init_owner = next(c for c in cls.__mro__ if "__init__" in vars(c))
    if init_owner is object:
        return
    params = list(inspect.signature(init_owner.__init__).parameters.values())[1:]  # type: ignore[misc]  # (no self)
    if not params:
        return
    config_owner = next(c for c in cls.__mro__ if "config" in vars(c))
    if issubclass(config_owner, init_owner):
        return
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    example = ", ".join(f'"{n}": self.{n}' for n in names) or "...: ..."
    has = (
        "defines no config()"
        if config_owner is Box
        else f"inherits config() from {config_owner.__name__}, which does not return them"
    )
    raise TypeError(
        f"{where}{cls.__name__}.__init__ takes arguments ({', '.join(p.name for p in params)}) "
        f"but {cls.__name__} {has}, so a saved model would come back as {cls.__name__} built "
        f"with their defaults: add to {cls.__name__} `def config(self): return {{{example}}}` "
        "(its constructor's arguments)"
    )


def box_record(node: Node, where: str) -> dict[str, Any]:
    """A box node's type, module and ``config()``, checked: JSON, and rebuilding the box."""
    box: Box = node.box  # type: ignore[assignment]
    cls = type(box)
    config = box.config()
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise TypeError(
            f"{where}node {node.describe()}: {cls.__name__}.config() must return a dict of "
            f"constructor keyword arguments, got {config!r}"
        )
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{where}node {node.describe()}: {cls.__name__}.config() is not JSON: {e}"
        ) from None
    try:
        cls(**config)
    except Exception as e:  # the box does not say how to rebuild itself
        raise TypeError(
            f"{where}node {node.describe()}: {cls.__name__}(**config()) fails with config() = "
            f"{config!r} ({type(e).__name__}: {e}); a box whose constructor takes arguments "
            "defines config() returning them"
        ) from None
    check_rebuildable(cls, f"{where}node {node.describe()}: ")
    return {"box": cls.__name__, "module": cls.__module__, "config": config}


class Describer:
    """The JSON description of a graph, node by node, children first; the Parameters' and
    constant arrays' values go to ``arrays``, each Block (shared by all its uses) once to
    ``blocks``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.block_keys: dict[int, str] = {}

    def graph(self, graph: Graph, prefix: str = "", depth: int = 0) -> dict[str, Any]:
        """``{"nodes": [...], "outputs": [names]}`` of ``graph``; ``prefix`` names the
        arrays of a Block's inner graph."""
        where = f"in block {prefix[:-1]!r}: " if prefix else ""
        return {
            "nodes": [self.node(n, prefix, depth, where) for n in graph.order],
            "outputs": [o.name for o in graph.outputs],
        }

    def node(self, n: Node, prefix: str, depth: int, where: str) -> dict[str, Any]:
        record: dict[str, Any] = {"name": n.name}
        if getattr(n, "auto_named", False):
            record["auto"] = True
        if isinstance(n, Input):
            record["kind"] = "input"
        elif isinstance(n, Parameter):
            record["kind"] = "parameter"
            self.arrays[f"param/{prefix}{n.name}"] = np.ascontiguousarray(n.value)
        elif isinstance(n, Constant):
            record["kind"] = "constant"
            v = n.value
            if type(v) in (int, float) and np.isfinite(v):
                record["value"] = v  # a Python number stays one (NumPy's weak typing)
            else:
                record["array"] = key = f"const/{prefix}{n.name}"
                self.arrays[key] = np.array(v, order="C")
        elif isinstance(n, Buffer):  # state: its value, and the node that updates it
            record["kind"] = "buffer"
            self.arrays[f"buffer/{prefix}{n.name}"] = np.ascontiguousarray(n.value)
            record["update"] = None if n.update is None else n.update.name
        elif isinstance(n, (RandomSource, Mode)):  # filled by the Graph at every fprop
            record["kind"] = n.kind
        elif n.box is not None:
            record["kind"] = "box"
            if isinstance(n.box, Block):
                record["block"] = self.block(n.box.root, depth)
                record["output"] = n.box.index
            else:
                record.update(box_record(n, where))
            record["children"] = [c.name for c in n.children]
        else:
            raise TypeError(
                f"{where}node {n.describe()} is a leaf of kind {n.kind!r}, which a model "
                "file cannot hold (Inputs, Parameters, constants, buffers, random sources, modes "
                "and boxes only)"
            )
        return record

    def block(self, root: Block, depth: int) -> str:
        """The key of ``root`` (a Block) in ``blocks``, describing it on its first use."""
        key = self.block_keys.get(id(root))
        if key is None:
            if depth >= MAX_DEPTH:
                raise TypeError(f"Blocks are nested deeper than {MAX_DEPTH} levels")
            key = self.block_keys[id(root)] = f"b{len(self.block_keys)}"
            cls = type(root)
            self.blocks[key] = {
                "box": cls.__name__,
                "module": cls.__module__,
                "name": root.name,
                "inputs": [x.name for x in root.inputs],
                "graph": self.graph(root.graph, f"{key}/", depth + 1),
            }
        return key


def describe(model: Model) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What a file says of ``model``'s computation: ``{"graph", "blocks", "roles",
    "builder"}`` (as JSON reads it back) and the arrays, by member name."""
    describer = Describer()
    structure = describer.graph(model.graph)
    builder = {"name": "mlp", "config": model.config} if isinstance(model, MLP) else None
    desc = {
        "graph": structure,
        "blocks": describer.blocks,
        "roles": {
            "loss": model.loss.name,
            "output": model.output.name if model.output is not None else None,
            "labels": model.labels.name if model.labels is not None else None,
            "classifier": model.classifier,
        },
        "builder": builder,
    }
    return json.loads(json.dumps(desc)), describer.arrays


def _metadata_with_preprocessing(model: Model, metadata: Any) -> Any:
    """``metadata`` with the model's preprocessing repeated in it; metadata naming another
    preprocessing than the model's is a ModelError."""
    pre = model.preprocessing.to_dict() if model.preprocessing is not None else None
    if not isinstance(metadata, Mapping):
        return metadata
    said = metadata.get("preprocessing", pre)
    if said != pre:
        raise ModelError(
            f"save_model: metadata['preprocessing'] is {said!r:.120} but the model's "
            f"preprocessing is {model.preprocessing!r}; the model owns its input pipeline: "
            "set model.preprocessing = fg.Preprocessing.from_dict(...) (or None)"
        )
    return {**metadata, "preprocessing": pre} if pre is not None else metadata


def save_model(
    model: Model, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` (any :class:`~flowgraph.Model`) to ``path`` (``.npz``, atomically).

    Parameters
    ----------
    model
        A :class:`~flowgraph.Model`: one :func:`flowgraph.mlp` built, or any graph wrapped
        by ``fg.Model(loss=..., output=...)``. Every box must say how to rebuild itself
        (``config()``, returning its constructor's arguments).
    path
        The file; ``.npz`` is added when the suffix is another. Written atomically.
    metadata
        JSON-serialisable data saved with the model (default ``model.metadata``): the data
        set, its split, the metrics; covered by the integrity check. The model's
        ``preprocessing`` is saved with it, and repeated as ``metadata["preprocessing"]``;
        metadata that names another preprocessing than the model's is refused (ModelError):
        set ``model.preprocessing`` instead.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, flowgraph as fg
    >>> model = fg.mlp([2, 8, 3], seed=0)
    >>> path = fg.save_model(model, pathlib.Path(tempfile.mkdtemp()) / "blobs",
    ...                      metadata={"dataset": "blobs"})
    >>> path.name
    'blobs.npz'
    >>> again = fg.load_model(path)
    >>> again.metadata, bool((again.predict_proba(np.ones((4, 2))) == model.predict_proba(
    ...     np.ones((4, 2)))).all())
    ({'dataset': 'blobs'}, True)
    """
    if not isinstance(model, Model):
        raise TypeError(
            f"save_model takes a Model, got {type(model).__name__}; wrap a graph's nodes: "
            "fg.Model(loss=loss_node, output=output_node)"
        )
    metadata = _metadata_with_preprocessing(
        model, metadata if metadata is not None else model.metadata
    )
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    desc, arrays = describe(model)
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, **desc}
    meta["parameters"] = [p.name for p in model.parameters]
    meta["arrays"] = {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()}
    meta["sha256"] = {k: digest(v) for k, v in arrays.items()}
    pre = model.preprocessing
    meta["preprocessing"] = pre.to_dict() if pre is not None else None
    meta["metadata"] = metadata
    try:
        meta = json.loads(json.dumps(meta))  # the description as a reader will see it
        meta["sha256_meta"] = hashlib.sha256(canonical(meta)).hexdigest()
        text = json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"model metadata must be JSON-serialisable: {e}") from None
    arrays["__meta__"] = np.array(text)
    atomic_write(path, lambda f: np.savez(f, **arrays), suffix=".npz")  # type: ignore[arg-type]  # (numpy stubs: savez(file, *args, allow_pickle, **kwds))
    return path
