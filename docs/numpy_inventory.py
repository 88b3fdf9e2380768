"""Write docs/numpy-objects.inv, the offline fallback of the NumPy intersphinx inventory.

    python docs/numpy_inventory.py

Sphinx links NumPy's names (``numpy.ndarray``, ``numpy.random.Generator``, ...) in the API
reference to NumPy's documentation through intersphinx. It reads NumPy's own inventory from
numpy.org when it can; CI builds the docs with no network but the package registries, so
conf.py names this file as the fallback (a Sphinx inventory, version 2: four header lines,
then zlib-compressed ``name domain:role priority uri display-name`` lines, ``$`` standing for
the name in the URI). It lists the NumPy names flowgraph's docstrings and signatures use, at
the addresses of NumPy's stable documentation.
"""

from __future__ import annotations

import zlib
from pathlib import Path

# (name, role, page under https://numpy.org/doc/stable/)
NAMES = [
    ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
    ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
    ("numpy.generic", "py:class", "reference/arrays.scalars.html#$"),
    ("numpy.floating", "py:class", "reference/arrays.scalars.html#$"),
    ("numpy.float32", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.float64", "py:attribute", "reference/arrays.scalars.html#$"),
    ("numpy.random.Generator", "py:class", "reference/random/generator.html#$"),
    ("numpy.random.default_rng", "py:function", "reference/random/generator.html#$"),
    ("numpy.typing.ArrayLike", "py:data", "reference/typing.html#$"),
    ("numpy.typing.DTypeLike", "py:data", "reference/typing.html#$"),
    ("numpy.typing.NDArray", "py:data", "reference/typing.html#$"),
]
FUNCTIONS = [
    "concatenate", "einsum", "sum", "mean", "max", "exp", "log", "tanh", "matmul",
    "reshape", "transpose", "savez", "load", "asarray", "broadcast_to", "linalg.eigh",
]  # fmt: skip
HERE = Path(__file__).resolve().parent


def inventory() -> bytes:
    rows = NAMES + [
        (f"numpy.{f}", "py:function", f"reference/generated/numpy.{f}.html#$") for f in FUNCTIONS
    ]
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in sorted(rows))
    header = (
        "# Sphinx inventory version 2\n# Project: NumPy\n# Version: stable\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    return header.encode() + zlib.compress(body.encode())


if __name__ == "__main__":
    out = HERE / "numpy-objects.inv"
    out.write_bytes(inventory())
    print(out)
