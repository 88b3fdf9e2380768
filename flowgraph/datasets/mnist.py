"""MNIST (LeCun, Cortes and Burges): 60,000 training and 10,000 test digits of 28 x 28 pixels.

The four files are in the IDX format: a big-endian header -- the magic number
0x0000 TT DD (TT the element type, 0x08 for unsigned bytes; DD the number of dimensions),
then DD sizes as 32-bit unsigned ints -- followed by the elements in row-major order.
:func:`read_idx` reads any IDX file, raw or gzip-compressed, and checks its length against its
header; :func:`load_mnist` reads the four files from a directory; :func:`download_mnist` fetches
them with the standard library, verifies their SHA-256 checksums and writes each atomically
(a temporary file in the same directory, then a rename), so the cache never holds half a file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._atomic import atomic_write
from .base import DatasetNotFoundError, DownloadError, IDXFormatError

__all__ = [
    "load_mnist",
    "download_mnist",
    "read_idx",
    "fetch",
    "default_data_dir",
    "MNIST_FILES",
    "MNIST_SHA256",
    "MNIST_MIRRORS",
]

# (images, labels) of the training and the test set, as the files are named without ".gz"
MNIST_FILES = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)
# SHA-256 of the gzip files as distributed (the digests published alongside many mirrors)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
}
# tried in order; the original http://yann.lecun.com/exdb/mnist/ is often unavailable
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# IDX element types: code -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HOW_TO_GET = (
    "download them with flowgraph.datasets.load_mnist(directory, download=True), or copy the "
    "four IDX files (raw or .gz) from http://yann.lecun.com/exdb/mnist/ into it"
)


def default_data_dir() -> Path:
    """Where downloads go by default: ``$XDG_CACHE_HOME/flowgraph`` or ``~/.cache/flowgraph``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "flowgraph"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if they start with the gzip magic number 1f 8b."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise DatasetNotFoundError(f"IDX file {path} does not exist") from e
    except IsADirectoryError as e:
        raise IDXFormatError(f"{path} is a directory, not an IDX file") from e
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXFormatError(f"{path}: not a readable gzip file, truncated or corrupt ({e})") from e


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (raw or gzip), in native byte order.

    Raises :class:`IDXFormatError` for a bad magic number, a header longer than the file, or
    data shorter or longer than the sizes in the header promise.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise IDXFormatError(f"{path}: {len(data)} bytes, too short for an IDX header")
    (magic,) = struct.unpack(">I", data[:4])
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_TYPES or ndim == 0:
        raise IDXFormatError(
            f"{path}: bad magic number 0x{magic:08X}, not an IDX file (expected 0x0000 followed "
            "by a type code such as 08 for unsigned bytes and the number of dimensions, e.g. "
            "0x00000803 for MNIST images, 0x00000801 for labels)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(
            f"{path}: truncated: the header announces {ndim} dimensions but the file ends "
            f"after {len(data)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[type_code])
    count = math.prod(shape)
    expected, found = count * dtype.itemsize, len(data) - header
    if found != expected:
        what = "truncated" if found < expected else f"{found - expected} bytes too long"
        raise IDXFormatError(
            f"{path}: {what}: the header announces shape {shape} = {expected} bytes of data, "
            f"the file holds {found}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _locate(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IDXFormatError(
            f"{images_path}: expected images, a 3-D array of unsigned bytes (magic 0x00000803), "
            f"found a {images.ndim}-D array of {images.dtype} with shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(
            f"{labels_path}: expected labels, a 1-D array of unsigned bytes (magic 0x00000801), "
            f"found a {labels.ndim}-D array of {labels.dtype} with shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{images_path.name} holds {len(images)} images but {labels_path.name} holds "
            f"{len(labels)} labels; the two files must come from the same set"
        )
    if labels.size and labels.max() > 9:
        raise IDXFormatError(f"{labels_path}: label {int(labels.max())} is not a digit 0..9")
    X = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return X, labels.astype(np.int64)


def load_mnist(
    directory: str | os.PathLike | None = None, *, download: bool = False
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as ``((X_train, y_train), (X_test, y_test))``.

    X is float32 of shape (N, 784) (rows of the 28 x 28 images, pixel / 255 in [0, 1]),
    y int64 digits 0..9; N is 60,000 for training and 10,000 for test. Each of the four
    files may be raw or gzip-compressed (``name`` or ``name.gz``).

    ``directory`` defaults to ``default_data_dir() / "mnist"``. With ``download=True``, files not
    yet there are fetched first (about 11 MB; see :func:`download_mnist`).

    Raises :class:`DatasetNotFoundError` (a ``FileNotFoundError``) naming the missing directory
    or files, and :class:`IDXFormatError` for a malformed file.
    """
    directory = Path(directory) if directory is not None else default_data_dir() / "mnist"
    if download:
        download_mnist(directory)
    if not directory.is_dir():
        raise DatasetNotFoundError(f"MNIST directory {directory} does not exist; {_HOW_TO_GET}")
    names = [name for pair in MNIST_FILES for name in pair]
    paths = {name: _locate(directory, name) for name in names}
    missing = [f"{name}[.gz]" for name in names if paths[name] is None]
    if missing:
        raise DatasetNotFoundError(
            f"MNIST file{'s' if len(missing) > 1 else ''} missing in {directory}: "
            f"{', '.join(missing)}; {_HOW_TO_GET}"
        )
    train, test = (_read_pair(paths[images], paths[labels]) for images, labels in MNIST_FILES)  # type: ignore[arg-type]  # (no None: checked above)
    return train, test


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _ChecksumMismatch(Exception):
    """Raised inside the download's writer, so that atomic_write throws the bytes away."""


def fetch(
    urls: Sequence[str], destination: str | os.PathLike, sha256: str, *, timeout: float = 60.0
) -> Path:
    """Download the first of ``urls`` whose bytes have the given SHA-256 to ``destination``.

    The bytes go to a temporary file beside ``destination`` and are renamed onto it only once
    the checksum matches, so an interrupted or corrupted download leaves nothing behind.
    Raises :class:`DownloadError` listing what went wrong with each URL.
    """
    destination = Path(destination)
    failures = []
    for url in urls:

        def download(out, url=url):
            with urllib.request.urlopen(url, timeout=timeout) as response:
                digest = hashlib.sha256()
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256.lower():
                raise _ChecksumMismatch(f"{url}: SHA-256 {digest.hexdigest()}, expected {sha256}")

        try:
            return atomic_write(destination, download, suffix=".part")
        except _ChecksumMismatch as e:
            failures.append(str(e))
        except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append(f"{url}: {e}")
    raise DownloadError(f"could not download {destination.name}: {'; '.join(failures)}")


def download_mnist(
    directory: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    sha256: Mapping[str, str] = MNIST_SHA256,
    timeout: float = 60.0,
) -> Path:
    """Fetch the four MNIST ``.gz`` files into ``directory`` (default
    ``default_data_dir() / "mnist"``) and return it.

    A file already there uncompressed is kept; one there compressed is kept if its checksum
    matches and fetched again otherwise. ``mirrors`` are base URLs tried in order (each file's
    URL is mirror + file name); ``mirrors`` and ``sha256`` can point at another set in the
    same format, such as Fashion-MNIST with its published checksums.
    """
    directory = Path(directory) if directory is not None else default_data_dir() / "mnist"
    for name in (name for pair in MNIST_FILES for name in pair):
        gz = directory / f"{name}.gz"
        if (directory / name).is_file():
            continue
        expected = sha256[gz.name]
        if gz.is_file() and _sha256(gz) == expected.lower():
            continue
        urls = [mirror.rstrip("/") + "/" + gz.name for mirror in mirrors]
        fetch(urls, gz, expected, timeout=timeout)
    return directory
