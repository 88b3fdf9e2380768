"""The reader of older model files: every file an earlier flowgraph wrote still loads.

* Format 1 (MLPs only): ``kind: "mlp"``, the ``mlp`` arguments as ``config``, the parameter
  arrays and their SHA-256; no declared dtypes and no digest of the description.
* Format 2, ``kind: "mlp"``: the same, with the arrays' declared dtypes and shapes and the
  description's SHA-256.
* Format 2, ``kind: "graph"``: today's layout without ``builder``; the current reader
  (:mod:`flowgraph.io.load`) reads it as it is.

An MLP file's arrays are those its config implies (:func:`flowgraph.io.format.mlp_arrays`,
built on :mod:`flowgraph.model.mlp`): the declared ones must agree, before anything is read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .format import (
    MAX_BYTES,
    ModelFileError,
    Reader,
    check_meta_digest,
    declared_arrays,
    mlp_arrays,
    read_arrays,
)

__all__ = ["is_legacy_mlp", "read_mlp_arrays", "check_against"]


def is_legacy_mlp(meta: dict[str, Any]) -> bool:
    """Whether ``meta`` describes a format 1 or format 2 MLP file (its config, no graph)."""
    return meta["version"] in (1, 2) and meta.get("kind") == "mlp"


def check_against(
    implied: dict[str, tuple[str, tuple]], declared: dict[str, tuple[str, tuple]], path
) -> None:
    """Refuse declared arrays whose shape or dtype differ from what the architecture implies,
    or that are not the architecture's parameters."""
    for key, (dtype, shape) in implied.items():
        if key in declared and declared[key][1] != shape:
            raise ModelFileError(
                f"{path}: parameter {key[6:]} has shape {declared[key][1]}, the architecture "
                f"needs {shape}"
            )
        if key in declared and declared[key][0] != dtype:
            raise ModelFileError(
                f"{path}: parameter {key[6:]} is declared {declared[key][0]}, the architecture "
                f"needs {dtype}"
            )
    if set(implied) != set(declared):
        raise ModelFileError(
            f"{path}: arrays {sorted(declared)} do not match the architecture's parameters "
            f"{sorted(implied)}"
        )


def read_mlp_arrays(
    reader: Reader, meta: dict[str, Any], max_bytes: int = MAX_BYTES
) -> dict[str, np.ndarray]:
    """The parameter arrays of a format 1 or 2 MLP file, each checked against the config's
    architecture (and, in format 2, against its declaration and the description's SHA-256)."""
    path = reader.path
    implied = mlp_arrays(meta.get("config"), path, max_bytes)
    legacy = meta["version"] == 1
    declared = implied if legacy else declared_arrays(meta, path, max_bytes)
    check_against(implied, declared, path)
    if not legacy:
        check_meta_digest(meta, path)
    # version 1 wrote whatever the parameters held: only the kind and shape are known
    return read_arrays(reader, meta, declared, legacy)
