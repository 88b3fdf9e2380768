"""flowgraph.datasets: the shipped digits, the 2-D sets, split/standardize, the IDX reader."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowgraph import FlowgraphError
from flowgraph import datasets as ds

TOY = {
    "moons": ds.make_moons,
    "circles": ds.make_circles,
    "spirals": ds.make_spirals,
    "xor": ds.make_xor,
    "blobs": ds.make_blobs,
}

# ---------------------------------------------------------------------------------------------
# digits


def test_digits_shape_dtype_range_and_classes():
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    assert np.array_equal(X, np.round(X))  # pixel counts are integers
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.flags.c_contiguous


def test_digits_file_is_the_documented_one():
    path = resources.files("flowgraph.datasets") / "data" / "digits.csv.gz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    readme = (resources.files("flowgraph.datasets") / "data" / "README.md").read_text()
    assert digest == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert digest in readme
    assert len(path.read_bytes()) < 100_000  # shipped compressed


def test_digits_images_look_like_digits():
    # the mean image of every class is brightest near the centre columns, never on the edges
    X, y = ds.load_digits()
    images = X.reshape(-1, 8, 8)
    assert images[:, :, 0].mean() < 1.0 and images[:, :, 3:5].mean() > 5.0
    X2, y2 = ds.load_digits()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


# ---------------------------------------------------------------------------------------------
# 2-D sets


@pytest.mark.parametrize("name", TOY)
@pytest.mark.parametrize("n", [7, 101, 300])
def test_toy_shape_dtype_and_balance(name, n):
    X, y = TOY[name](n, seed=3)
    C = {"blobs": 3}.get(name, 2)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=C)
    assert len(counts) == C and counts.sum() == n
    assert counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("name", TOY)
def test_toy_same_seed_same_data_other_seed_other_data(name):
    make = TOY[name]
    X1, y1 = make(seed=5)
    X2, y2 = make(seed=5)
    X3, y3 = make(seed=np.random.default_rng(5))  # a Generator drawn from the same seed
    X4, _ = make(seed=6)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert np.array_equal(X1, X3) and np.array_equal(y1, y3)
    assert not np.allclose(X1, X4)


@pytest.mark.parametrize("name", TOY)
def test_toy_rows_are_shuffled(name):
    _, y = TOY[name](200, seed=0)
    assert np.any(np.diff(y) < 0)  # not sorted by class


def test_moons_geometry_without_noise():
    X, y = ds.make_moons(400, noise=0.0, seed=1)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(1.0 - lower[:, 0], 0.5 - lower[:, 1]), 1.0)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5


@pytest.mark.parametrize("factor", [0.2, 0.7])
def test_circles_radii_without_noise(factor):
    X, y = ds.make_circles(300, noise=0.0, factor=factor, seed=2)
    r = np.hypot(*X.T)
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], factor)


@pytest.mark.parametrize("K", [1, 2, 3, 5])
def test_spirals_arms_follow_their_angle(K):
    turns = 1.5
    X, y = ds.make_spirals(600, n_classes=K, noise=0.0, turns=turns, seed=4)
    assert np.bincount(y).tolist() == ds.base.class_counts(600, K).tolist()
    r = np.hypot(*X.T)
    assert r.max() <= 1.0
    theta = 2 * np.pi * (turns * r + y / K)
    np.testing.assert_allclose(X, r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]))


def test_xor_labels_are_the_sign_of_the_product_without_noise():
    X, y = ds.make_xor(500, noise=0.0, seed=7)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.abs(X).max() <= 1.0
    quadrants = {(int(a), int(b)) for a, b in np.sign(X)}
    assert quadrants == {(1, 1), (-1, -1), (1, -1), (-1, 1)}


def test_blobs_means_and_spread():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, -10.0], [5.0, 5.0]])
    X, y = ds.make_blobs(4000, centers=centers, noise=0.3, seed=0)
    for k, c in enumerate(centers):
        np.testing.assert_allclose(X[y == k].mean(axis=0), c, atol=0.05)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.3, rtol=0.1)
    X, y = ds.make_blobs(60, n_classes=6, noise=0.0, radius=2.0)
    assert np.bincount(y).tolist() == [10] * 6
    np.testing.assert_allclose(np.hypot(*X.T), 2.0)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: ds.make_moons(0), "n_samples"),
        (lambda: ds.make_moons(-3), "n_samples"),
        (lambda: ds.make_moons(2.5), "n_samples"),
        (lambda: ds.make_moons(True), "n_samples"),
        (lambda: ds.make_moons("100"), "n_samples"),
        (lambda: ds.make_moons(noise=-0.1), "noise"),
        (lambda: ds.make_xor(noise=float("nan")), "noise"),
        (lambda: ds.make_circles(factor=1.0), "factor"),
        (lambda: ds.make_circles(factor=0), "factor"),
        (lambda: ds.make_spirals(n_classes=0), "n_classes"),
        (lambda: ds.make_spirals(4, n_classes=5), "n_samples"),
        (lambda: ds.make_spirals(turns=0), "turns"),
        (lambda: ds.make_blobs(centers=np.zeros((3, 3))), "centers"),
        (lambda: ds.make_blobs(centers=np.zeros((2, 2)), n_classes=3), "disagrees"),
        (lambda: ds.make_blobs(radius=-1), "radius"),
        (lambda: ds.make_moons(seed=-1), "seed"),
        (lambda: ds.make_moons(seed=1.5), "seed"),
    ],
)
def test_toy_arguments_are_checked(call, words):
    with pytest.raises(ds.DatasetError, match=words) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, FlowgraphError)


# ---------------------------------------------------------------------------------------------
# split


def _ids(parts):
    return [X[:, 0].astype(int) for X, _ in parts]


def test_split_digits_sizes_disjoint_cover_stratified():
    X, y = ds.load_digits()
    ids = np.arange(len(y))
    parts = ds.split(np.column_stack([ids, X]), y, valid=0.15, test=0.15, seed=0)
    tr, va, te = _ids(parts)
    assert (len(tr), len(va), len(te)) == (1257, 270, 270)
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), ids)  # disjoint and covering
    for (Xp, yp), part in zip(parts, (tr, va, te)):
        assert np.array_equal(yp, y[part]) and np.array_equal(Xp[:, 1:], X[part])
    sizes = np.bincount(y)
    for (_, yp), frac in zip(parts[1:], (0.15, 0.15)):
        assert np.all(np.abs(np.bincount(yp, minlength=10) - frac * sizes) < 1)


def test_split_is_reproducible_and_depends_on_seed():
    X, y = ds.make_blobs(90, n_classes=3, seed=0)
    a = ds.split(X, y, seed=11)
    b = ds.split(X, y, seed=11)
    c = ds.split(X, y, seed=np.random.default_rng(11))
    d = ds.split(X, y, seed=12)
    for p, q, r in zip(a, b, c):
        assert np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1])
        assert np.array_equal(p[0], r[0])
    assert not np.array_equal(a[2][0], d[2][0])


def test_split_unstratified_and_edge_fractions():
    y = np.array([0] * 95 + [1] * 5)
    X = np.arange(100.0)[:, None]
    tr, va, te = ds.split(X, y, valid=0.2, test=0.1, stratify=False, seed=3)
    assert (len(tr[1]), len(va[1]), len(te[1])) == (70, 20, 10)
    assert np.array_equal(np.sort(np.concatenate([tr[0], va[0], te[0]])[:, 0]), X[:, 0])
    tr, va, te = ds.split(X, y, valid=0.0, test=0.0)
    assert len(tr[1]) == 100 and len(va[1]) == 0 and len(te[1]) == 0
    assert va[0].shape == (0, 1)
    # stratified: the rare class keeps its share in the test part
    _, _, te = ds.split(X, y, valid=0.2, test=0.2, seed=0)
    assert np.bincount(te[1]).tolist() == [19, 1]


@given(
    labels=st.lists(st.integers(0, 4), min_size=3, max_size=120),
    valid=st.floats(0.0, 0.45),
    test=st.floats(0.0, 0.45),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=60, deadline=None)
def test_split_invariants(labels, valid, test, seed):
    y = np.array(labels)
    N = len(y)
    n_test, n_valid = int(np.floor(test * N + 0.5)), int(np.floor(valid * N + 0.5))
    if N - n_test - n_valid < 1:
        with pytest.raises(ds.DatasetError, match="too few"):
            ds.split(np.arange(N)[:, None], y, valid=valid, test=test, seed=seed)
        return
    parts = ds.split(np.arange(N)[:, None], y, valid=valid, test=test, seed=seed)
    tr, va, te = _ids(parts)
    assert (len(va), len(te)) == (n_valid, n_test)
    assert np.array_equal(np.sort(np.concatenate([tr, va, te])), np.arange(N))
    for ids, (_, yp) in zip((tr, va, te), parts):
        assert np.array_equal(y[ids], yp)
    sizes = np.bincount(y, minlength=5)
    assert np.all(np.abs(np.bincount(parts[2][1], minlength=5) - test * sizes) < 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"valid": 0.5, "test": 0.5}, "valid \\+ test"),
        ({"valid": -0.1}, "valid"),
        ({"test": 1.0}, "test"),
        ({"seed": -2}, "seed"),
    ],
)
def test_split_arguments_are_checked(kwargs, words):
    X, y = ds.make_moons(50)
    with pytest.raises(ds.DatasetError, match=words):
        ds.split(X, y, **kwargs)


def test_split_shape_errors():
    with pytest.raises(ds.DatasetError, match="same length"):
        ds.split(np.zeros((10, 2)), np.zeros(9, dtype=int))
    with pytest.raises(ds.DatasetError, match="1-D"):
        ds.split(np.zeros((10, 2)), np.zeros((10, 1), dtype=int))
    with pytest.raises(ds.DatasetError, match="too few"):
        ds.split(np.zeros((2, 2)), np.array([0, 1]), valid=0.3, test=0.3)


# ---------------------------------------------------------------------------------------------
# standardize


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X_tr = rng.normal(3.0, 2.0, (200, 4))
    X_te = rng.normal(-5.0, 9.0, (50, 4))  # a shifted set must not move the statistics
    Z_tr, Z_te, stats = ds.standardize(X_tr, X_te)
    np.testing.assert_allclose(stats.mean, X_tr.mean(axis=0))
    np.testing.assert_allclose(stats.scale, X_tr.std(axis=0))
    np.testing.assert_allclose(Z_tr.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z_tr.std(axis=0), 1.0)
    np.testing.assert_allclose(Z_te, (X_te - X_tr.mean(axis=0)) / X_tr.std(axis=0))
    assert np.abs(Z_te.mean(axis=0)).min() > 1.0  # the test part is far from centred
    only_train = ds.standardize(X_tr)
    assert len(only_train) == 2 and np.array_equal(only_train[0], Z_tr)


def test_standardize_leaves_constant_features_unscaled():
    X, y = ds.load_digits()
    (X_tr, _), (X_va, _), (X_te, _) = ds.split(X, y, seed=0)
    constant = X_tr.std(axis=0) == 0
    assert constant.sum() >= 3  # digits has blank pixels in every image
    Z_tr, Z_va, Z_te, stats = ds.standardize(X_tr, X_va, X_te)
    assert np.all(stats.scale[constant] == 1.0)
    for Z, Xp in ((Z_tr, X_tr), (Z_va, X_va), (Z_te, X_te)):
        assert np.all(np.isfinite(Z))
        np.testing.assert_allclose(Z[:, constant], Xp[:, constant] - stats.mean[constant])
    # a constant that float rounding makes "almost" constant is also left unscaled
    Z, s = ds.standardize(np.full((7, 1), 0.1))
    assert s.scale[0] == 1.0 and np.all(np.abs(Z) < 1e-15)


def test_standardizer_dtypes_round_trip_and_json():
    X = np.random.default_rng(1).normal(size=(30, 3)).astype(np.float32)
    stats = ds.Standardizer.fit(X)
    assert stats.transform(X).dtype == np.float32
    assert stats.transform(np.arange(6).reshape(2, 3)).dtype == np.float64
    np.testing.assert_allclose(stats.inverse_transform(stats.transform(X)), X, rtol=1e-5)
    again = ds.Standardizer.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert np.array_equal(again.mean, stats.mean) and np.array_equal(again.scale, stats.scale)
    assert np.array_equal(again.transform(X), stats.transform(X))


def test_standardizer_errors():
    stats = ds.Standardizer.fit(np.ones((4, 3)))
    with pytest.raises(ds.DatasetError, match="2 features.*fitted on 3"):
        stats.transform(np.ones((4, 2)))
    with pytest.raises(ds.DatasetError, match="2-D"):
        ds.Standardizer.fit(np.ones(5))
    with pytest.raises(ds.DatasetError, match="empty"):
        ds.Standardizer.fit(np.ones((0, 5)))
    with pytest.raises(ds.DatasetError, match="NaN"):
        ds.standardize(np.array([[1.0], [np.nan]]))
    with pytest.raises(ds.DatasetError, match="scale"):
        ds.Standardizer.from_dict({"mean": [0.0], "scale": [0.0]})
    with pytest.raises(ds.DatasetError, match="mean, scale"):
        ds.Standardizer.from_dict({"mean": [0.0]})


# ---------------------------------------------------------------------------------------------
# IDX files and MNIST

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B,
             np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}  # fmt: skip


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">"))
    code = IDX_CODES[big.dtype if big.dtype.itemsize > 1 else np.dtype(big.dtype.str[1:])]
    if magic is None:
        magic = (code << 8) | array.ndim
    data = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    data += big.tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def make_mnist(directory: Path, *, gz=(False, False, False, False), n=(12, 5), seed=0):
    """Four small MNIST-like IDX files of 28 x 28 images; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    names = [name for pair in ds.MNIST_FILES for name in pair]
    arrays = []
    for n_set in n:
        arrays.append(rng.integers(0, 256, (n_set, 28, 28), dtype=np.uint8))
        arrays.append(rng.integers(0, 10, n_set, dtype=np.uint8))
    for name, array, z in zip(names, arrays, gz):
        write_idx(directory / (name + (".gz" if z else "")), array)
    return arrays


@pytest.mark.parametrize(
    "gz", [(False,) * 4, (True,) * 4, (True, False, False, True)], ids=["raw", "gz", "mixed"]
)
def test_load_mnist_reads_raw_and_gz(tmp_path, gz):
    images, labels, t_images, t_labels = make_mnist(tmp_path, gz=gz)
    (X, y), (X_te, y_te) = ds.load_mnist(tmp_path)
    assert X.shape == (12, 784) and X_te.shape == (5, 784)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_allclose(X, images.reshape(12, -1) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(X_te.reshape(5, 28, 28) * 255.0, t_images, atol=1e-3)
    assert np.array_equal(y, labels) and np.array_equal(y_te, t_labels)


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", "<i4", "f4", ">f8"])
def test_read_idx_round_trips_every_type(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    if dtype == "u1":
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    b = ds.read_idx(write_idx(tmp_path / "a.idx.gz", a))
    assert b.shape == a.shape and np.array_equal(a, b) and b.dtype.isnative


def test_load_mnist_missing_directory_and_files(tmp_path):
    with pytest.raises(ds.DatasetNotFoundError, match="does not exist.*download=True") as info:
        ds.load_mnist(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError) and "nowhere" in str(info.value)
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\]") as info:
        ds.load_mnist(tmp_path)
    assert "train-images" not in str(info.value)


def test_read_idx_bad_magic(tmp_path):
    make_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    write_idx(images, np.zeros((12, 28, 28), np.uint8), magic=0x12345678)
    expected = re.escape(f"{images}: bad magic number 0x12345678")
    with pytest.raises(ds.IDXFormatError, match=expected):
        ds.load_mnist(tmp_path)
    (tmp_path / "x").write_bytes(b"hello, world, not idx")
    with pytest.raises(ds.IDXFormatError, match="magic"):
        ds.read_idx(tmp_path / "x")
    (tmp_path / "y").write_bytes(b"\x00\x00")
    with pytest.raises(ds.IDXFormatError, match="too short"):
        ds.read_idx(tmp_path / "y")


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated(tmp_path, gz):
    path = write_idx(tmp_path / ("t.idx.gz" if gz else "t.idx"), np.ones((10, 28, 28), np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ds.IDXFormatError, match="truncated") as info:
        ds.read_idx(path)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)
    # a header that promises more dimensions than the file holds
    path.write_bytes(struct.pack(">I", 0x0803) + struct.pack(">I", 5))
    with pytest.raises(ds.IDXFormatError, match="truncated"):
        ds.read_idx(path)


def test_read_idx_trailing_bytes(tmp_path):
    path = write_idx(tmp_path / "t.idx", np.ones(10, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(ds.IDXFormatError, match="2 bytes too long"):
        ds.read_idx(path)


def test_load_mnist_counts_mismatch_and_wrong_contents(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(11, np.uint8))
    with pytest.raises(ds.IDXFormatError, match="12 images but train-labels-idx1-ubyte holds 11"):
        ds.load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((12, 2), np.uint8))
    with pytest.raises(ds.IDXFormatError, match="expected labels"):
        ds.load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(12, 10, np.uint8))
    with pytest.raises(ds.IDXFormatError, match="label 10"):
        ds.load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(12, np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 784), np.float32))
    with pytest.raises(ds.IDXFormatError, match="expected images"):
        ds.load_mnist(tmp_path)


def _mirror(tmp_path):
    """A local 'mirror' of small gz files with their checksums (file:// URLs, no network)."""
    mirror = tmp_path / "mirror"
    make_mnist(mirror, gz=(True,) * 4)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in mirror.iterdir()}
    return mirror, sums


def test_download_verifies_checksums_and_leaves_no_partial_file(tmp_path):
    mirror, sums = _mirror(tmp_path)
    dead = (tmp_path / "dead").as_uri() + "/"  # first mirror fails, the second serves
    cache = ds.download_mnist(tmp_path / "cache", mirrors=[dead, mirror.as_uri()], sha256=sums)
    assert sorted(p.name for p in cache.iterdir()) == sorted(sums)
    (X, _), _ = ds.load_mnist(cache)
    assert X.shape == (12, 784)

    wrong = dict(sums, **{"t10k-labels-idx1-ubyte.gz": "0" * 64})
    other = tmp_path / "other"
    with pytest.raises(ds.DownloadError, match="t10k-labels-idx1-ubyte.gz.*SHA-256") as info:
        ds.download_mnist(other, mirrors=[mirror.as_uri()], sha256=wrong)
    assert isinstance(info.value, FlowgraphError)
    assert not (other / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in other.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_download_replaces_a_corrupt_cached_file(tmp_path):
    mirror, sums = _mirror(tmp_path)
    cache = tmp_path / "cache"
    ds.download_mnist(cache, mirrors=[mirror.as_uri()], sha256=sums)
    (cache / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    ds.download_mnist(cache, mirrors=[mirror.as_uri()], sha256=sums)
    assert (cache / "train-images-idx3-ubyte.gz").read_bytes() == (
        mirror / "train-images-idx3-ubyte.gz"
    ).read_bytes()


def test_load_mnist_download_skips_files_already_there(tmp_path, monkeypatch):
    make_mnist(tmp_path)  # raw files: nothing to fetch

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(ds.mnist, "fetch", no_network)
    (X, _), _ = ds.load_mnist(tmp_path, download=True)
    assert X.shape == (12, 784)


# ---------------------------------------------------------------------------------------------
# get_dataset


def test_dataset_names():
    assert ds.DATASETS == ("digits", "moons", "circles", "spirals", "xor", "blobs", "mnist")


@pytest.mark.parametrize("name", TOY)
def test_get_dataset_toy_matches_the_maker(name):
    X, y, info = ds.get_dataset(name, seed=4, n_samples=90)
    X2, y2 = TOY[name](90, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert info["n_samples"] == 90 and info["n_features"] == 2
    assert info["n_classes"] == len(np.unique(y)) and info["image_shape"] is None
    json.dumps(info)  # JSON-ready for metrics.json


def test_get_dataset_digits_and_subsets():
    X, y, info = ds.get_dataset("digits")
    assert X.shape == (1797, 64) and info["n_classes"] == 10 and info["image_shape"] == [8, 8]
    assert "10.24432/C50P49" in info["source"]
    Xa, ya, _ = ds.get_dataset("Digits", n_samples=300, seed=1)
    Xb, yb, _ = ds.get_dataset("digits", n_samples=300, seed=1)
    Xc, _, _ = ds.get_dataset("digits", n_samples=300, seed=2)
    assert Xa.shape == (300, 64) and np.array_equal(Xa, Xb) and np.array_equal(ya, yb)
    assert not np.array_equal(Xa, Xc)
    with pytest.raises(ds.DatasetError, match="exceeds the 1797"):
        ds.get_dataset("digits", n_samples=5000)


def test_get_dataset_mnist(tmp_path):
    make_mnist(tmp_path, n=(60, 10))
    X, y, info = ds.get_dataset("mnist", data_dir=tmp_path)
    assert X.shape == (70, 784) and X.dtype == np.float32 and info["test_start"] == 60
    assert info["image_shape"] == [28, 28] and info["n_classes"] == 10
    Xs, _, info = ds.get_dataset("mnist", data_dir=tmp_path, n_samples=14, seed=0)
    assert Xs.shape == (14, 784) and info["test_start"] == 12
    with pytest.raises(ds.DatasetNotFoundError, match="download"):
        ds.get_dataset("mnist", data_dir=tmp_path / "absent")


def test_get_dataset_unknown_name_lists_the_valid_ones():
    with pytest.raises(ds.DatasetError, match="unknown dataset 'iris'") as info:
        ds.get_dataset("iris")
    assert all(name in str(info.value) for name in ds.DATASETS)
