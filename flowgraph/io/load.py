"""Reading a model file: everything checked before it is trusted, then the Model rebuilt.

:func:`load_model` reads the description (:func:`flowgraph.io.format.read_meta`), checks the
arrays it declares against the limits and, for a model ``mlp`` built, against its
architecture, reads each array checked against its declaration and SHA-256, and rebuilds the
model: an MLP by :func:`flowgraph.model.mlp.from_config` (its graph must be the one the file
describes), any other graph node by node (:class:`Builder`), box types looked up only among
flowgraph's own and the caller's ``boxes=``. Older files go through
:mod:`flowgraph.io.legacy`.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..core import Box, Buffer, Constant, Graph, Input, Mode, Node, Parameter, RandomSource
from ..core.block import Block
from ..errors import GraphError, ModelError
from ..model import Model
from ..model.mlp import from_config
from ..model.preprocessing import Preprocessing, PreprocessingError
from . import legacy
from .format import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MissingBoxError,
    ModelFileError,
    Reader,
    box_types,
    check_meta_digest,
    declared_arrays,
    field,
    is_own_module,
    mlp_arrays,
    read_arrays,
    read_meta,
)
from .save import describe

__all__ = ["load_model", "Builder", "build_graph_model", "preprocessing_of"]


def load_model(
    path: str | os.PathLike, boxes: Iterable[type] = (), *, max_bytes: int = MAX_BYTES
) -> Model:
    """Read a model written by ``Model.save`` / ``save_model``; its outputs are identical.

    Parameters
    ----------
    path
        A ``.npz`` file written by :func:`~flowgraph.save_model` (or by an older flowgraph:
        formats 1 and 2 still load).
    boxes
        Your own Box classes the model uses: a file names box types, and only flowgraph's
        own boxes and these are ever looked up (nothing is imported by a name in the file).
    max_bytes
        The most bytes of parameters a file may declare (checked before reading them).

    Returns
    -------
    Model
        The same graph and parameter arrays (dtype and all), with ``metadata``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        The file is truncated, foreign, malformed, tampered with (an array's or the
        description's SHA-256 differs), too large, from a newer format version, or names a
        box type that is not available (:class:`MissingBoxError`).

    Examples
    --------
    See :func:`~flowgraph.save_model`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if not path.is_file():  # a folder, a device (/dev/zero reads forever), a pipe
        raise ModelFileError(f"{path}: not a regular file, so not a model file")
    own, user = box_types(boxes)
    try:
        with zipfile.ZipFile(path) as zf:
            reader = Reader(path, zf, max_bytes)
            meta = read_meta(reader)
            if legacy.is_legacy_mlp(meta):
                config = meta["config"]
                arrays = legacy.read_mlp_arrays(reader, meta, max_bytes)
            else:
                config, arrays = _read_current(reader, meta, max_bytes)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, ValueError, NotImplementedError, RuntimeError) as e:
        raise ModelFileError(
            f"{path} is not a readable flowgraph model (truncated or not an .npz file): {e}"
        ) from None
    except (OSError, EOFError) as e:
        raise ModelFileError(f"{path} cannot be read (truncated?): {e}") from None
    if config is not None:
        model: Model = build_mlp(config, arrays, path)
        if not legacy.is_legacy_mlp(meta):
            _check_mlp_description(model, meta, path)
    else:
        model = build_graph_model(meta, arrays, own, user, path)
    return _finish(model, meta, path)


def _read_current(
    reader: Reader, meta: dict, max_bytes: int
) -> tuple[dict | None, dict[str, np.ndarray]]:
    """(the ``mlp`` config or None, the arrays) of a file in today's layout (or format 2's
    ``kind: "graph"``), every array checked."""
    path = reader.path
    if meta["version"] == 1 or meta["version"] == 2 and meta.get("kind") != "graph":
        raise ModelFileError(f"{path}: unknown model kind {meta.get('kind')!r:.100}")
    declared = declared_arrays(meta, path, max_bytes)
    builder = meta.get("builder") if meta["version"] >= 3 else None
    config = None
    if builder is not None:
        if not isinstance(builder, dict) or builder.get("name") != "mlp":
            raise ModelFileError(f"{path}: unknown builder {builder!r:.200} (flowgraph's: mlp)")
        config = builder.get("config")
        legacy.check_against(mlp_arrays(config, path, max_bytes), declared, path)
    check_meta_digest(meta, path)
    return config, read_arrays(reader, meta, declared, False)


def build_mlp(config: dict, arrays: dict[str, np.ndarray], path: Path) -> Model:
    """The MLP of a checked ``config``, its parameters set from ``arrays`` (``param/W1``, ..)."""
    try:
        model = from_config(config)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: invalid architecture {config!r}: {e}") from None
    for p in model.parameters:
        p.value = arrays[f"param/{p.name}"].astype(p.value.dtype, copy=True)
    for b in model.buffers:  # batch norm's running statistics
        b.value = arrays[f"buffer/{b.name}"].astype(b.value.dtype, copy=True)
    return model


def _check_mlp_description(model: Model, meta: dict, path: Path) -> None:
    """Refuse a file whose graph, blocks or roles are not those of the MLP its config builds
    (the description is what the file says the model computes)."""
    rebuilt, _ = describe(model)
    for key in ("graph", "blocks", "roles"):
        if meta.get(key) != rebuilt[key]:
            raise ModelFileError(
                f"{path}: its {key} ({json.dumps(meta.get(key))[:120]}) is not what "
                f"mlp(**config) builds from its config {meta['builder']['config']!r:.120}"
            )


def _finish(model: Model, meta: dict, path: Path) -> Model:
    """The checks and roles every file shares: the parameters' names, metadata, preprocessing."""
    names = [p.name for p in model.parameters]
    if meta.get("parameters") != names:
        raise ModelFileError(
            f"{path}: the model's parameters {names} are not those the description lists, "
            f"{meta.get('parameters')!r:.200}"
        )
    metadata = meta.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: its metadata is not a JSON object: {metadata!r}")
    model.metadata = metadata
    model.preprocessing = preprocessing_of(meta, metadata, model, path)
    return model


def preprocessing_of(meta: dict, metadata: dict, model: Model, path: Path) -> Preprocessing | None:
    """The model's preprocessing, as the file describes it: its own entry, or in files written
    before there was one, ``metadata["preprocessing"]`` (what ``flowgraph train`` and
    ``search`` stored). Checked like the rest: a malformed one, one that disagrees with the
    metadata's or that cannot take the model's inputs is a ModelFileError."""
    said = metadata.get("preprocessing")
    if "preprocessing" in meta:
        desc = meta["preprocessing"]
        if "preprocessing" in metadata and said != desc:
            raise ModelFileError(
                f"{path}: its preprocessing {desc!r:.80} and metadata['preprocessing'] "
                f"{said!r:.80} disagree"
            )
    else:
        desc = said
    if desc is None:
        return None
    try:
        pre = Preprocessing.from_dict(desc)
        model.check_preprocessing(pre)
        if not any(i.name == "x" for i in model.inputs):
            raise ModelError("it applies to an Input named 'x', and the model has none")
    except (PreprocessingError, ModelError) as e:
        raise ModelFileError(f"{path}: its preprocessing: {e}") from None
    return pre


def build_graph_model(meta: dict, arrays, own: dict, user: dict, path: Path) -> Model:
    """The Model a file's graph description and roles describe, every field checked."""
    structure = field(meta, "graph", dict, "the graph's structure", path)
    roles = field(meta, "roles", dict, "the roles of its nodes", path)
    blocks = meta.get("blocks", {})
    if not isinstance(blocks, dict):
        raise ModelFileError(f"{path}: 'blocks' is malformed: {blocks!r:.200}")
    builder = Builder(arrays, blocks, own, user, path)
    nodes, outputs = builder.graph(structure)
    unused = sorted(k for k in arrays if k not in builder.used)
    if unused:
        raise ModelFileError(f"{path}: arrays {unused} belong to no node of the graph")
    idle = sorted(k for k in blocks if k not in builder.built)
    if idle:
        raise ModelFileError(f"{path}: blocks {idle!r:.200} are described but never used")

    def role(name: str, required: bool):
        value = roles.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or value not in nodes:
            raise ModelFileError(f"{path}: role {name!r} names no node of the graph: {value!r}")
        return nodes[value]

    classifier = roles.get("classifier")
    if not isinstance(classifier, bool):
        raise ModelFileError(f"{path}: role 'classifier' must be true or false: {classifier!r}")
    loss, output = role("loss", True), role("output", False)
    expected = [loss] if output is None or output is loss else [loss, output]
    if [o.name for o in outputs] != [o.name for o in expected]:
        raise ModelFileError(
            f"{path}: the graph's outputs {[o.name for o in outputs]} are not its loss and "
            f"output {[o.name for o in expected]}"
        )
    try:
        return Model(loss, output, labels=role("labels", False), classifier=classifier)
    except (GraphError, ModelError) as e:
        raise ModelFileError(f"{path}: the roles do not fit the graph: {e}") from None


class Builder:
    """Rebuilds described graphs, checking every field; Blocks are built once, on first use,
    and shared by their uses as when saved."""

    def __init__(self, arrays, blocks: dict, own: dict, user: dict, path: Path):
        self.arrays, self.blocks, self.own, self.user, self.path = arrays, blocks, own, user, path
        self.built: dict[str, Any] = {}
        self.building: set[str] = set()
        self.used: set[str] = set()
        self.budget = MAX_NODES

    def fail(self, where: str, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {where}{message}")

    def graph(self, structure: Any, prefix: str = "", depth: int = 0):
        """(nodes by name, outputs) of a described graph."""
        where = f"block {prefix[:-1]!r}: " if prefix else ""
        if not isinstance(structure, dict) or not isinstance(structure.get("nodes"), list):
            raise self.fail(where, "the graph's structure is malformed (no node list)")
        records = structure["nodes"]
        self.budget -= len(records)
        if self.budget < 0:
            raise self.fail(where, f"the graph describes more than {MAX_NODES} nodes")
        nodes: dict[str, Node] = {}
        for i, rec in enumerate(records):
            if not isinstance(rec, dict) or not isinstance(rec.get("name"), str) or not rec["name"]:
                raise self.fail(where, f"node {i} is malformed: {rec!r:.200}")
            name, kind = rec["name"], rec.get("kind")
            if name in nodes:
                raise self.fail(where, f"two nodes are named {name!r}")
            if kind == "input":
                node: Node = Input(name)
            elif kind == "parameter":
                node = Parameter(self.array(f"param/{prefix}{name}", where, name), name)
            elif kind == "constant":
                node = self.constant(rec, prefix, where)
            elif kind == "buffer":
                node = Buffer(self.array(f"buffer/{prefix}{name}", where, name), name)
            elif kind == "random":
                node = RandomSource(name)
            elif kind == "mode":
                node = Mode(name)
            elif kind == "box":
                node = self.box_node(rec, nodes, prefix, depth, where)
            else:
                raise self.fail(where, f"node {name!r} has an unknown kind {kind!r:.100}")
            auto = rec.get("auto", False)
            if not isinstance(auto, bool):
                raise self.fail(where, f"node {name!r}: 'auto' must be true or false")
            node.auto_named = auto
            nodes[name] = node
        outputs = structure.get("outputs")
        if (
            not isinstance(outputs, list)
            or not outputs
            or not all(isinstance(o, str) and o in nodes for o in outputs)
        ):
            raise self.fail(where, f"the graph's outputs {outputs!r:.200} name no nodes")
        self.link_updates(records, nodes, where)
        return nodes, [nodes[o] for o in outputs]

    def link_updates(self, records: list, nodes: dict[str, Node], where: str) -> None:
        """Each Buffer's update node, named in its record (built after it: it reads it)."""
        for rec in records:
            if rec.get("kind") != "buffer" or rec.get("update") is None:
                continue
            update = rec["update"]
            if not isinstance(update, str) or update not in nodes:
                raise self.fail(where, f"buffer {rec['name']!r}: its update {update!r:.100} "
                                "names no node")
            buffer = nodes[rec["name"]]
            assert isinstance(buffer, Buffer)  # (a "buffer" record builds one)
            buffer.update = nodes[update]

    def array(self, key: str, where: str, name: str) -> np.ndarray:
        if key not in self.arrays:
            raise self.fail(where, f"node {name!r} has no array {key}")
        self.used.add(key)
        return self.arrays[key]

    def constant(self, rec: dict, prefix: str, where: str):
        name = rec["name"]
        if "array" in rec:
            if rec["array"] != f"const/{prefix}{name}":
                raise self.fail(where, f"constant {name!r} names array {rec['array']!r:.100}")
            value: Any = self.array(rec["array"], where, name)
        else:
            value = rec.get("value")
            if type(value) not in (int, float):
                raise self.fail(where, f"constant {name!r} holds no number: {value!r:.100}")
        return Constant(value, name)

    def box_type(self, type_name: Any, module: Any, where: str, name: str) -> type:
        if not isinstance(type_name, str) or not isinstance(module, str):
            raise self.fail(where, f"node {name!r} does not name its box type and module")
        own = is_own_module(module)
        cls = (self.own if own else self.user).get(type_name)
        if cls is None and own:
            raise self.fail(
                where,
                f"node {name!r} uses box type {type_name!r}, which this flowgraph does not "
                "have (a file from a newer version?)",
            )
        if cls is None:
            raise MissingBoxError(
                f"{self.path}: {where}node {name!r} uses box type {type_name!r} (from module "
                f"{module!r}), which is not one of flowgraph's: pass it, "
                f"load_model(path, boxes=({type_name}, ...))",
                type_name,
            )
        return cls

    def box_node(self, rec: dict, nodes: dict, prefix: str, depth: int, where: str):
        name, children = rec["name"], rec.get("children")
        if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
            raise self.fail(where, f"node {name!r}: its children are not a list of names")
        missing = [c for c in children if c not in nodes]
        if missing:
            raise self.fail(where, f"node {name!r} reads {missing}, which no earlier node is named")
        if "block" in rec:
            root = self.block(rec["block"], depth, where, name)
            index = rec.get("output", 0)
            if type(index) is not int or not 0 <= index < root.n_outputs:
                raise self.fail(where, f"node {name!r}: no output {index!r:.50} of its block")
            box = root.output(index)
        else:
            cls = self.box_type(rec.get("box"), rec.get("module"), where, name)
            config = rec.get("config", {})
            if not isinstance(config, dict):
                raise self.fail(where, f"node {name!r}: its box's config is not an object")
            try:
                box = cls(**config)
            except Exception as e:  # a constructor refusing the file's arguments
                raise self.fail(
                    where,
                    f"node {name!r}: {cls.__name__}(**{config!r:.200}) fails: "
                    f"{type(e).__name__}: {e}",
                ) from None
        try:
            return Box.__call__(box, *(nodes[c] for c in children), name=name)
        except GraphError as e:
            raise self.fail(where, f"node {name!r}: {e}") from None

    def block(self, key: Any, depth: int, where: str, name: str):
        """The Block described as ``blocks[key]``, built on its first use."""
        if not isinstance(key, str) or not isinstance(self.blocks.get(key), dict):
            raise self.fail(where, f"node {name!r} uses block {key!r:.50}, which is not described")
        if key in self.built:
            return self.built[key]
        if key in self.building or depth >= MAX_DEPTH:
            raise self.fail(where, f"block {key!r} contains itself or nests too deep")
        self.building.add(key)
        desc = self.blocks[key]
        cls = self.box_type(desc.get("box"), desc.get("module"), where, name)
        if not issubclass(cls, Block):
            raise self.fail(where, f"block {key!r}: {cls.__name__} is not a Block")
        nodes, outputs = self.graph(desc.get("graph"), f"{key}/", depth + 1)
        inputs = desc.get("inputs")
        named = isinstance(inputs, list) and all(isinstance(i, str) and i in nodes for i in inputs)
        if not named:
            raise self.fail(where, f"block {key!r}: its inputs {inputs!r:.200} name no inner nodes")
        block_name = desc.get("name", "block")
        if not isinstance(block_name, str):
            raise self.fail(where, f"block {key!r}: its name is not a string")
        try:
            inner = Graph(outputs[0] if len(outputs) == 1 else outputs)  # as saved: one or a list
            root = cls(inner, [nodes[i] for i in inputs], name=block_name)
        except Exception as e:
            raise self.fail(
                where, f"block {key!r} cannot be rebuilt: {type(e).__name__}: {e}"
            ) from None
        self.building.discard(key)
        self.built[key] = root
        return root
