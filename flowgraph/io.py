"""Saving and loading models: one ``.npz`` with the parameter arrays and a JSON description.

The file holds ``param/<name>`` arrays and ``__meta__``, a JSON string with the format name
and version, the architecture (the ``mlp`` arguments), the SHA-256 of every array and any
metadata the caller adds (the dataset, the metrics). It is written to a temporary file in the
same folder and renamed, so a crash never leaves half a file; it is read with
``allow_pickle=False``, so loading executes nothing. A truncated, foreign or tampered file
raises :class:`ModelFileError`.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

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


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _stale_temporaries(path: Path, suffix: str) -> list[Path]:
    """Temporary files an earlier writer of ``path`` left behind when it was killed: named
    ``.NAME.PID.*SUFFIX`` by a process that is gone."""
    stale = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*{suffix}"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            stale.append(tmp)
    return stale


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def atomic_write(path: str | os.PathLike, write, *, suffix: str = ".tmp") -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    A reader sees the old file or the new one, never half of one. The temporary file is
    removed on any exception; one left by a writer that was killed outright (SIGKILL, power
    loss) carries that writer's pid in its name, and the next write of ``path`` removes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _stale_temporaries(path, suffix):
        stale.unlink(missing_ok=True)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a saved model is a normal file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def save_model(model, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` to ``path`` (``.npz``). ``metadata`` must be JSON-serialisable."""
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
    """Read a model written by ``Model.save`` / ``save_model``; predictions are identical."""
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
