"""Forward mode on a Model (issue 21): J v is that of the Model's own loss and output, on its
data after its preprocessing, as for every Model method and for ``hvp``."""

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph.datasets import make_blobs


def raw_data():
    """Blobs far from 0 and on scales far from 1: a standardisation changes every number."""
    X, y = make_blobs(60, seed=3)
    return X * np.array([40.0, 0.5]) + np.array([100.0, -7.0]), y


def owner_and_bare(X, kind="standardize", l2=0.0):
    """The same network twice: one owning a preprocessing fitted on X, one without."""
    pre = fg.Preprocessing.fit(X, kind)
    owner = fg.mlp([2, 5, 3], l2=l2, dtype=np.float64, seed=1)
    bare = fg.mlp([2, 5, 3], l2=l2, dtype=np.float64, seed=1)
    owner.preprocessing = pre
    return owner, bare, pre


@pytest.mark.parametrize("jvp", [A.jvp, fg.jvp], ids=["A.jvp", "fg.jvp"])
@pytest.mark.parametrize("kind,l2", [("standardize", 0.0), ("scale", 0.01)])
def test_jvp_of_a_model_sees_its_data_as_its_other_methods_do(jvp, kind, l2):
    X, y = raw_data()
    owner, bare, pre = owner_and_bare(X, kind, l2)
    rng = np.random.default_rng(0)
    v = {p.name: rng.standard_normal(p.value.shape) for p in owner.parameters}
    (loss, proba), (dloss, dproba) = jvp(owner, {"x": X, "y": y}, v)
    # the values: the Model's own loss and probabilities on the raw data
    assert loss == pytest.approx(owner.loss_value(X, y), rel=1e-12)
    np.testing.assert_allclose(proba, owner.predict_proba(X), rtol=1e-12)
    # the tangent: d/dr loss(theta + r v), by central differences of model.loss_value
    theta, d = A.flatten(owner), np.concatenate([v[p.name].ravel() for p in owner.parameters])
    h = 1e-6
    A.set_flat(owner, theta + h * d)
    up = owner.loss_value(X, y)
    A.set_flat(owner, theta - h * d)
    down = owner.loss_value(X, y)
    A.set_flat(owner, theta)
    assert dloss == pytest.approx((up - down) / (2 * h), rel=1e-6)
    # hvp reads the same x': d^T H d is the second difference of model.loss_value along d
    h2 = 1e-4
    A.set_flat(owner, theta + h2 * d)
    up2 = owner.loss_value(X, y)
    A.set_flat(owner, theta - h2 * d)
    down2 = owner.loss_value(X, y)
    A.set_flat(owner, theta)
    curvature = (up2 - 2 * owner.loss_value(X, y) + down2) / h2**2
    assert float(d @ A.hvp(owner, X, y, d)) == pytest.approx(curvature, rel=1e-4)
    # a model without a preprocessing, fed x' by hand, gives the same numbers bit for bit
    (bl, bp), (bdl, bdp) = fg.jvp(bare, {"x": pre.transform(X), "y": y}, v)
    assert loss == bl and dloss == bdl
    np.testing.assert_array_equal(proba, bp)
    np.testing.assert_array_equal(dproba, bdp)


def test_a_tangent_of_x_moves_the_preprocessed_input():
    X, y = raw_data()
    owner, bare, pre = owner_and_bare(X)
    vx = np.random.default_rng(1).standard_normal(X.shape)
    mine = A.jvp(owner, (X, y), {"x": vx})
    theirs = fg.jvp(bare, {"x": pre.transform(X), "y": y}, {"x": vx})
    np.testing.assert_array_equal(mine.tangents[0], theirs.tangents[0])
    np.testing.assert_array_equal(mine.tangents[1], theirs.tangents[1])


def test_jvp_on_a_graph_is_the_graph_sweep_and_anything_else_is_refused():
    X, y = raw_data()
    _, bare, _ = owner_and_bare(X)
    v = {"b2": np.ones(3)}
    feed = {bare.x: X, bare.y: y}
    mine, theirs = A.jvp(bare.graph, feed, v), fg.jvp(bare.graph, feed, v)
    assert mine.values[0] == theirs.values[0] and mine.tangents[0] == theirs.tangents[0]
    with pytest.raises(A.AnalysisError, match="expected a Model or a Graph, got dict"):
        A.jvp({}, feed, v)
