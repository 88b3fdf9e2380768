"""`flowgraph render`: a saved model's picture, with values, gradients and checks on a batch of
its dataset or of a feed, and one-line errors."""

from __future__ import annotations

import numpy as np
from helper_pictures import BadTanh, nid, svg_nodes, svg_paint, svg_text

import flowgraph as fg
from flowgraph.render import STYLE


def saved_model(tmp_path, *, metadata=None, sizes=(64, 5, 10), preprocessing=None):
    model = fg.mlp(list(sizes), l2=1e-3, dtype=np.float64, seed=0)
    model.preprocessing = preprocessing
    return model, model.save(tmp_path / "model.npz", metadata=metadata)


def test_cli_renders_a_saved_model(tmp_path, capsys):
    from flowgraph.cli import main

    model, path = saved_model(tmp_path)
    assert main(["render", str(path), "-o", str(tmp_path / "graph.svg")]) == 0
    assert "wrote" in capsys.readouterr().out
    nodes = svg_nodes((tmp_path / "graph.svg").read_text(encoding="utf-8"))
    assert sorted(nodes) == sorted(nid(n.name) for n in model.graph.order)
    assert main(["render", str(path)]) == 0  # default: model.svg beside the model
    assert (tmp_path / "model.svg").read_bytes().startswith(b"<?xml")
    assert main(["render", str(path), "-o", str(tmp_path / "g.png"), "--no-group"]) == 0
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


def test_cli_values_grads_check_on_a_batch_of_the_named_dataset(tmp_path, capsys):
    from flowgraph.cli import main
    from flowgraph.datasets import get_dataset

    X, _, _ = get_dataset("digits")
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1.0
    pre = {"kind": "standardize", "mean": mean.tolist(), "scale": scale.tolist()}
    _, path = saved_model(tmp_path, metadata={"dataset": "digits"},
                          preprocessing=fg.Preprocessing.from_dict(pre))  # fmt: skip
    out = tmp_path / "graph.svg"
    args = ["render", str(path), "-o", str(out), "--values", "--grads", "--order", "--check"]
    assert main(args + ["--batch", "5"]) == 0
    assert "no box fails" in capsys.readouterr().out
    svg = out.read_text(encoding="utf-8")
    nodes = svg_nodes(svg)
    x_text = svg_text(nodes[nid("x")])
    assert "5×64" in x_text and "mean" in x_text  # a batch of 5 standardised digits...
    loaded = fg.load_model(path)
    Xs = (X - mean) / scale
    rows = np.sort(np.random.default_rng(0).choice(len(X), size=5, replace=False))
    assert f"{Xs[rows].max():.3g}" in x_text  # ...chosen by the seed
    loaded.graph.fprop({loaded.x: Xs[rows], loaded.y: get_dataset("digits")[1][rows]})
    assert f"{float(loaded.loss.value):.5g}" in svg_text(nodes[nid("loss")])
    assert "pass" in svg_text(nodes[nid("a1")]) and "bprop #" in svg_text(nodes[nid("a1")])
    # without a dataset in the file, --dataset names it; without either, a clear error
    _, bare = saved_model(tmp_path / "bare")
    assert main(["render", str(bare), "--grads"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["render", str(bare), "--grads", "--dataset", "moons"]) == 2
    assert "takes 64 features" in capsys.readouterr().err  # moons has 2
    assert main(["render", str(bare), "--grads", "--dataset", "digits"]) == 0


def test_cli_renders_what_flowgraph_train_saved(tmp_path, capsys):
    from flowgraph.cli import main

    train = ["train", "--out", str(tmp_path), "--hidden", "4", "--epochs", "1"]
    assert main(train + ["--augment", "none", "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "values.svg"
    assert main(["render", str(tmp_path / "model.npz"), "-o", str(out), "--values"]) == 0
    nodes = svg_nodes(out.read_text(encoding="utf-8"))
    words = svg_text(nodes[nid("x")]).split()
    mean, std, lo, hi = words[words.index("value") + 1 : words.index("value") + 5]
    assert (lo, hi) == ("0", "1"), words  # digits scaled by 1/16, as the model was trained
    assert "Softmax" in svg_text(nodes[nid("output")])


def test_cli_check_finds_a_wrong_box_and_exits_1(tmp_path, monkeypatch, capsys):
    from flowgraph.cli import main

    _, path = saved_model(tmp_path, metadata={"dataset": "digits"}, sizes=(64, 5, 5, 10))
    monkeypatch.setattr(fg.Tanh, "bprop", BadTanh.bprop)  # the loaded model's Tanh boxes too
    out = tmp_path / "check.svg"
    assert main(["render", str(path), "-o", str(out), "--check"]) == 1
    assert "first failing box: 'h1'" in capsys.readouterr().out
    nodes = svg_nodes(out.read_text(encoding="utf-8"))
    red = {name for name, g in nodes.items() if STYLE["fail"][0] in svg_paint(g)[0]}
    assert red == {nid("h1"), nid("h2")}  # both Tanh boxes, and nothing else


def test_cli_mistakes_are_one_line(tmp_path, capsys):
    from flowgraph.cli import main

    _, path = saved_model(tmp_path)
    assert main(["render", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert main(["render", str(path), "-o", str(tmp_path / "g.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".svg" in err


def test_cli_renders_any_saved_graph_on_a_feed(tmp_path, capsys):
    from helper_models import linear_regression

    from flowgraph.cli import main

    model = linear_regression()
    path = model.save(tmp_path / "regression.npz")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "feed.npz", x=rng.normal(size=(20, 3)), t=rng.normal(size=(20, 1)))
    boxes = ["--boxes", "helper_models:HalfSquaredError"]
    out = tmp_path / "graph.svg"
    assert main(["render", str(path), *boxes, "-o", str(out)]) == 0
    assert sorted(svg_nodes(out.read_text(encoding="utf-8"))) == sorted(
        nid(n.name) for n in model.graph.order
    )
    args = ["render", str(path), *boxes, "-o", str(out), "--values", "--check", "--batch", "4"]
    assert main(args + ["--feed", str(tmp_path / "feed.npz")]) == 0
    assert "no box fails" in capsys.readouterr().out
    assert "4×3" in svg_text(svg_nodes(out.read_text(encoding="utf-8"))[nid("x")])
    assert main(args) == 2  # inputs x and t: no dataset can feed them
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --feed DATA.npz" in err
