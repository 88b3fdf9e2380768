"""Options shared by the commands that read a saved model (``render``, ``evaluate``): the user's
own box classes (``--boxes``) and a feed of arrays (``--feed``) for a model of any graph."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--boxes",
        action="append",
        default=[],
        metavar="MODULE:CLASS",
        help="a Box class of your own that the model uses, imported from MODULE (repeat for "
        "several), looked for first in the current folder; keep a module's script under "
        "`if __name__ == '__main__':` so that importing it only defines the class; a model "
        "file never makes flowgraph import anything by itself",
    )
    p.add_argument(
        "--feed",
        default=None,
        metavar="DATA.npz",
        help="the data as an .npz of arrays named after the model's Inputs (np.savez(path, "
        "x=X, t=T)): for a model not trained by `flowgraph train`; raw, as for "
        "model.predict (the model applies its own preprocessing)",
    )


def import_from_cwd(module: str):
    """``module`` imported with the current folder searched first, as ``python -m`` would.

    The ``flowgraph`` console script's ``sys.path`` starts with its own bin/ folder, not the
    folder it runs in, so ``--boxes block5:HalfMSE`` would not find ./block5.py without this.
    """
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module)
    finally:
        if added:
            sys.path.remove(cwd)


def user_boxes(specs: list[str]) -> tuple[type, ...]:
    """The classes named by ``--boxes MODULE:CLASS`` (the user's words, never the file's)."""
    from . import UsageError

    classes = []
    for spec in specs:
        module, _, name = spec.partition(":")
        if not module or not name:
            raise UsageError(f"--boxes takes MODULE:CLASS (e.g. mybox:Shift), got {spec!r}")
        try:
            cls = getattr(import_from_cwd(module), name)
        except ImportError as e:
            raise UsageError(f"--boxes {spec}: cannot import {module!r}: {e}") from None
        except AttributeError:
            raise UsageError(f"--boxes {spec}: module {module!r} has no {name!r}") from None
        classes.append(cls)
    return tuple(classes)


def load(path: str | Path, args: argparse.Namespace) -> Any:
    """The model at ``path``, with the ``--boxes`` classes; one-line errors for mistakes. Only
    a regular file is read (a folder, a device such as /dev/zero, a pipe are refused)."""
    from ..io import MissingBoxError, load_model
    from . import UsageError

    path = Path(path)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else None
        raise UsageError(f"{path} is {what}; give a model file" if what else
                         f"no model file at {path}")  # fmt: skip
    try:
        return load_model(path, boxes=user_boxes(args.boxes))
    except TypeError as e:  # --boxes named something that is not a Box
        raise UsageError(f"--boxes: {e}") from None
    except MissingBoxError as e:
        message = str(e).split(": pass it,")[0]
        raise MissingBoxError(f"{message}: pass --boxes MODULE:{e.box}", e.box) from None


def read_feed(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz feed file, by name (no pickles)."""
    from . import UsageError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--feed: no file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("an .npy array, not an .npz of named arrays")
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"--feed {path}: not an .npz of arrays ({e})") from None


def feed_for(model: Any, path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of ``path`` that name Inputs of ``model`` (others are refused by name)."""
    from . import UsageError

    arrays = read_feed(path)
    names = [i.name for i in model.inputs]
    unknown = sorted(set(arrays) - set(names))
    if unknown:
        raise UsageError(
            f"--feed {path} holds {unknown}, which are not Inputs of the model (its inputs: "
            f"{names})"
        )
    return arrays
