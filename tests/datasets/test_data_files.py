"""flowgraph.datasets.from_file: a user's CSV or NPZ file, read whole or refused in one
sentence that names the file, the row or the column."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph import datasets
from flowgraph.datasets import DatasetError, DatasetNotFoundError, from_file, parse_csv
from flowgraph.training.recipe import load_parts, resolve, split_of


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_names_as_labels(tmp_path):
    path = write(tmp_path, "pets.csv", "weight,kind,height\n1.5,cat,2\n30,dog,60\n4,cat,3\n")
    X, y, info = from_file(path, label="kind")
    assert X.tolist() == [[1.5, 2.0], [30.0, 60.0], [4.0, 3.0]]
    assert y.tolist() == [0, 1, 0] and y.dtype == np.int64
    assert info["classes"] == ["cat", "dog"] and info["n_classes"] == 2
    assert info["name"] == "pets.csv" and info["n_features"] == 2 and len(info["sha256"]) == 64


def test_csv_label_defaults_to_last_column_and_numbers_sort_numerically(tmp_path):
    rows = "".join(f"{i},{i * 2},{lab}\n" for i, lab in enumerate([10, 9, 10, 2, 9, 2]))
    X, y, info = from_file(write(tmp_path, "n.csv", "a,b,c\n" + rows))
    assert info["classes"] == [2, 9, 10]  # numerically, not as text ("10" < "2")
    assert y.tolist() == [2, 1, 2, 0, 1, 0] and X.shape == (6, 2)


def test_npz_default_and_named_arrays(tmp_path):
    X = np.arange(12.0).reshape(6, 2)
    np.savez(tmp_path / "a.npz", X=X, y=np.array([5, 7, 5, 7, 5, 7]))
    np.savez(tmp_path / "b.npz", inputs=X, target=np.array(["b", "a", "b", "a", "b", "a"]))
    Xa, ya, ia = from_file(tmp_path / "a.npz")
    Xb, yb, ib = from_file(tmp_path / "b.npz", label="target", features="inputs")
    assert np.array_equal(Xa, X) and ya.tolist() == [0, 1, 0, 1, 0, 1]
    assert np.array_equal(Xb, X) and yb.tolist() == [1, 0, 1, 0, 1, 0]
    assert ia["classes"] == [5, 7] and ib["classes"] == ["a", "b"]


BAD_CSV = {
    "empty": ("", "the file is empty"),
    "header only": ("a,b\n", "only a header row"),
    "ragged": ("a,b,c\n1,2,0\n3,4\n", "row 3 has 2 fields, the header 3"),
    "not a number": ("a,b,c\n1,2,0\n3,x,1\n", "row 3, column 'b': 'x' is not a number"),
    "NaN": ("a,b,c\n1,nan,0\n3,4,1\n", "row 2, column 'b': 'nan'"),
    "infinite": ("a,b,c\n1,inf,0\n3,4,1\n", "every feature must be a finite number"),
    "empty cell": ("a,b,c\n1,,0\n3,4,1\n", "row 2, column 'b': '' is not a number"),
    "one class": ("a,b,c\n1,2,0\n3,4,0\n", "needs at least two classes"),
    "no label": ("a,b,c\n1,2,\n3,4,1\n", "row 2 has no label"),
    "one column": ("a\n1\n2\n", "a label and at least one feature"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_is_one_sentence(tmp_path, case):
    text, words = BAD_CSV[case]
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(DatasetError) as e:
        from_file(path)
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_wrong_suffix_and_unknown_label(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no data file"):
        from_file(tmp_path / "none.csv")
    with pytest.raises(DatasetError, match="is .csv or .npz"):
        from_file(write(tmp_path, "x.txt", "a,b\n1,0\n"))
    with pytest.raises(DatasetError, match="no column 'kind'; the columns are a, b"):
        from_file(write(tmp_path, "x.csv", "a,b\n1,0\n2,1\n"), label="kind")


def test_size_limit_is_checked_before_reading(tmp_path):
    path = write(tmp_path, "big.csv", "a,b\n" + "1,0\n2,1\n" * 100)
    with pytest.raises(DatasetError, match="over 100 bytes"):
        from_file(path, max_bytes=100)
    np.savez(tmp_path / "big.npz", X=np.zeros((100, 10)), y=np.arange(100) % 2)
    with pytest.raises(DatasetError, match="its arrays hold .* bytes \\(at most 1000\\)"):
        from_file(tmp_path / "big.npz", max_bytes=1000)
    with pytest.raises(DatasetError, match="rows \\(at most 3\\)"):
        parse_csv("a,b\n" + "1,0\n" * 4, max_rows=3)


@pytest.mark.parametrize("arrays, words", [
    ({"X": np.zeros(4), "y": np.array([0, 1, 0, 1])}, "2-D array of numbers"),
    ({"X": np.zeros((4, 2)), "y": np.array([0, 1, 0])}, "one label per row"),
    ({"X": np.array([[0, np.nan]] * 4), "y": np.array([0, 1, 0, 1])}, "X[0, 1] is nan"),
    ({"X": np.zeros((4, 2)), "y": np.array([1.0, np.nan, 1, 0])}, "a label is NaN"),
    ({"X": np.zeros((4, 2)), "y": np.ones(4)}, "at least two classes"),
    ({"X": np.zeros((4, 2))}, "no array 'y'; it holds X"),
])  # fmt: skip
def test_bad_npz(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match="bad.npz") as e:
        from_file(tmp_path / "bad.npz")
    assert words in str(e.value)


def test_not_an_npz(tmp_path):
    with pytest.raises(DatasetError, match="not an NPZ file"):
        from_file(write(tmp_path, "fake.npz", "a,b\n1,2\n"))


def test_the_recipe_reads_a_file_with_its_label_again(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    lab = np.where(X[:, 0] > 0, "up", "down")
    text = "p,q,r,side\n" + "".join(f"{a},{b},{c},{s}\n" for (a, b, c), s in zip(X, lab))
    path = write(tmp_path, "sides.csv", text)
    c = resolve({"dataset": str(path), "label": "side"})
    assert c["dataset"] == str(path) and c["augment"] == "none" and c["n_samples"] is None
    assert resolve(c) == c
    parts, info = load_parts(c["dataset"], None, split_of(c))
    assert split_of(c)["label"] == "side" and info["classes"] == ["down", "up"]
    assert sum(len(p[1]) for p in parts.values()) == 60 and parts["test"][0].shape[1] == 3
    again, _ = load_parts(c["dataset"], None, split_of(c))  # as evaluate re-creates it
    assert all(np.array_equal(parts[k][0], again[k][0]) for k in parts)


def test_is_data_file():
    assert datasets.is_data_file("a/B.CSV") and datasets.is_data_file("x.npz")
    assert not datasets.is_data_file("digits") and not datasets.is_data_file(3)


def test_the_quick_reader_and_the_careful_one_agree():
    """Plain text takes NumPy's reader; quotes take the csv module's, cell by cell."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    names = np.where(X[:, 1] > 0, "big one", "small one")
    plain = "a,b,c,kind\n" + "".join(f"{p}, {q} ,{r},{n}\n" for (p, q, r), n in zip(X, names))
    quoted = '"a","b","c","kind"\n' + "".join(f'{p},{q},{r},"{n}"\n'
                                              for (p, q, r), n in zip(X, names))  # fmt: skip
    for text in (plain, quoted, plain.replace("\n", "\r\n")):
        Xp, yp, classes = parse_csv(text)
        assert np.array_equal(Xp, X) and classes == ["big one", "small one"]
        assert np.array_equal(yp, (names == "small one").astype(int))
    with pytest.raises(DatasetError, match="row 3, column 'b': 'x y' is not a number"):
        parse_csv('a,b,c\n1,2,"z"\n3,"x y",1\n')
