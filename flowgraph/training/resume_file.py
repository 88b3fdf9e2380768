"""resume.npz: where a run stands, in one file, checked before anything in it is trusted.

After every whole epoch (and once before the first) :class:`ResumePoint` writes, atomically:
the parameters theta (``param/NAME``), early stopping's best parameters (``best/NAME``), the
optimiser's buffers (``opt/BUFFER/I``) and, as JSON in ``__meta__``, the run's options, the
:class:`TrainState` and the optimiser's scalars, with a SHA-256 of all of it. No pickle.

:func:`read_resume_point` refuses, with one :class:`ResumeFileError` line: a file that is not a
zip of .npy arrays, a member whose header declares more bytes than the file holds (a
(1e10,) array is never allocated) or whose dtype is not numbers, more than the machine's
memory in all, a JSON part of the wrong types, an options set with names a run never stores
(``resume``, ``out``), and, in files of version 2, any byte that does not match the hash.
Files of version 1 (no hash) still load.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from .._json import loads_bounded
from ..errors import FlowgraphError
from .callbacks import Callback
from .resume import TrainState

__all__ = ["RESUME", "RESUME_FORMAT", "ResumeFileError", "ResumePoint", "read_resume_point",
           "MAX_META_BYTES"]  # fmt: skip

RESUME = "resume.npz"  # where a run stands after its last finished epoch (--resume DIR)
RESUME_FORMAT = "flowgraph-resume"
VERSION = 2  # 2: with the SHA-256 of its contents; 1 (no hash) is still read
MAX_META_BYTES = 16 * 2**20  # the JSON part: options, history, optimiser scalars
NUMBERS = "biuf"  # dtype kinds a parameter or buffer may have


class ResumeFileError(FlowgraphError, ValueError):
    """A resume file that cannot be trusted: unreadable, malformed or altered."""


def digest(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the JSON part (without its own hash) and of every array: name, dtype,
    shape and bytes, in name order."""
    h = hashlib.sha256()
    body = {k: v for k, v in meta.items() if k != "sha256"}
    h.update(json.dumps(body, sort_keys=True, allow_nan=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ResumePoint(Callback):
    """After every whole epoch, ``path`` (a resume.npz): the current parameters, the
    optimiser's state, the TrainState (and early stopping's best parameters) and the run's
    options ``config``; before the first epoch too, so that a run stopped at any moment is
    one that can be resumed."""

    def __init__(self, path: Path, optimizer: Any, state: TrainState, config: dict[str, Any]):
        self.path, self.optimizer, self.state, self.config = Path(path), optimizer, state, config

    def on_train_begin(self, model: Any) -> None:
        if self.state.epoch == 0:
            self.write(model)

    def on_epoch_end(self, model: Any, history: Any) -> bool:
        if self.state.epoch == history.epoch[-1]:  # an epoch cut short: keep the last point
            self.write(model)
        return False

    def write(self, model: Any) -> None:
        arrays = {f"param/{k}": v for k, v in model.state(buffers=True).items()}
        for name, value in (self.state.best_state or {}).items():
            arrays[f"best/{name}"] = value
        opt = self.optimizer.state()
        buffers = {}
        for key, value in opt.items():
            if isinstance(value, list) and key != "names":
                buffers[key] = [a is not None for a in value]
                for i, a in enumerate(value):
                    if a is not None:
                        arrays[f"opt/{key}/{i}"] = a
        scalars = {k: v for k, v in opt.items() if k not in buffers}
        meta = {"format": RESUME_FORMAT, "version": VERSION, "args": self.config,
                "buffers": buffers, "state": self.state.to_dict(),
                "optimizer": scalars}  # fmt: skip
        meta["sha256"] = digest(meta, arrays)
        arrays["__meta__"] = np.array(json.dumps(meta))
        atomic_write(self.path, lambda f: np.savez(f, **arrays), suffix=".npz")


def read_resume_point(path: str | Path, memory: int) -> dict[str, Any]:
    """The resume file at ``path``, checked: ``{"args", "state" (a TrainState), "optimizer"
    (its ``state()``), "params", "best"}``. ``memory`` bounds the bytes its arrays may hold."""
    path = Path(path)
    try:
        check_members(path, memory)
        with np.load(path, allow_pickle=False) as f:
            meta = loads_bounded(str(f["__meta__"]))
            arrays = {k: f[k] for k in f.files if k != "__meta__"}
        return unpack(meta, arrays)
    except ResumeFileError as e:
        raise ResumeFileError(f"{path}: {e}") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as e:
        raise ResumeFileError(f"{path} cannot be read ({e})") from None


def check_members(path: Path, memory: int) -> None:
    """Every member an .npy array of numbers whose header asks for no more bytes than the
    member holds, all of them within ``memory`` (read from the headers: nothing allocated)."""
    total = 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename.removesuffix(".npy")
            total += info.file_size
            if total > memory:
                raise ResumeFileError(
                    f"its arrays hold {total} bytes and more, beyond the {memory} bytes of "
                    "memory available"
                )
            if name != "__meta__" and not name.startswith(("param/", "best/", "opt/")):
                raise ResumeFileError(f"unexpected member {info.filename!r}")
            with z.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0)):
                    raise ResumeFileError(f"member {name!r}: .npy version {version}")
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)  # fmt: skip
                shape, _, dtype = read(member)
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            kinds = "U" if name == "__meta__" else NUMBERS
            if dtype.hasobject or dtype.kind not in kinds:
                raise ResumeFileError(f"member {name!r} holds {dtype}, not numbers")
            if nbytes > info.file_size or (name == "__meta__" and nbytes > MAX_META_BYTES):
                raise ResumeFileError(
                    f"member {name!r} declares shape {shape} ({nbytes} bytes) but holds "
                    f"{info.file_size}"
                )


def unpack(meta: Any, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The parts of a resume file, every field's type checked and (version 2) its hash."""
    if not isinstance(meta, dict) or meta.get("format") != RESUME_FORMAT:
        raise ResumeFileError("not a flowgraph resume point")
    version = meta.get("version")
    if type(version) is not int or version not in (1, VERSION):  # (true == 1: no version)
        raise ResumeFileError(f"version {version!r} is not one this flowgraph reads")
    if meta["version"] >= 2 and meta.get("sha256") != digest(meta, arrays):
        raise ResumeFileError("its contents do not match their SHA-256: the file was altered "
                              "or damaged")  # fmt: skip
    for key in ("args", "buffers", "optimizer"):
        if not isinstance(meta.get(key), dict):
            got = type(meta.get(key)).__name__
            raise ResumeFileError(f"{key} must be a JSON object, got {got}")
    opt = dict(meta["optimizer"])
    for key, present in meta["buffers"].items():
        if not isinstance(present, list) or not all(isinstance(p, bool) for p in present):
            raise ResumeFileError(f"buffers {key!r} must be a list of true/false")
        opt[key] = [arrays[f"opt/{key}/{i}"] if has else None for i, has in enumerate(present)]
    for name, a in arrays.items():  # a parameter (or its best value) holds real numbers
        if name.startswith(("param/", "best/")) and not np.issubdtype(a.dtype, np.floating):
            raise ResumeFileError(f"member {name!r} holds {a.dtype} values; a parameter holds "
                                  "floating-point numbers")  # fmt: skip
    best = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")} or None
    params = {k[6:]: v for k, v in arrays.items() if k.startswith("param/")}
    try:
        state = TrainState.from_dict(meta.get("state"), best_state=best)
    except ValueError as e:
        raise ResumeFileError(str(e)) from None
    return {"args": meta["args"], "state": state, "optimizer": opt, "params": params,
            "best": best}  # fmt: skip
