"""Dropout and batch norm as layers: both modes against torch.nn in float64 (same weights),
torch's running statistics after several steps, reproducibility from the seed, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import flowgraph as fg
from flowgraph import nn


@pytest.mark.parametrize("spatial", [False, True], ids=["1d", "2d"])
def test_batch_norm_matches_torch_in_both_modes_and_its_running_statistics(spatial, rng):
    C, shape = 3, ((6, 3, 4, 5) if spatial else (8, 3))
    ours = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(C, momentum=0.2, dtype=np.float64)
    theirs = (torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d)(C, momentum=0.2).double()
    gamma, beta = rng.uniform(0.5, 1.5, C), rng.standard_normal(C)
    ours.load_state_dict({"weight": gamma, "bias": beta, "running_mean": np.zeros(C),
                          "running_var": np.ones(C)})
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=False)
    x = fg.Input("x")
    y = ours(x)
    graph = fg.Graph((y * fg.Constant(rng.standard_normal(shape))).sum())
    assert graph.buffers == [ours.running_mean, ours.running_var]
    for _ in range(4):  # training: batch statistics, then the buffers' update
        X = rng.standard_normal(shape) * 2 + 1
        tx = torch.tensor(X, requires_grad=True)
        ty = theirs.train()(tx)
        graph.fprop({x: X})
        np.testing.assert_allclose(y.value, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        graph.bprop(wrt=[x])
        graph.update_buffers()
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    np.testing.assert_allclose(ours.running_mean.value, state["running_mean"], rtol=1e-12)
    np.testing.assert_allclose(ours.running_var.value, state["running_var"], rtol=1e-12)
    graph.eval()  # evaluation: the running statistics
    X = rng.standard_normal(shape)
    graph.fprop({x: X})
    np.testing.assert_allclose(y.value, theirs.eval()(torch.tensor(X)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    before = ours.running_mean.value.copy()
    graph.update_buffers()  # after an evaluation fprop: nothing changes
    np.testing.assert_array_equal(ours.running_mean.value, before)
    # torch's state_dict copies across in one line (its num_batches_tracked is ignored)
    copy = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(C, dtype=np.float64)
    copy.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(copy.running_var.value, state["running_var"])


def test_dropout_in_both_modes_is_torch_formula_and_reproducible(rng):
    x = fg.Input("x")
    y = nn.Dropout(0.25)(x)
    u = y.children[1]
    graph = fg.Graph(y.sum())
    X = rng.standard_normal((200, 50))
    graph.fprop({x: X}, rng=np.random.default_rng(3))
    mask = u.value >= 0.25
    np.testing.assert_allclose(y.value, X * mask / 0.75, rtol=1e-15)
    assert abs(mask.mean() - 0.75) < 0.02
    first = y.value.copy()
    graph.fprop({x: X})  # no rng: the same key, the same mask (the checker's repeated fprops)
    np.testing.assert_array_equal(y.value, first)
    graph.fprop({x: X}, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(y.value, first)
    graph.fprop({x: X}, rng=np.random.default_rng(4))
    assert not np.array_equal(y.value, first)
    graph.eval()
    graph.fprop({x: X})
    np.testing.assert_array_equal(y.value, X)
    # torch's dropout is the same function of the same mask
    tx = torch.tensor(X)
    np.testing.assert_allclose(first, (tx * torch.tensor(mask) / 0.75).numpy())


def test_training_without_a_generator_is_refused():
    x = fg.Input("x")
    graph = fg.Graph(fg.dropout(x, 0.5).sum())
    with pytest.raises(fg.GraphError, match="rng"):
        graph.fprop({x: np.ones((2, 3))})
    graph.eval()
    assert graph.fprop({x: np.ones((2, 3))}) == 6.0


def test_hostile_input_one_error_naming_box_and_shapes():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got 1.0"):
        fg.dropout(fg.Input("x"), 1.0)
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(-0.1)
    bn = nn.BatchNorm1d(4)
    with pytest.raises(fg.ShapeError, match=r"BatchNorm1d\(4\).*\(None, 3\).*4 channels"):
        bn(fg.Input("x", shape=(None, 3)))
    x = fg.Input("x")
    graph = fg.Graph(nn.BatchNorm1d(4)(x).sum())
    wrong = r"BatchNorm.*x=\(5, 3\).*3 channels but gamma has shape \(4,\)"
    with pytest.raises(fg.ShapeError, match=wrong):
        graph.fprop({x: np.ones((5, 3))})
    with pytest.raises(fg.ShapeError, match="more than one value per channel"):
        graph.fprop({x: np.ones((1, 4))})


def _cs231n_model(seed, p=0.3):
    x, y = fg.Input("x"), fg.Input("y", dtype=int)
    net = nn.Sequential(nn.Linear(64, 32, rng=seed, dtype=np.float64), nn.BatchNorm1d(
        32, dtype=np.float64), nn.ReLU(), nn.Dropout(p), nn.Linear(32, 10, rng=seed + 1,
                                                                    dtype=np.float64))
    a = net(x)
    return fg.Model(fg.softmax_cross_entropy(a, y), fg.softmax(a)), net


def _digits():
    X, y = fg.datasets.load_digits()
    return np.asarray(X, float) / 16.0, np.asarray(y)


def test_a_cs231n_net_with_dropout_and_batch_norm_trains_reproducibly_and_checks(tmp_path):
    X, y = _digits()
    X, y = X[:400], y[:400]
    runs = []
    for _ in range(2):
        model, net = _cs231n_model(0)
        history = fg.train(model, (X[:300], y[:300]), (X[300:], y[300:]), epochs=3,
                           batch_size=32, optimizer=fg.SGD(model.parameters, lr=0.1),
                           seed=7, progress=False)
        runs.append((model.state(buffers=True), history.valid_loss))
    for k in runs[0][0]:
        np.testing.assert_array_equal(runs[0][0][k], runs[1][0][k])
    assert model.error(X[300:], y[300:]) < 0.5
    bn = net[1]
    assert not np.allclose(bn.running_mean.value, 0)  # the buffers were updated
    # predictions run in evaluation mode: deterministic, no generator needed
    np.testing.assert_array_equal(model.predict_proba(X[:5]), model.predict_proba(X[:5]))
    # the gradient of the training graph, in training mode with a fixed generator
    graph = model.train_graph
    graph.fprop({"x": X[:16], "y": y[:16]}, rng=0)
    report = fg.check_graph(graph, {"x": X[:16], "y": y[:16]})
    assert report.ok, str(report)
    # saved and loaded with its buffers
    path = tmp_path / "net.npz"
    fg.save_model(model, path)
    loaded = fg.load_model(path)
    assert [b.name for b in loaded.buffers] == [b.name for b in model.buffers]
    for a, b in zip(loaded.buffers, model.buffers):
        np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), model.predict_proba(X[:20]))


def test_a_resumed_run_with_dropout_is_bit_identical():
    X, y = _digits()
    X, y = X[:200], y[:200]
    model, _ = _cs231n_model(1)
    fg.train(model, (X, y), epochs=4, batch_size=20,
             optimizer=fg.SGD(model.parameters, lr=0.1), seed=3, progress=False)
    whole = model.state(buffers=True)
    model, _ = _cs231n_model(1)
    opt = fg.SGD(model.parameters, lr=0.1)
    state = fg.TrainState()
    fg.train(model, (X, y), epochs=2, batch_size=20, optimizer=opt, seed=3, progress=False,
             state=state)
    fg.train(model, (X, y), epochs=4, batch_size=20, optimizer=opt, seed=3, progress=False,
             state=state)
    for k, v in whole.items():
        np.testing.assert_array_equal(model.state(buffers=True)[k], v)


def test_buffers_and_the_filled_leaves_are_drawn_as_leaves_of_their_own():
    x = fg.Input("x")
    graph = fg.Graph(nn.Dropout(0.2)(nn.BatchNorm1d(3, name="bn")(x)).sum())
    source = fg.to_dot(graph).source
    assert "cylinder" in source and "bn.running_mean" in source  # buffers
    assert "dotted" in source  # the random key and the mode, filled by the Graph
    from flowgraph.render.layers import find_layers

    (bn,) = find_layers(graph)  # the batch norm's cluster holds its state too
    assert bn.name == "bn" and [m.name for m in bn.members] == [
        "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "batchnorm1"]


def test_another_seed_draws_other_masks_and_the_run_differs():
    X, y = _digits()
    X, y = X[:100], y[:100]
    states = []
    for seed in (5, 6):
        model, _ = _cs231n_model(2)
        fg.train(model, (X, y), epochs=1, batch_size=20,
                 optimizer=fg.SGD(model.parameters, lr=0.1), seed=seed, progress=False)
        states.append(model.state())
    assert any(not np.array_equal(states[0][k], states[1][k]) for k in states[0])


def test_a_model_file_whose_buffer_update_names_no_node_is_refused(tmp_path):
    import hashlib
    import json

    from flowgraph.io.format import canonical

    model, _ = _cs231n_model(0)
    path = tmp_path / "m.npz"
    fg.save_model(model, path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["__meta__"]))
    for rec in meta["graph"]["nodes"]:
        if rec.get("kind") == "buffer":
            rec["update"] = "nowhere"
    meta["sha256_meta"] = hashlib.sha256(canonical(meta)).hexdigest()  # a consistent forgery
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(fg.ModelFileError, match="running_mean.*update 'nowhere' names no node"):
        fg.load_model(tmp_path / "bad.npz")


def test_update_buffers_before_any_fprop_is_an_error():
    x = fg.Input("x")
    graph = fg.Graph(nn.BatchNorm1d(2)(x).sum())
    with pytest.raises(fg.GraphError, match="before fprop"):
        graph.update_buffers()


def test_a_block_takes_its_randomness_and_mode_as_children(rng):
    h = fg.Input("h")
    with pytest.raises(fg.GraphError, match="Inputs of the block"):
        fg.Block(fg.Graph(fg.dropout(h, 0.5)), inputs=[h])
    u, mode = fg.Input("u"), fg.Input("mode")
    block = fg.Block(fg.Graph(fg.Dropout(0.5)(h, u, mode)), inputs=[h, u, mode])
    x = fg.Input("x")
    y = block(x, fg.uniform_like(x), fg.Mode())
    graph = fg.Graph(y.sum())
    X = rng.standard_normal((4, 6))
    graph.fprop({x: X}, rng=1)
    assert 0 < np.count_nonzero(y.value) < X.size
    graph.eval()
    graph.fprop({x: X})
    np.testing.assert_array_equal(y.value, X)


def test_layer_norm_function_form_matches_torch(rng):
    X, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(5), rng.standard_normal(5)
    x, W, B = fg.Input("x"), fg.Parameter(w, "w"), fg.Parameter(b, "b")
    R = rng.standard_normal((4, 3, 5))
    graph = fg.Graph((fg.layer_norm(x, 5, W, B) * fg.Constant(R)).sum())
    graph.fprop({x: X})
    graph.bprop(wrt=[x])
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (X, w, b))
    (torch.nn.functional.layer_norm(tx, (5,), tw, tb) * torch.tensor(R)).sum().backward()
    for ours, theirs in ((x, tx), (W, tw), (B, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
