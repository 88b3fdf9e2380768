"""A user's own data: a CSV file (a header row, one label column) or an NPZ file (a feature
array and a label array), read with a size limit and checked before anything trusts it.

The labels, numbers or names, become the classes 0 .. C-1 in sorted order (numerically when
every label is a number); ``info["classes"]`` keeps the original names, so that a model
trained on the file can report them. Every mistake in a file is one :class:`DatasetError`
sentence naming the file, the row or the column:

    >>> X, y, classes = parse_csv("x1,x2,kind\\n0,1,cat\\n2,3,dog\\n4,5,cat\\n")
    >>> X.tolist(), y.tolist(), classes
    ([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], [0, 1, 0], ['cat', 'dog'])
    >>> parse_csv("a,b\\n1,x\\n2,y\\n3,x\\n", label="a")
    Traceback (most recent call last):
    ...
    flowgraph.datasets.base.DatasetError: data: row 2, column 'b': 'x' is not a number
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .base import DatasetError, DatasetNotFoundError

__all__ = ["from_file", "parse_csv", "is_data_file", "MAX_FILE_BYTES", "MAX_CLASSES",
           "DATA_SUFFIXES"]  # fmt: skip

MAX_FILE_BYTES = 512 * 1024**2  # a CSV's bytes, or an NPZ's arrays once uncompressed
MAX_CLASSES = 1000  # more distinct labels than this is a regression target, not classes
DATA_SUFFIXES = (".csv", ".npz")


def is_data_file(name: object) -> bool:
    """Whether ``name`` names a data file (ends in .csv or .npz) rather than a dataset."""
    return isinstance(name, (str, os.PathLike)) and str(name).lower().endswith(DATA_SUFFIXES)


def encode_labels(raw: np.ndarray, where: str) -> tuple[np.ndarray, list[Any]]:
    """Labels 0 .. C-1 for the values of ``raw`` (sorted; numbers numerically) and the
    original values, JSON-ready (int, float or str)."""
    if raw.dtype.kind in "US":
        text = raw.astype(str)
        try:  # names that are all numbers sort as numbers: "10" after "9"
            numbers = np.array([float(v) for v in text])
        except ValueError:
            numbers = None
        if numbers is not None and np.all(np.isfinite(numbers)):
            values, y = np.unique(numbers, return_inverse=True)
            first: dict[float, str] = {}
            for t, v in zip(text, numbers):
                first.setdefault(float(v), t)
            classes = [_plain(first[float(v)]) for v in values]
        else:
            values, y = np.unique(text, return_inverse=True)
            classes = [str(v) for v in values]
    elif raw.dtype.kind in "biuf":
        if raw.dtype.kind == "f" and not np.all(np.isfinite(raw)):
            raise DatasetError(f"{where}: a label is NaN or infinite")
        values, y = np.unique(raw, return_inverse=True)
        classes = [_plain(v) for v in values]
    else:
        raise DatasetError(f"{where}: labels must be numbers or names, got dtype {raw.dtype}")
    if len(classes) < 2:
        raise DatasetError(f"{where}: every example has the label {classes[0]!r}; a "
                           "classifier needs at least two classes")  # fmt: skip
    if len(classes) > MAX_CLASSES:
        raise DatasetError(f"{where}: {len(classes)} distinct labels (at most {MAX_CLASSES}): is "
                           "the label column a measurement rather than a class?")  # fmt: skip
    return np.asarray(y, dtype=np.int64).reshape(-1), classes


def _plain(v: Any) -> Any:
    """A label as JSON keeps it: an int for a whole number, else a float or the text."""
    if isinstance(v, (str, np.str_)):
        text = str(v)
        try:
            f = float(text)
        except ValueError:
            return text
        return int(f) if f.is_integer() and text.strip().lstrip("+-").isdigit() else text
    f = float(v)
    return int(f) if f.is_integer() else f


def parse_csv(text: str, label: str | None = None, *, where: str = "data",
              max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Any]]:  # fmt: skip
    """``(X, y, classes)`` of CSV ``text``: a header row, then one example per row; the column
    named ``label`` (default: the last) holds the labels, every other column a number."""
    plain = _parse_plain(text, label, where, max_rows)
    if plain is not None:
        return plain
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise DatasetError(f"{where}: the file is empty (expected a header row, then examples)")
    header = [h.strip() for h in rows[0]]
    if len(rows) == 1:
        raise DatasetError(f"{where}: only a header row ({', '.join(header)[:80]}), no examples")
    if max_rows is not None and len(rows) - 1 > max_rows:
        raise DatasetError(f"{where}: {len(rows) - 1} rows (at most {max_rows})")
    if len(header) < 2:
        raise DatasetError(f"{where}: the header names {len(header)} column; a label and at "
                           "least one feature are needed")  # fmt: skip
    if label is None:
        k = len(header) - 1
    elif label in header:
        k = header.index(label)
    else:
        raise DatasetError(f"{where}: no column {label!r}; the columns are {', '.join(header)}")
    for i, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise DatasetError(f"{where}: row {i} has {len(row)} fields, the header "
                               f"{len(header)}")  # fmt: skip
    labels = [row[k].strip() for row in rows[1:]]
    names = header[:k] + header[k + 1 :]
    cells = np.array([row[:k] + row[k + 1 :] for row in rows[1:]], dtype=str)
    try:  # NumPy's conversion, ten times faster than a float() per cell
        X = cells.astype(np.float64)
    except ValueError:
        X = None
    if X is None or not np.all(np.isfinite(X)):  # find the first bad cell, to name it
        for i, row in enumerate(cells, 2):
            for cell, name in zip(row, names):
                _number(str(cell), f"{where}: row {i}, column {name!r}")
    if any(not v for v in labels):
        raise DatasetError(f"{where}: row {labels.index('') + 2} has no label")
    y, classes = encode_labels(np.array(labels), where)
    assert X is not None  # NumPy refused a cell only if float() does: _number raised above
    return X, y, classes


def _parse_plain(text: str, label: str | None, where: str, max_rows: int | None
                 ) -> tuple[np.ndarray, np.ndarray, list[Any]] | None:  # fmt: skip
    """The common case quickly (no quotes, every row whole, every feature a finite number:
    NumPy's reader, ten times faster than the csv module); None for anything else, which
    :func:`parse_csv` then reads cell by cell to name what is wrong."""
    if '"' in text:
        return None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2 or (max_rows is not None and len(lines) - 1 > max_rows):
        return None
    header = [h.strip() for h in lines[0].split(",")]
    m = len(header)
    if m < 2 or (label is not None and label not in header):
        return None
    if any(ln.count(",") != m - 1 for ln in lines):
        return None
    k = m - 1 if label is None else header.index(label)
    try:
        X = np.loadtxt(lines[1:], delimiter=",", comments=None, ndmin=2, dtype=np.float64,
                       usecols=[j for j in range(m) if j != k])  # fmt: skip
    except ValueError:
        return None
    labels = [ln.split(",")[k].strip() for ln in lines[1:]]
    if not np.all(np.isfinite(X)) or not all(labels):
        return None
    y, classes = encode_labels(np.array(labels), where)
    return X, y, classes


def _number(cell: str, where: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        raise DatasetError(f"{where}: {cell.strip()[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise DatasetError(f"{where}: {cell.strip()!r} (every feature must be a finite number)")
    return v


def _read_npz(path: Path, label: str | None, features: str | None, limit: int):
    label, features = label or "y", features or "X"
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{path}: not an NPZ file ({e})") from None
    if size > limit:
        raise DatasetError(f"{path}: its arrays hold {size} bytes (at most {limit})")
    try:
        with np.load(path, allow_pickle=False) as f:
            names = list(f.files)
            missing = [n for n in (features, label) if n not in names]
            if missing:
                held = ", ".join(names) or "none"
                raise DatasetError(f"{path}: no array {missing[0]!r}; it holds {held} "
                                   "(--features, --label)")  # fmt: skip
            X, raw = f[features], f[label]
    except (ValueError, OSError) as e:
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path}: cannot read its arrays ({e})") from None
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: {features} must be a 2-D array of numbers (N, D), got "
                           f"shape {X.shape} of {X.dtype}")  # fmt: skip
    if raw.ndim != 1 or len(raw) != len(X):
        raise DatasetError(f"{path}: {label} must be 1-D with one label per row of "
                           f"{features} ({len(X)}), got shape {raw.shape}")  # fmt: skip
    if len(X) == 0 or X.shape[1] == 0:
        raise DatasetError(f"{path}: {features} holds no examples (shape {X.shape})")
    X = X.astype(np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        raise DatasetError(f"{path}: {features}[{bad[0][0]}, {bad[0][1]}] is "
                           f"{X[tuple(bad[0])]} (every feature must be finite)")  # fmt: skip
    y, classes = encode_labels(raw, f"{path}: {label}")
    return X, y, classes


def from_file(path: str | os.PathLike, *, label: str | None = None,
              features: str | None = None, max_bytes: int = MAX_FILE_BYTES
              ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:  # fmt: skip
    """``(X, y, info)`` of a data file, as :func:`flowgraph.datasets.get_dataset` gives them.

    CSV: a header row, then one example per row; the column named ``label`` (default the
    last) holds the labels, numbers or names; every other column is a feature, a finite
    number. NPZ: the arrays named ``features`` (default ``X``, shape (N, D)) and ``label``
    (default ``y``, shape (N,)). X is (N, D) float64 in the file's units, y is (N,) int64 in
    [0, C); ``info["classes"]`` holds the original label of each class. A file over
    ``max_bytes`` (an NPZ's arrays uncompressed) is refused before it is read."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DatasetError(f"{p}: a data file is .csv or .npz, got {suffix or 'no suffix'!r}")
    if not p.is_file():
        raise DatasetNotFoundError(f"no data file {p}" + (" (a folder)" if p.is_dir() else ""))
    if suffix == ".csv":
        if features is not None:
            raise DatasetError(f"{p}: --features names an NPZ array; a CSV's features are "
                               "its columns other than the label")  # fmt: skip
        with open(p, "rb") as f:
            raw = f.read(max_bytes + 1)
        if len(raw) > max_bytes:
            raise DatasetError(f"{p}: over {max_bytes} bytes (the limit); use an NPZ file or "
                               "a sample of the rows")  # fmt: skip
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise DatasetError(f"{p}: not UTF-8 text ({e})") from None
        X, y, classes = parse_csv(text, label, where=str(p))
    else:
        X, y, classes = _read_npz(p, label, features, max_bytes)
    info = {
        "name": p.name, "n_samples": int(len(y)), "n_features": int(X.shape[1]),
        "n_classes": len(classes), "image_shape": None, "test_start": None,
        "description": f"the data file {p}", "source": str(p.resolve()),
        "classes": classes, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
    }  # fmt: skip
    return X, y, info
