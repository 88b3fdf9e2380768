"""The model file's layout, its limits and hashes, and the checks of everything read.

A model file is one ``.npz``: a zip of ``.npy`` members, ``param/<name>`` for each
Parameter (``param/<block>/<name>`` inside a Block, ``const/...`` for constant arrays) and
``__meta__``, a JSON string, the *description*:

* ``format`` (``"flowgraph-model"``) and ``version`` (3);
* ``graph``: the model's graph node by node, children first: each node's kind (input,
  parameter, constant, box), its name, for a box its type's name, module and ``config()``
  (the constructor's arguments) and its children by name; ``blocks``: each Block's inner
  graph, described the same way, once however often it is used;
* ``roles``: which node is the loss, the output, the labels, and whether it is a classifier;
* ``builder``: null, or ``{"name": "mlp", "config": ...}`` for a model :func:`flowgraph.mlp`
  built (it comes back as that MLP, and its graph must be the one ``mlp(**config)`` builds);
* ``parameters`` (their names, in order), ``arrays`` (every member's declared dtype and
  shape), ``sha256`` (each array's SHA-256, over its dtype, shape and bytes);
* ``preprocessing`` (the model's input pipeline x -> x', ``Preprocessing.to_dict()`` or null;
  ``metadata["preprocessing"]`` repeats it) and ``metadata`` (what the caller adds);
* ``sha256_meta``: the SHA-256 of the description itself (:func:`canonical`): every byte
  that changes what the model computes is covered.

One kind of file is written (:mod:`flowgraph.io.save`). Older files still load
(:mod:`flowgraph.io.legacy`): format 1 and format 2's ``kind: "mlp"`` held an MLP's config
and no graph; format 2's ``kind: "graph"`` is this layout without ``builder``.

Nothing read is trusted. Box types come only from flowgraph's own boxes and the ``boxes=``
the caller passes (:func:`box_types`): no name read from a file is ever imported, and arrays
are read with pickling off. The zip's directory (member names, declared sizes, compression)
is checked against the description and against the limits below before a byte is
decompressed (:class:`Reader`), so a small crafted file cannot take gigabytes of memory or
minutes. A truncated, foreign, malformed or tampered file raises :class:`ModelFileError`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .. import boxes as _boxes  # noqa: F401  (imports every family, defining the classes)
from ..core import Box
from ..errors import FlowgraphError
from ..model.mlp import check_config, parameter_shapes

__all__ = [
    "FORMAT",
    "VERSION",
    "MAX_BYTES",
    "ModelFileError",
    "MissingBoxError",
    "Reader",
    "box_types",
    "canonical",
    "check_meta_digest",
    "declared_arrays",
    "digest",
    "field",
    "is_own_module",
    "mlp_arrays",
    "read_arrays",
    "read_meta",
]

FORMAT = "flowgraph-model"
VERSION = 3  # 3: one kind of file (every model as a graph); 2: kinds "mlp" and "graph"; 1: MLPs

MAX_BYTES = 2**30  # default limit on the parameters' bytes a file may declare (1 GiB)
MAX_META_BYTES = 64 * 2**20  # the JSON description (a MNIST run's metadata is ~50 kB)
MAX_MEMBERS = 100_000  # zip members (one per parameter)
MAX_NODES = 1_000_000  # nodes in a described graph, Blocks' inner nodes included
MAX_DEPTH = 32  # Blocks nested in Blocks
MAX_HEADER = 65_536  # an .npy header (numpy writes 128 bytes)
_HEADER_LIMIT = "max_header_size" in inspect.signature(npy_format.read_array_header_1_0).parameters
MAX_RATIO = 1_100  # uncompressed / compressed size of a deflated member (deflate's own bound)

OWN_BOX_PACKAGES = ("flowgraph.boxes", "flowgraph.core")  # where flowgraph's boxes are defined


class ModelFileError(FlowgraphError, ValueError):
    """The file is not a valid flowgraph model: truncated, foreign, tampered or too new."""


class MissingBoxError(ModelFileError):
    """The file names a box type that is neither flowgraph's nor among ``boxes=``; ``box`` is
    its name."""

    def __init__(self, message: str, box: str = ""):
        super().__init__(message)
        self.box = box


def digest(a: np.ndarray) -> str:
    """The SHA-256 of an array: its dtype, its shape and its bytes (C order)."""
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def canonical(meta: Mapping[str, Any]) -> bytes:
    """The bytes ``sha256_meta`` covers: the description without its own digest, as JSON with
    sorted keys and no spaces (the same text whichever way the file spaced it)."""
    body = {k: v for k, v in meta.items() if k != "sha256_meta"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# -- box types ------------------------------------------------------------------------------------


def box_types(boxes: Iterable[type] = ()) -> tuple[dict[str, type], dict[str, type]]:
    """The box types a file may name: flowgraph's own (every Box subclass defined in
    ``flowgraph.boxes`` or ``flowgraph.core``, found by walking ``Box.__subclasses__()``: no
    table to keep) and the caller's ``boxes``, each by class name, as two dicts (own, the
    caller's)."""
    own: dict[str, type] = {}
    stack: list[type[Box]] = [Box]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith(OWN_BOX_PACKAGES):
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


def is_own_module(module: str) -> bool:
    """Whether a module a file names is flowgraph's (its box is looked up among flowgraph's
    own; files written before a box moved name its old module)."""
    return module == "flowgraph" or module.startswith("flowgraph.")


# -- reading, checked ----------------------------------------------------------------------------


class Reader:
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


def read_meta(reader: Reader) -> dict[str, Any]:
    """The description (``__meta__``), parsed and checked: size, JSON, format tag, version."""
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


def field(meta: Mapping[str, Any], key: str, kind: type | tuple, what: str, path: Path):
    """``meta[key]``, which must be of type ``kind`` (booleans are no numbers)."""
    value = meta.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float):
        raise ModelFileError(f"{path}: {what} ({key!r}) is missing or malformed: {value!r}")
    return value


def mlp_arrays(config: Any, path: Path, max_bytes: int) -> dict[str, tuple[str, tuple]]:
    """The parameters an ``mlp`` config implies, as {``param/<name>``: (dtype, shape)},
    checked (:func:`flowgraph.model.mlp.check_config`) and held to the limit before anything
    is built."""
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model description lacks its architecture")
    try:
        check_config(config)
    except ValueError as e:
        raise ModelFileError(f"{path}: invalid architecture {config!r}: {e}") from None
    dtype = np.dtype(config.get("dtype", "float32"))
    shapes = parameter_shapes(config["sizes"], dtype)
    total = sum(int(np.prod(shape, dtype=object)) for _, shape in shapes.values()) * dtype.itemsize
    if total > max_bytes:
        raise ModelFileError(
            f"{path}: the architecture needs {total} bytes of parameters, over the limit of "
            f"{max_bytes} (pass max_bytes= to load a model that large)"
        )
    arrays = {f"param/{name}": spec for name, spec in shapes.items()}
    if config.get("batch_norm"):  # each hidden layer's gamma, beta and running statistics
        for k, width in enumerate(config["sizes"][1:-1], start=1):
            spec = (dtype.str, (width,))
            arrays.update({f"param/gamma{k}": spec, f"param/beta{k}": spec,
                           f"buffer/running_mean{k}": spec, f"buffer/running_var{k}": spec})
    return arrays


def declared_arrays(meta: dict, path: Path, max_bytes: int) -> dict[str, tuple[str, tuple]]:
    """The arrays the description declares, {key: (dtype, shape)}: floats for parameters,
    numbers for constants, in all at most ``max_bytes``."""
    declared = field(meta, "arrays", dict, "the arrays' dtypes and shapes", path)
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


def read_arrays(
    reader: Reader, meta: dict, declared: dict[str, tuple[str, tuple]], legacy: bool
) -> dict[str, np.ndarray]:
    """Every declared array, read and checked against its declaration and its SHA-256
    (``legacy``: format 1, which declared no dtypes)."""
    path = reader.path
    present = sorted(k for k in reader.members if k != "__meta__")
    digests = field(meta, "sha256", dict, "the arrays' SHA-256", path)
    if set(present) != set(declared) or set(digests) != set(declared):
        raise ModelFileError(
            f"{path}: arrays {present} do not match the description {sorted(declared)}"
        )
    arrays = {}
    for key, (dtype, shape) in declared.items():
        # version 1 wrote whatever the parameters held: only the kind and shape are known
        kinds = "biuf" if key.startswith("const/") else "f"
        arrays[key] = reader.read(key, kinds=kinds, shape=shape, dtype=None if legacy else dtype)
        if digest(arrays[key]) != digests[key]:
            raise ModelFileError(f"{path}: array {key} was modified (its SHA-256 does not match)")
    return arrays


def check_meta_digest(meta: dict, path: Path) -> None:
    """Refuse a description whose ``sha256_meta`` is missing or does not match."""
    said = meta.get("sha256_meta")
    if not isinstance(said, str):
        raise ModelFileError(f"{path}: the description lacks its SHA-256 (sha256_meta)")
    if hashlib.sha256(canonical(meta)).hexdigest() != said:
        raise ModelFileError(
            f"{path}: the model description (structure, roles or metadata) was modified: its "
            "SHA-256 does not match"
        )
