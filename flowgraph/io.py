"""Saving and loading models: one ``.npz`` with the parameter arrays and a JSON description.

The file holds ``param/<name>`` arrays and ``__meta__``, a JSON string with the format name
and version, the architecture (the ``mlp`` arguments), the SHA-256 of every array and any
metadata the caller adds (the dataset, the metrics). It is written to a temporary file in the
same folder and renamed, so a crash never leaves half a file; it is read with
``allow_pickle=False``, so loading executes nothing. A truncated, foreign or tampered file
raises :class:`ModelFileError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write
from .errors import FlowgraphError

__all__ = ["save_model", "load_model", "ModelFileError", "FORMAT", "VERSION"]

FORMAT = "flowgraph-model"
VERSION = 1


class ModelFileError(FlowgraphError, ValueError):
    """The file is not a valid flowgraph model: truncated, foreign, tampered or too new."""


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def save_model(model, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` (``.npz``). ``metadata`` must be JSON-serialisable.

    Parameters
    ----------
    model
        A :class:`~flowgraph.Model` (from :func:`flowgraph.mlp`).
    path
        The file; ``.npz`` is added when the suffix is another. Written atomically.
    metadata
        JSON-serialisable data saved with the model (default ``model.metadata``): the data
        set, its split, the metrics.

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
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
    arrays = {f"param/{p.name}": np.ascontiguousarray(p.value) for p in model.parameters}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "mlp",
        "config": model.config,
        "parameters": [p.name for p in model.parameters],
        "sha256": {k: _digest(v) for k, v in arrays.items()},
        "metadata": metadata if metadata is not None else getattr(model, "metadata", {}),
    }
    try:
        text = json.dumps(meta, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"model metadata must be JSON-serialisable: {e}") from None
    arrays["__meta__"] = np.array(text)
    atomic_write(path, lambda f: np.savez(f, **arrays), suffix=".npz")
    return path


def load_model(path: str | os.PathLike):
    """Read a model written by ``Model.save`` / ``save_model``; predictions are identical.

    Parameters
    ----------
    path
        A ``.npz`` file written by :func:`save_model`.

    Returns
    -------
    Model
        The same architecture and parameter arrays (dtype and all), with ``metadata``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        The file is truncated, foreign, tampered with (an array's SHA-256 differs) or from a
        newer format version.

    Examples
    --------
    See :func:`save_model`.
    """
    from .models import mlp

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise ModelFileError(
            f"{path} is not a readable flowgraph model (truncated or not an .npz file): {e}"
        ) from None
    if "__meta__" not in contents:
        raise ModelFileError(f"{path} is an .npz file but not a flowgraph model (no __meta__)")
    try:
        meta = json.loads(str(contents.pop("__meta__")))
    except (json.JSONDecodeError, TypeError) as e:
        raise ModelFileError(f"{path}: the model description is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a flowgraph model file (format tag missing)")
    version = meta.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r}; this flowgraph reads up to {VERSION}"
        )
    if meta.get("kind") != "mlp":
        raise ModelFileError(f"{path}: unknown model kind {meta.get('kind')!r}")
    config = meta.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model description lacks its architecture")
    expected = set(meta.get("sha256", {}))
    if set(contents) != expected:
        raise ModelFileError(
            f"{path}: arrays {sorted(contents)} do not match the description {sorted(expected)}"
        )
    for key, arr in contents.items():
        if _digest(arr) != meta["sha256"][key]:
            raise ModelFileError(f"{path}: array {key} was modified (its SHA-256 does not match)")
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
        key = f"param/{p.name}"
        if key not in contents:
            raise ModelFileError(f"{path}: missing parameter {p.name}")
        if contents[key].shape != p.value.shape:
            raise ModelFileError(
                f"{path}: parameter {p.name} has shape {contents[key].shape}, the architecture "
                f"needs {p.value.shape}"
            )
        p.value = contents[key].astype(p.value.dtype, copy=True)
    model.metadata = meta.get("metadata") or {}
    return model
