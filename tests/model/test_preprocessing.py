"""Preprocessing: a library object fitted on the training part, saved as JSON, applied again
with the same statistics; shifted copies of training images."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph import datasets
from flowgraph.model.preprocessing import Preprocessing, PreprocessingError, default_kind


@pytest.fixture(scope="module")
def digits():
    X, y = datasets.load_digits()
    return X, y


def test_auto_follows_the_dataset():
    assert [default_kind(d) for d in ("digits", "mnist", "moons", None)] == [
        "scale", "none", "standardize", "standardize"]  # fmt: skip


def test_scale_for_digits_is_one_sixteenth(digits):
    X, _ = digits
    pre = Preprocessing.fit(X[:100], "auto", dataset="digits")
    assert pre.kind == "scale" and pre.factor == 1 / 16
    assert np.array_equal(pre.transform(X), X / 16)
    assert Preprocessing.fit(np.array([[-4.0, 2.0]]), "scale").factor == 0.25


def test_standardize_uses_the_training_statistics_only(rng):
    X_train = rng.normal(3.0, 2.0, size=(500, 4))
    X_test = rng.normal(-5.0, 9.0, size=(50, 4))
    pre = Preprocessing.fit(X_train, "standardize")
    Z = pre.transform(X_train)
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-12) and np.allclose(Z.std(axis=0), 1)
    expected = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    assert np.allclose(pre.transform(X_test), expected)


def test_float32_inputs_stay_float32(rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    for kind in ("scale", "standardize", "none"):
        assert Preprocessing.fit(X, kind).transform(X).dtype == np.float32


def test_shifted_copies_move_each_image_by_one_pixel():
    img = np.arange(1, 10, dtype=float).reshape(1, 9)  # a 3 x 3 image 1..9
    pre = Preprocessing("none", image_shape=(3, 3))
    X, y = pre.augment(img, np.array([7]))
    assert X.shape == (5, 9) and list(y) == [7] * 5
    down = X[1].reshape(3, 3)  # moved down: the top row is blank, the bottom row fell off
    assert down.tolist() == [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    right = X[3].reshape(3, 3)
    assert right.tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    assert np.array_equal(X[0], img[0])
    with pytest.raises(PreprocessingError, match="3 x 3 = 9 pixels"):
        pre.augment(np.zeros((2, 8)), np.zeros(2))
    assert Preprocessing("none").augment(img, np.array([7]))[0] is not None


@pytest.mark.parametrize("kind", ["none", "scale", "standardize"])
def test_round_trip_through_json(kind, rng):
    import json

    X = rng.normal(size=(30, 5))
    pre = Preprocessing.fit(X, kind, image_shape=None if kind != "scale" else (1, 5))
    back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back == pre
    assert np.array_equal(back.transform(X), pre.transform(X))


@pytest.mark.parametrize(
    "bad",
    [None, [], {}, {"kind": "whiten"}, {"kind": "scale"}, {"kind": "scale", "factor": -1},
     {"kind": "scale", "factor": "x"}, {"kind": "standardize", "mean": [0.0]},
     {"kind": "standardize", "mean": [0.0], "scale": [0.0]},
     {"kind": "none", "image_shape": "8x8"}, {"kind": "none", "image_shape": [8]}],
)  # fmt: skip
def test_malformed_descriptions_are_clear_errors(bad):
    with pytest.raises(ValueError):
        Preprocessing.from_dict(bad)


def test_fit_refuses_empty_or_non_matrix_inputs():
    with pytest.raises(PreprocessingError, match="shape"):
        Preprocessing.fit(np.zeros((0, 3)), "standardize")
    with pytest.raises(PreprocessingError, match="shape"):
        Preprocessing.fit(np.zeros(3), "scale")


# -- the model owns its preprocessing ------------------------------------------------------------

import hashlib  # noqa: E402
import json  # noqa: E402

import flowgraph as fg  # noqa: E402
from flowgraph import io  # noqa: E402


def _data(rng, n=240):
    """Three blobs far from 0 and on scales far from 1: standardising them matters."""
    X, y = datasets.make_blobs(n, seed=3)
    return X * np.array([40.0, 0.5]) + np.array([100.0, -7.0]), y


def _pair(pre, sizes=(2, 8, 3)):
    """The same network twice: one owning ``pre``, one without a preprocessing."""
    owner, bare = fg.mlp(list(sizes), seed=1), fg.mlp(list(sizes), seed=1)
    owner.preprocessing = pre
    return owner, bare


def _fit(model, train, valid):
    return fg.train(model, train, valid, epochs=6, batch_size=16, seed=2, progress=False,
                    optimizer=fg.SGD(model.parameters, lr=0.1, momentum=0.5),
                    early_stopping=fg.EarlyStopping(patience=3))  # fmt: skip


def test_train_applies_the_preprocessing_once_bit_for_bit(rng):
    """fg.train on raw data with a model that owns a standardisation gives the parameters
    (and the history) of a model without one trained on the standardised data."""
    X, y = _data(rng)
    pre = Preprocessing.fit(X[:160], "standardize")
    owner, bare = _pair(pre)
    h1 = _fit(owner, (X[:160], y[:160]), (X[160:], y[160:]))
    h2 = _fit(bare, (pre.transform(X[:160]), y[:160]), (pre.transform(X[160:]), y[160:]))
    for name, value in owner.state().items():
        assert np.array_equal(value, bare.state()[name]), name
    assert h1.valid_error == h2.valid_error and h1.train_loss == h2.train_loss
    assert h1.valid_loss == h2.valid_loss


def test_every_method_that_takes_data_applies_it_once(rng):
    X, y = _data(rng)
    pre = Preprocessing.fit(X, "standardize")
    owner, bare = _pair(pre)
    Z = pre.transform(X)
    assert np.array_equal(owner.predict_proba(X), bare.predict_proba(Z))
    assert np.array_equal(owner.forward({"x": X}), bare.forward(Z))
    assert np.array_equal(owner.forward(X, batch_size=7), bare.forward(Z))
    assert np.array_equal(owner.predict(X), bare.predict(Z))
    assert np.array_equal(owner.predict(X[0]), bare.predict(Z[0]))  # one row as a vector
    assert owner.error(X, y) == bare.error(Z, y) == owner.error({"x": X, "y": y})
    assert owner.loss_value(X, y) == bare.loss_value(Z, y)
    assert owner.evaluate(X, y) == bare.evaluate(Z, y)
    # a feed the model made holds x' already: given back, it is not transformed again
    feed = owner.as_feed((X, y))
    assert np.array_equal(feed[owner.x], bare.as_feed((Z, y))[bare.x])
    assert owner.error(feed) == owner.error(X, y)
    assert owner.loss_value(feed) == owner.loss_value(X, y)
    assert np.array_equal(owner.forward(owner.as_feed(X, graph="predict")), owner.forward(X))
    # preprocess=False: the arrays are x' already (the graph's own input space)
    assert owner.error(owner.as_feed((Z, y), preprocess=False)) == bare.error(Z, y)
    # a plain dict is raw data, whatever it was made from
    assert owner.loss_value(dict(feed)) != owner.loss_value(X, y)


def test_a_saved_model_predicts_on_raw_inputs_what_the_original_did(tmp_path, rng):
    X, y = _data(rng)
    pre = Preprocessing.fit(X[:160], "standardize")
    model, _ = _pair(pre)
    _fit(model, (X[:160], y[:160]), (X[160:], y[160:]))
    model.metadata["dataset"] = "blobs"
    loaded = fg.load_model(model.save(tmp_path / "m.npz"))
    assert loaded.preprocessing == pre
    assert loaded.metadata == {"dataset": "blobs", "preprocessing": pre.to_dict()}
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.error(X[160:], y[160:]) == model.error(X[160:], y[160:])
    # the preprocessing is part of what the integrity check covers
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
    assert meta["preprocessing"] == pre.to_dict() == meta["metadata"]["preprocessing"]
    meta["preprocessing"]["mean"][0] = 0.0
    np.savez(tmp_path / "t.npz", __meta__=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(fg.ModelFileError, match="was modified"):
        fg.load_model(tmp_path / "t.npz")


def _rewrite(path, meta, arrays):
    meta["sha256_meta"] = hashlib.sha256(io.format.canonical(meta)).hexdigest()
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def test_a_file_with_the_preprocessing_only_in_its_metadata_still_applies_it(tmp_path, rng):
    """Files written before Model.preprocessing (by flowgraph train and search) held it only
    as metadata["preprocessing"]: loaded, the model applies it."""
    X, y = _data(rng)
    pre = Preprocessing.fit(X, "scale")
    model, bare = _pair(pre)
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
    del meta["preprocessing"]
    meta.pop("sha256_meta")
    _rewrite(tmp_path / "old.npz", meta, arrays)
    old = fg.load_model(tmp_path / "old.npz")
    assert old.preprocessing == pre
    assert np.array_equal(old.predict_proba(X), bare.predict_proba(pre.transform(X)))
    # a malformed one, or one that disagrees with the file's own, is refused
    meta["metadata"]["preprocessing"] = {"kind": "scale", "factor": -1}
    _rewrite(tmp_path / "bad.npz", meta, arrays)
    with pytest.raises(fg.ModelFileError, match="preprocessing"):
        fg.load_model(tmp_path / "bad.npz")
    meta["preprocessing"] = pre.to_dict()
    meta["metadata"]["preprocessing"] = {"kind": "none"}
    _rewrite(tmp_path / "two.npz", meta, arrays)
    with pytest.raises(fg.ModelFileError, match="disagree"):
        fg.load_model(tmp_path / "two.npz")


def test_setting_a_preprocessing_is_checked(rng):
    model = fg.mlp([3, 2], seed=0)
    with pytest.raises(TypeError, match="Preprocessing.from_dict"):
        model.preprocessing = {"kind": "none"}
    with pytest.raises(fg.ModelError, match="3 features"):
        model.preprocessing = Preprocessing.fit(rng.normal(size=(10, 4)), "standardize")
    model.preprocessing = Preprocessing.fit(rng.normal(size=(10, 3)), "standardize")
    assert model.metadata["preprocessing"]["kind"] == "standardize"
    model.preprocessing = None  # and its description goes with it
    assert "preprocessing" not in model.metadata
    # a graph without an Input named x has no preprocessing
    h, t = fg.Input("h"), fg.Input("t")
    W = fg.Parameter(np.ones((1, 3)), "W")
    out = fg.Linear()(h, W, fg.Parameter(np.zeros(1), "b"), name="out")
    other = fg.Model(loss=fg.SquaredError()(out, t, name="loss"), output=out)
    with pytest.raises(fg.ModelError, match="Input named 'x'"):
        other.preprocessing = Preprocessing("none")


def test_save_refuses_metadata_that_names_another_preprocessing(tmp_path):
    model = fg.mlp([2, 3], seed=0)
    model.metadata["preprocessing"] = {"kind": "scale", "factor": 0.5}
    with pytest.raises(fg.ModelError, match="model.preprocessing"):
        model.save(tmp_path / "m.npz")
    model.preprocessing = Preprocessing("scale", factor=0.5)
    with pytest.raises(fg.ModelError, match="model.preprocessing"):
        model.save(tmp_path / "m.npz", metadata={"preprocessing": {"kind": "none"}})
    assert fg.load_model(model.save(tmp_path / "m.npz")).preprocessing == model.preprocessing


def test_bad_raw_data_is_named_as_such(rng):
    X, y = _data(rng)
    model, _ = _pair(Preprocessing.fit(X, "standardize"))
    X[3, 1] = np.nan
    with pytest.raises(fg.DataError, match=r"holds nan at index \(3, 1\)"):
        model.predict(X)
    with pytest.raises(fg.DataError, match="does not fit the model's preprocessing"):
        model.predict(np.zeros((4, 3)))


def test_analysis_works_in_the_graphs_input_space(rng):
    """FGSM steps in x' (eps and clip in the graph's units) and gives raw inputs back; the
    Hessian's objective is that of the x' data; a float64 copy keeps the preprocessing."""
    from flowgraph.analysis import adversarial as A
    from flowgraph.analysis import params

    X, y = _data(rng)
    pre = Preprocessing.fit(X, "scale")  # x' = x / max|x|
    owner, bare = _pair(pre)
    _fit(owner, (X[:160], y[:160]), (X[160:], y[160:]))
    bare.load_state(owner.state())
    Z = pre.transform(X)
    assert np.array_equal(A.input_gradient(owner, X, y), A.input_gradient(bare, Z, y))
    X_adv = A.fgsm(owner, X, y, 0.05, clip=None)
    Z_adv = A.fgsm(bare, Z, y, 0.05, clip=None)
    assert np.allclose(pre.transform(X_adv), Z_adv, rtol=1e-6, atol=1e-6)
    assert np.array_equal(owner.predict(X_adv), bare.predict(Z_adv))
    curve, bare_curve = (A.accuracy_vs_eps(m, D, y, [0.0, 0.1], clip=None)
                         for m, D in ((owner, X), (bare, Z)))  # fmt: skip
    assert curve == bare_curve and curve["accuracy_fgsm"][0] == 1 - owner.error(X, y)
    copy = params.to_float64(owner)
    assert copy.preprocessing == pre
    mine, theirs = params.objective(copy, X, y), params.objective(params.to_float64(bare), Z, y)
    assert mine.loss() == theirs.loss() and np.array_equal(mine.grad(), theirs.grad())


def test_decision_regions_of_a_model_that_owns_its_preprocessing(rng):
    from flowgraph.plots import plot_decision_boundary

    X, y = _data(rng)
    pre = Preprocessing.fit(X, "standardize")
    owner, bare = _pair(pre)
    with pytest.raises(ValueError, match="without transform"):
        plot_decision_boundary(owner, X, y, transform=pre.transform)  # twice: refused
    mine = plot_decision_boundary(owner, X, y, resolution=20).axes[0].images[0].get_array()
    theirs = plot_decision_boundary(bare, X, y, transform=pre.transform, resolution=20)
    assert np.array_equal(mine, theirs.axes[0].images[0].get_array())
