"""Saving and loading models: one ``.npz`` with the parameter arrays and a JSON description.

The file is a zip of ``.npy`` members: ``param/<name>`` for each Parameter and ``__meta__``, a
JSON string holding the format name and version, the model's ``kind``, its structure, the
declared dtype and shape of every array, their SHA-256, the model's ``preprocessing`` (its
input pipeline x -> x', ``Preprocessing.to_dict()`` or null) and any metadata the caller adds
(the dataset, the split, the metrics; ``metadata["preprocessing"]`` repeats the
preprocessing, as files written before ``Model.preprocessing`` held it there only, and such
files still load with it). ``kind`` is

* ``"mlp"``: a model built by :func:`flowgraph.mlp`, described by its ``config`` (the ``mlp``
  arguments) and rebuilt by ``mlp``;
* ``"graph"``: any other Model, described node by node (children first): each node's kind
  (input, parameter, box), its name, for a box its type's name and its ``config()`` (the
  constructor's arguments) and its children by name; plus the roles (which node is the loss,
  the output, the labels). A Block's inner graph is described the same way, nested.

Nothing read is trusted. Box types come only from flowgraph's own boxes (the Box subclasses
defined in ``flowgraph.boxes``) and the ``boxes=`` the caller passes: no name read from a file is
ever imported, and arrays are read with pickling off, so loading executes nothing from the file.
The zip's directory (member names, declared sizes, compression) is checked against the
description and against limits before a byte is decompressed, so a small crafted file cannot
take gigabytes of memory or minutes. Each array's SHA-256 covers its dtype, shape and bytes;
``sha256_meta`` covers the description itself (structure, roles and metadata such as the
preprocessing): every byte that changes what the model computes. The file is written to a
temporary file in the same folder and renamed, so a crash never leaves half a file. A
truncated, foreign, malformed or tampered file raises :class:`ModelFileError`. Files of format
version 1 (MLPs only) still load.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from ._atomic import atomic_write
from .errors import FlowgraphError

__all__ = [
    "save_model",
    "load_model",
    "box_types",
    "ModelFileError",
    "MissingBoxError",
    "FORMAT",
    "VERSION",
    "MAX_BYTES",
]

FORMAT = "flowgraph-model"
VERSION = 2

MAX_BYTES = 2**30  # default limit on the parameters' bytes a file may declare (1 GiB)
MAX_META_BYTES = 64 * 2**20  # the JSON description (a MNIST run's metadata is ~50 kB)
MAX_MEMBERS = 100_000  # zip members (one per parameter)
MAX_NODES = 1_000_000  # nodes in a described graph, Blocks' inner nodes included
MAX_DEPTH = 32  # Blocks nested in Blocks
MAX_HEADER = 65_536  # an .npy header (numpy writes 128 bytes)
_HEADER_LIMIT = "max_header_size" in inspect.signature(npy_format.read_array_header_1_0).parameters
MAX_RATIO = 1_100  # uncompressed / compressed size of a deflated member (deflate's own bound)


class ModelFileError(FlowgraphError, ValueError):
    """The file is not a valid flowgraph model: truncated, foreign, tampered or too new."""


class MissingBoxError(ModelFileError):
    """The file names a box type that is neither flowgraph's nor among ``boxes=``; ``box`` is
    its name."""

    def __init__(self, message: str, box: str = ""):
        super().__init__(message)
        self.box = box


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _canonical(meta: Mapping[str, Any]) -> bytes:
    """The bytes ``sha256_meta`` covers: the description without its own digest, as JSON with
    sorted keys and no spaces (the same text whichever way the file spaced it)."""
    body = {k: v for k, v in meta.items() if k != "sha256_meta"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# -- box types ------------------------------------------------------------------------------------


def box_types(boxes: Iterable[type] = ()) -> tuple[dict[str, type], dict[str, type]]:
    """The box types a file may name: flowgraph's own (every Box subclass defined in the
    ``flowgraph.boxes`` package, found by walking ``Box.__subclasses__()``: no table to keep)
    and the caller's ``boxes``, each by class name, as two dicts (own, the caller's)."""
    from . import boxes as _package  # noqa: F401  (imports every family, defining the classes)
    from .core import Box

    own: dict[str, type] = {}
    stack = [Box]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith(("flowgraph.boxes", "flowgraph.core")):
                other = own.setdefault(sub.__name__, sub)
                if other is not sub:  # a bug in flowgraph, not in a file
                    raise RuntimeError(
                        f"two flowgraph boxes are named {sub.__name__}: {other} and {sub}"
                    )
    user: dict[str, type] = {}
    for cls in boxes:
        if not (isinstance(cls, type) and issubclass(cls, Box)):
            raise TypeError(f"boxes= must hold Box subclasses, got {cls!r}")
        if user.setdefault(cls.__name__, cls) is not cls:
            raise ValueError(f"boxes= holds two classes named {cls.__name__}")
    return own, user


def _own_module(module: str) -> bool:
    return module == "flowgraph" or module.startswith("flowgraph.")


# -- saving ---------------------------------------------------------------------------------------


def _box_record(node, where: str) -> dict[str, Any]:
    box = node.box
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
    return {"box": cls.__name__, "module": cls.__module__, "config": config}


def _constant_class() -> type | None:
    try:
        from .core import Constant
    except ImportError:  # a flowgraph without constants
        return None
    return Constant


def _block_class() -> type | None:
    try:
        from .core.block import Block
    except ImportError:  # a flowgraph without blocks
        return None
    return Block


class _Describer:
    """The JSON description of a graph, node by node, children first; the Parameters' and
    constant arrays' values go to ``arrays``, each Block (shared by all its uses) once to
    ``blocks``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self._block_keys: dict[int, str] = {}
        self.Constant, self.Block = _constant_class(), _block_class()

    def graph(self, graph, prefix: str = "", depth: int = 0) -> dict[str, Any]:
        from .core import Input, Parameter

        where = f"in block {prefix[:-1]!r}: " if prefix else ""
        nodes: list[dict[str, Any]] = []
        for n in graph.order:
            record: dict[str, Any] = {"name": n.name}
            if getattr(n, "auto_named", False):
                record["auto"] = True
            if isinstance(n, Input):
                record["kind"] = "input"
            elif isinstance(n, Parameter):
                record["kind"] = "parameter"
                self.arrays[f"param/{prefix}{n.name}"] = np.ascontiguousarray(n.value)
            elif self.Constant is not None and isinstance(n, self.Constant):
                record["kind"] = "constant"
                v = n.value
                if type(v) in (int, float) and np.isfinite(v):
                    record["value"] = v  # a Python number stays one (NumPy's weak typing)
                else:
                    record["array"] = key = f"const/{prefix}{n.name}"
                    self.arrays[key] = np.array(v, order="C")
            elif n.box is not None:
                record["kind"] = "box"
                if self.Block is not None and isinstance(n.box, self.Block):
                    record["block"] = self.block(n.box.root, depth)
                    record["output"] = n.box.index
                else:
                    record.update(_box_record(n, where))
                record["children"] = [c.name for c in n.children]
            else:
                raise TypeError(
                    f"{where}node {n.describe()} is a leaf of kind {n.kind!r}, which a model "
                    "file cannot hold (Inputs, Parameters, constants and boxes only)"
                )
            nodes.append(record)
        return {"nodes": nodes, "outputs": [o.name for o in graph.outputs]}

    def block(self, root, depth: int) -> str:
        """The key of ``root`` (a Block) in ``blocks``, describing it on its first use."""
        key = self._block_keys.get(id(root))
        if key is None:
            if depth >= MAX_DEPTH:
                raise TypeError(f"Blocks are nested deeper than {MAX_DEPTH} levels")
            key = self._block_keys[id(root)] = f"b{len(self._block_keys)}"
            cls = type(root)
            self.blocks[key] = {
                "box": cls.__name__,
                "module": cls.__module__,
                "name": root.name,
                "inputs": [x.name for x in root.inputs],
                "graph": self.graph(root.graph, f"{key}/", depth + 1),
            }
        return key


def save_model(model, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (any :class:`~flowgraph.Model`) to ``path`` (``.npz``, atomically).

    Parameters
    ----------
    model
        A :class:`~flowgraph.Model`: one :func:`flowgraph.mlp` built, or any graph wrapped
        by ``fg.Model(loss=..., output=...)``. Every box must say how to rebuild itself
        (``config()``).
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
    from .errors import ModelError
    from .models import MLP, Model

    if not isinstance(model, Model):
        raise TypeError(
            f"save_model takes a Model, got {type(model).__name__}; wrap a graph's nodes: "
            "fg.Model(loss=loss_node, output=output_node)"
        )
    metadata = metadata if metadata is not None else model.metadata
    pre = model.preprocessing.to_dict() if model.preprocessing is not None else None
    if isinstance(metadata, Mapping):
        said = metadata.get("preprocessing", pre)
        if said != pre:
            raise ModelError(
                f"save_model: metadata['preprocessing'] is {said!r:.120} but the model's "
                f"preprocessing is {model.preprocessing!r}; the model owns its input pipeline: "
                "set model.preprocessing = fg.Preprocessing.from_dict(...) (or None)"
            )
        if pre is not None:
            metadata = {**metadata, "preprocessing": pre}
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if isinstance(model, MLP):
        meta["kind"] = "mlp"
        meta["config"] = model.config
        arrays = {f"param/{p.name}": np.ascontiguousarray(p.value) for p in model.parameters}
    else:
        meta["kind"] = "graph"
        describer = _Describer()
        meta["graph"] = describer.graph(model.graph)
        meta["blocks"] = describer.blocks
        arrays = describer.arrays
        meta["roles"] = {
            "loss": model.loss.name,
            "output": model.output.name if model.output is not None else None,
            "labels": model.labels.name if model.labels is not None else None,
            "classifier": model.classifier,
        }
    meta["parameters"] = [p.name for p in model.parameters]
    meta["arrays"] = {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in arrays.items()}
    meta["sha256"] = {k: _digest(v) for k, v in arrays.items()}
    meta["preprocessing"] = pre
    meta["metadata"] = metadata
    try:
        meta = json.loads(json.dumps(meta))  # the description as a reader will see it
        meta["sha256_meta"] = hashlib.sha256(_canonical(meta)).hexdigest()
        text = json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"model metadata must be JSON-serialisable: {e}") from None
    arrays["__meta__"] = np.array(text)
    atomic_write(path, lambda f: np.savez(f, **arrays), suffix=".npz")
    return path


# -- reading, checked ----------------------------------------------------------------------------


class _Reader:
    """The members of a model's zip, each read only after its directory entry was checked."""

    def __init__(self, path: Path, zf: zipfile.ZipFile, max_bytes: int):
        self.path, self.zf, self.max_bytes = path, zf, max_bytes
        self.size = path.stat().st_size
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise self.error(f"holds {len(infos)} members; a model holds at most {MAX_MEMBERS}")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename
            if name in self.members:
                raise self.error(f"holds two members named {name!r}")
            if not name.endswith(".npy"):
                raise self.error(f"holds {name!r}, which is not an array of a flowgraph model")
            if info.flag_bits & 0x1:
                raise self.error(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self.error(f"member {name!r} uses an unsupported compression")
            if info.compress_size > self.size or (
                info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size
            ):
                raise self.error(f"member {name!r} declares sizes the file cannot hold")
            if info.file_size > MAX_RATIO * info.compress_size + MAX_HEADER:
                raise self.error(
                    f"member {name!r} declares {info.file_size} bytes from {info.compress_size} "
                    "compressed: not an array file (a zip bomb?)"
                )
            self.members[name[: -len(".npy")]] = info

    def error(self, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: {message}")

    def read(self, key: str, *, kinds: str, shape: tuple[int, ...] | None, dtype=None):
        """The array of member ``key``, checked: the .npy header's dtype (of a kind in
        ``kinds``) and shape (when given) and the member's size, before its data is read."""
        info = self.members[key]
        with self.zf.open(info) as f:
            try:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    read_header = npy_format.read_array_header_1_0
                elif version == (2, 0):
                    read_header = npy_format.read_array_header_2_0
                else:
                    raise ValueError(f".npy version {version} is not supported")
                # NumPy < 1.24 takes no header limit; the member's size is bounded above
                limit = {"max_header_size": MAX_HEADER} if _HEADER_LIMIT else {}
                h_shape, fortran, h_dtype = read_header(f, **limit)
            except (ValueError, EOFError, OSError, SyntaxError, zipfile.BadZipFile) as e:
                raise self.error(f"array {key} has no valid .npy header: {e}") from None
            if h_dtype.kind not in kinds or h_dtype.hasobject or h_dtype.fields is not None:
                raise ModelFileError(
                    f"{self.path} is not a readable flowgraph model: array {key} has dtype "
                    f"{h_dtype} (pickled objects are never loaded)"
                    if h_dtype.hasobject
                    else f"{self.path}: array {key} has dtype {h_dtype}, not a model's float"
                )
            if dtype is not None and h_dtype != np.dtype(dtype):
                raise self.error(f"array {key} has dtype {h_dtype}, the description says {dtype}")
            if shape is not None and tuple(h_shape) != tuple(shape):
                raise self.error(
                    f"array {key} has shape {tuple(h_shape)}, the description says {tuple(shape)}"
                )
            nbytes = int(np.prod(h_shape, dtype=np.int64)) * h_dtype.itemsize
            if nbytes + f.tell() != info.file_size:
                raise self.error(
                    f"array {key}: its member holds {info.file_size} bytes, its header says "
                    f"{nbytes + f.tell()}"
                )
            try:
                data = f.read(nbytes)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
                raise self.error(f"array {key} cannot be read (truncated?): {e}") from None
        if len(data) != nbytes:
            raise self.error(f"array {key} is truncated")
        a = np.frombuffer(data, dtype=h_dtype).reshape(h_shape, order="F" if fortran else "C")
        return np.array(a, order="C", copy=True)  # (ascontiguousarray would make 0-d 1-d)


def _meta_of(reader: _Reader) -> dict[str, Any]:
    if "__meta__" not in reader.members:
        raise reader.error("is an .npz file but not a flowgraph model (no __meta__)")
    if reader.members["__meta__"].file_size > MAX_META_BYTES + MAX_HEADER:
        raise reader.error(f"its description is larger than {MAX_META_BYTES} bytes")
    text = reader.read("__meta__", kinds="U", shape=())
    try:
        meta = json.loads(str(text[()]))
    except (ValueError, RecursionError) as e:
        raise reader.error(f"the model description is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise reader.error("is not a flowgraph model file (format tag missing)")
    version = meta.get("version")
    if type(version) is not int or not 1 <= version <= VERSION:
        raise reader.error(
            f"has model format version {version!r}; this flowgraph reads versions up to {VERSION}"
        )
    return meta


def _field(meta: Mapping[str, Any], key: str, kind: type | tuple, what: str, path: Path):
    value = meta.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float):
        raise ModelFileError(f"{path}: {what} ({key!r}) is missing or malformed: {value!r}")
    return value


def _mlp_arrays(config: Any, path: Path, max_bytes: int) -> dict[str, tuple[str, tuple]]:
    """The parameters an ``mlp`` config implies, as {key: (dtype, shape)}, checked against the
    limit before anything is built."""
    from .models import ACTIVATIONS

    def bad(why: str) -> ModelFileError:
        return ModelFileError(f"{path}: invalid architecture {config!r}: {why}")

    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model description lacks its architecture")
    sizes = config.get("sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(type(s) is int and s >= 1 for s in sizes)
    ):
        raise bad("sizes must be a list of at least two whole numbers >= 1")
    activation = config.get("activation")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise bad(f"unknown activation {config.get('activation')!r}")
    for key in ("l2", "l1"):
        v = config.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise bad(f"{key} must be a number >= 0")
    from . import init as initializers

    weight_init = config.get("weight_init", "glorot_uniform")
    if not isinstance(weight_init, str):
        raise bad("weight_init must be an initialiser's name")
    if weight_init != "custom":
        try:
            initializers.get(weight_init)
        except ValueError as e:
            raise bad(str(e)) from None
    seed = config.get("seed")
    if seed is not None and type(seed) is not int:
        raise bad("seed must be a whole number or null")
    try:
        dtype = np.dtype(config.get("dtype", "float32"))
        if not isinstance(config.get("dtype", "float32"), str):
            raise TypeError
    except (TypeError, ValueError):
        raise bad(f"unknown dtype {config.get('dtype')!r}") from None
    if dtype.kind != "f":
        raise bad(f"dtype {dtype} is not a float type")
    shapes: dict[str, tuple[str, tuple]] = {}
    total = 0
    for k in range(1, len(sizes)):
        shapes[f"param/W{k}"] = (dtype.str, (sizes[k], sizes[k - 1]))
        shapes[f"param/b{k}"] = (dtype.str, (sizes[k],))
        total += (sizes[k] * sizes[k - 1] + sizes[k]) * dtype.itemsize
    if total > max_bytes:
        raise ModelFileError(
            f"{path}: the architecture needs {total} bytes of parameters, over the limit of "
            f"{max_bytes} (pass max_bytes= to load a model that large)"
        )
    return shapes


def _declared_arrays(meta: dict, path: Path, max_bytes: int) -> dict[str, tuple[str, tuple]]:
    declared = _field(meta, "arrays", dict, "the arrays' dtypes and shapes", path)
    out: dict[str, tuple[str, tuple]] = {}
    total = 0
    for key, spec in declared.items():
        if not (isinstance(spec, dict) and isinstance(spec.get("dtype"), str)):
            raise ModelFileError(f"{path}: array {key!r} is declared without a dtype: {spec!r}")
        shape = spec.get("shape")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise ModelFileError(f"{path}: array {key!r} has a malformed shape {shape!r}")
        try:
            dtype = np.dtype(spec["dtype"])
        except (TypeError, ValueError):
            raise ModelFileError(f"{path}: array {key!r} has an unknown dtype") from None
        constant = isinstance(key, str) and key.startswith("const/")
        if dtype.kind not in ("biuf" if constant else "f") or dtype.str != spec["dtype"]:
            raise ModelFileError(
                f"{path}: array {key!r} is declared {spec['dtype']!r}; parameters are floats, "
                "constants numbers"
            )
        total += int(np.prod(shape, dtype=object)) * dtype.itemsize
        if total > max_bytes:
            raise ModelFileError(
                f"{path}: the arrays declared add up to more than the limit of {max_bytes} "
                "bytes (pass max_bytes= to load a model that large)"
            )
        out[key] = (dtype.str, tuple(shape))
    return out


def _read_arrays(
    reader: _Reader, meta: dict, declared: dict[str, tuple[str, tuple]], legacy: bool
) -> dict[str, np.ndarray]:
    path = reader.path
    present = sorted(k for k in reader.members if k != "__meta__")
    digests = _field(meta, "sha256", dict, "the arrays' SHA-256", path)
    if set(present) != set(declared) or set(digests) != set(declared):
        raise ModelFileError(
            f"{path}: arrays {present} do not match the description {sorted(declared)}"
        )
    arrays = {}
    for key, (dtype, shape) in declared.items():
        # version 1 wrote whatever the parameters held: only the kind and shape are known
        kinds = "biuf" if key.startswith("const/") else "f"
        arrays[key] = reader.read(key, kinds=kinds, shape=shape, dtype=None if legacy else dtype)
        if _digest(arrays[key]) != digests[key]:
            raise ModelFileError(f"{path}: array {key} was modified (its SHA-256 does not match)")
    return arrays


def load_model(
    path: str | os.PathLike, boxes: Iterable[type] = (), *, max_bytes: int = MAX_BYTES
):
    """Read a model written by ``Model.save`` / ``save_model``; its outputs are identical.

    Parameters
    ----------
    path
        A ``.npz`` file written by :func:`save_model` (or by flowgraph's format 1).
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
    See :func:`save_model`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    own, user = box_types(boxes)
    try:
        with zipfile.ZipFile(path) as zf:
            reader = _Reader(path, zf, max_bytes)
            meta = _meta_of(reader)
            kind = meta.get("kind")
            legacy = meta["version"] == 1
            if kind == "mlp":
                implied = _mlp_arrays(meta.get("config"), path, max_bytes)
                declared = implied if legacy else _declared_arrays(meta, path, max_bytes)
                for key, (dtype, shape) in implied.items():
                    if key in declared and declared[key][1] != shape:
                        raise ModelFileError(
                            f"{path}: parameter {key[6:]} has shape {declared[key][1]}, the "
                            f"architecture needs {shape}"
                        )
                    if key in declared and declared[key][0] != dtype:
                        raise ModelFileError(
                            f"{path}: parameter {key[6:]} is declared {declared[key][0]}, the "
                            f"architecture needs {dtype}"
                        )
            elif kind == "graph" and not legacy:
                declared = _declared_arrays(meta, path, max_bytes)
            else:
                raise ModelFileError(f"{path}: unknown model kind {kind!r}")
            if not legacy:
                _check_meta_digest(meta, path)
            arrays = _read_arrays(reader, meta, declared, legacy)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, ValueError, NotImplementedError, RuntimeError) as e:
        raise ModelFileError(
            f"{path} is not a readable flowgraph model (truncated or not an .npz file): {e}"
        ) from None
    except (OSError, EOFError) as e:
        raise ModelFileError(f"{path} cannot be read (truncated?): {e}") from None
    if kind == "mlp":
        model = _build_mlp(meta["config"], arrays, path)
    else:
        model = _build_graph_model(meta, arrays, own, user, path)
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
    model.preprocessing = _preprocessing_of(meta, metadata, model, path)
    return model


def _preprocessing_of(meta: dict, metadata: dict, model, path: Path):
    """The model's preprocessing, as the file describes it: its own entry, or in files written
    before there was one, ``metadata["preprocessing"]`` (what ``flowgraph train`` and
    ``search`` stored). Checked like the rest: a malformed one, one that disagrees with the
    metadata's or that cannot take the model's inputs is a ModelFileError."""
    from .errors import ModelError
    from .preprocessing import Preprocessing, PreprocessingError

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
        model._check_preprocessing(pre)
        if not any(i.name == "x" for i in model.inputs):
            raise ModelError("it applies to an Input named 'x', and the model has none")
    except (PreprocessingError, ModelError) as e:
        raise ModelFileError(f"{path}: its preprocessing: {e}") from None
    return pre


def _check_meta_digest(meta: dict, path: Path) -> None:
    digest = meta.get("sha256_meta")
    if not isinstance(digest, str):
        raise ModelFileError(f"{path}: the description lacks its SHA-256 (sha256_meta)")
    if hashlib.sha256(_canonical(meta)).hexdigest() != digest:
        raise ModelFileError(
            f"{path}: the model description (structure, roles or metadata) was modified: its "
            "SHA-256 does not match"
        )


def _build_mlp(config: dict, arrays: dict[str, np.ndarray], path: Path):
    from .models import mlp

    try:
        model = mlp(
            config["sizes"],
            activation=config["activation"],
            l2=config.get("l2", 0.0),
            l1=config.get("l1", 0.0),
            dtype=config.get("dtype", "float32"),
            seed=0,
            weight_init="zeros",
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: invalid architecture {config!r}: {e}") from None
    model.config = dict(config)
    for p in model.parameters:
        p.value = arrays[f"param/{p.name}"].astype(p.value.dtype, copy=True)
    return model


def _build_graph_model(meta: dict, arrays, own: dict, user: dict, path: Path):
    from .errors import GraphError, ModelError
    from .models import Model

    structure = _field(meta, "graph", dict, "the graph's structure", path)
    roles = _field(meta, "roles", dict, "the roles of its nodes", path)
    blocks = meta.get("blocks", {})
    if not isinstance(blocks, dict):
        raise ModelFileError(f"{path}: 'blocks' is malformed: {blocks!r:.200}")
    builder = _Builder(arrays, blocks, own, user, path)
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


class _Builder:
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
        from .core import Input, Node, Parameter

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
        return nodes, [nodes[o] for o in outputs]

    def array(self, key: str, where: str, name: str) -> np.ndarray:
        if key not in self.arrays:
            raise self.fail(where, f"node {name!r} has no array {key}")
        self.used.add(key)
        return self.arrays[key]

    def constant(self, rec: dict, prefix: str, where: str):
        Constant = _constant_class()
        name = rec["name"]
        if Constant is None:
            raise self.fail(where, f"node {name!r} is a constant, which this flowgraph lacks")
        if "array" in rec:
            if rec["array"] != f"const/{prefix}{name}":
                raise self.fail(where, f"constant {name!r} names array {rec['array']!r:.100}")
            value = self.array(rec["array"], where, name)
        else:
            value = rec.get("value")
            if type(value) not in (int, float):
                raise self.fail(where, f"constant {name!r} holds no number: {value!r:.100}")
        return Constant(value, name)

    def box_type(self, type_name: Any, module: Any, where: str, name: str) -> type:
        if not isinstance(type_name, str) or not isinstance(module, str):
            raise self.fail(where, f"node {name!r} does not name its box type and module")
        own = _own_module(module)
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
        from .core import Box
        from .errors import GraphError

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
        from .core import Graph

        if not isinstance(key, str) or not isinstance(self.blocks.get(key), dict):
            raise self.fail(where, f"node {name!r} uses block {key!r:.50}, which is not described")
        if key in self.built:
            return self.built[key]
        if key in self.building or depth >= MAX_DEPTH:
            raise self.fail(where, f"block {key!r} contains itself or nests too deep")
        self.building.add(key)
        desc = self.blocks[key]
        cls = self.box_type(desc.get("box"), desc.get("module"), where, name)
        Block = _block_class()
        if Block is None or not issubclass(cls, Block):
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
