"""`flowgraph train` and `flowgraph evaluate`: outputs, the default run's accuracy on digits,
Ctrl-C, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main

PNG = b"\x89PNG\r\n\x1a\n"
METRIC_KEYS = {
    "train_accuracy", "valid_accuracy", "test_accuracy", "epochs", "best_epoch", "seconds",
    "config",
}  # fmt: skip
FAST = ["--dataset", "moons", "--n-samples", "200", "--hidden", "16", "--epochs", "8",
        "--patience", "4", "--no-progress"]  # fmt: skip


@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    """One small run on moons, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("moons")
    status = main(["train", *FAST, "--out", str(out)])
    return status, out


def _metrics(out) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_train_writes_every_output(moons_run, capsys):
    status, out = moons_run
    assert status == 0
    metrics = _metrics(out)
    assert METRIC_KEYS <= set(metrics)
    assert metrics["config"]["dataset"] == "moons" and metrics["config"]["hidden"] == [16]
    assert metrics["config"]["epochs"] == 8 and metrics["epochs"] <= 8
    assert 0.5 < metrics["test_accuracy"] <= 1.0
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"]
    # the model file: loads, and predicts what metrics.json says on the test split
    model = fg.load_model(out / "model.npz")
    meta = model.metadata
    assert meta["dataset"] == "moons" and meta["split"]["seed"] == 0
    assert meta["preprocessing"]["kind"] == "standardize"
    assert model.config["sizes"] == [2, 16, 2]
    for name in ("curves.png", "boundary.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    if shutil.which("dot"):
        root = ET.parse(out / "graph.svg").getroot()
        assert root.tag.endswith("svg")
        assert "W1" in (out / "graph.svg").read_text()
    else:  # without Graphviz, one line says why and nothing else fails
        assert not (out / "graph.svg").exists()


def test_train_prints_a_summary(tmp_path, capsys):
    assert main(["train", *FAST, "--epochs", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    metrics = _metrics(tmp_path)
    lines = out.splitlines()
    table = {line.split()[0]: line.split()[1:] for line in lines if line[:5] in ("train", "valid")}
    test_row = next(line for line in lines if line.startswith("test "))
    assert float(test_row.split()[2]) == pytest.approx(metrics["test_accuracy"], abs=1e-4)
    assert float(table["train"][1]) == pytest.approx(metrics["train_accuracy"], abs=1e-4)
    assert f"epochs {metrics['epochs']} (best {metrics['best_epoch']}" in out
    assert lines[-1].startswith(f"wrote {tmp_path}") and "model.npz" in lines[-1]
    assert "moons: 200 examples" in out


def test_default_run_reaches_97_percent_on_digits(tmp_path):
    """The main job with no argument but --out: digits, 2 x 100 tanh, SGD with momentum and
    a decaying rate, L2, early stopping."""
    assert main(["train", "--no-progress", "--out", str(tmp_path)]) == 0
    metrics = _metrics(tmp_path)
    assert metrics["config"]["dataset"] == "digits"
    assert metrics["config"]["hidden"] == [100, 100]
    assert metrics["config"]["activation"] == "tanh"
    assert metrics["config"]["momentum"] > 0 and metrics["config"]["l2"] > 0
    assert metrics["test_accuracy"] >= 0.97
    assert not (tmp_path / "boundary.png").exists()  # digits are not 2-D


def test_evaluate_reproduces_the_test_split(moons_run, capsys):
    _, out = moons_run
    metrics = _metrics(out)
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz")]) == 0
    text = capsys.readouterr().out
    assert f"accuracy {metrics['test_accuracy']:.4f}" in text
    assert "predicted" in text and "total" in text
    rows = [line.split() for line in text.splitlines() if line[:1] in "01"]
    assert sum(int(r[-2]) for r in rows) == 30  # 15% of 200 test examples
    assert main(["evaluate", str(out / "model.npz"), "--split", "valid"]) == 0
    assert f"accuracy {metrics['valid_accuracy']:.4f}" in capsys.readouterr().out
    png = out / "confusion.png"
    assert main(["evaluate", str(out / "model.npz"), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG


def test_a_trained_model_file_predicts_on_raw_data(tmp_path, capsys):
    """model.npz owns its input pipeline (digits: x' = x / 16; the shifted copies were for
    training only): loaded, it takes the raw pixels and gives the errors of metrics.json, as
    does `flowgraph evaluate`; a model without it, fed x' by hand, agrees (applied once)."""
    from flowgraph.training.recipe import load_parts as _load_parts

    out = tmp_path / "digits"
    argv = ["train", "--dataset", "digits", "--n-samples", "300", "--hidden", "8",
            "--epochs", "3", "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    metrics = _metrics(out)
    model = fg.load_model(out / "model.npz")
    assert model.preprocessing == fg.Preprocessing("scale", factor=1 / 16, image_shape=(8, 8))
    parts, _ = _load_parts("digits", None, model.metadata["split"])
    assert parts["test"][0].max() > 1  # raw pixel counts 0..16
    for k in ("train", "valid", "test"):
        assert model.error(*parts[k]) == metrics[f"{k}_error"], k
    bare = fg.load_model(out / "model.npz")
    bare.preprocessing = None
    assert bare.error(parts["test"][0] / 16, parts["test"][1]) == metrics["test_error"]
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz")]) == 0
    assert f"error {metrics['test_error']:.4f}" in capsys.readouterr().out


def test_evaluate_on_another_dataset_of_the_same_shape(moons_run, capsys):
    _, out = moons_run
    assert main(["evaluate", str(out / "model.npz"), "--dataset", "xor"]) == 0
    assert "xor, test split" in capsys.readouterr().out
    assert main(["evaluate", str(out / "model.npz"), "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "takes 2 inputs" in err


def test_ctrl_c_keeps_the_best_model_and_writes_everything(tmp_path, monkeypatch, capsys):
    """Ctrl-C (a SIGINT to this process) in epoch 3: training ends after that batch, every
    output is written with the best parameters so far, and the run says so."""
    train_module = sys.modules["flowgraph.training.recipe"]
    real_train = train_module.train

    class CtrlC(fg.Callback):
        def on_step_end(self, model, step):
            if step == 12:  # 5 batches of 32 per epoch on 140 moons
                os.kill(os.getpid(), signal.SIGINT)

    def train_with_ctrl_c(*args, callbacks=(), **kwargs):
        return real_train(*args, **kwargs, callbacks=[*callbacks, CtrlC()])

    monkeypatch.setattr(train_module, "train", train_with_ctrl_c)
    status = main(["train", *FAST, "--epochs", "50", "--patience", "50", "--out", str(tmp_path)])
    assert status == 130
    out = capsys.readouterr().out
    assert "interrupted (Ctrl-C or SIGTERM) in epoch 3: kept the best model so far" in out
    metrics = _metrics(tmp_path)
    assert metrics["interrupted"] is True and metrics["epochs"] == 3
    model = fg.load_model(tmp_path / "model.npz")
    best = metrics["best_epoch"]
    assert 1 - model.metadata["metrics"]["valid_accuracy"] == pytest.approx(
        metrics["history"]["valid_error"][best - 1]
    )
    for name in ("curves.png", "boundary.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--bogus"], "unrecognized arguments: --bogus"),
        (["train", "--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
        (["train", "--lr", "0"], "argument --lr: expected a number > 0"),
        (["train", "--epochs", "0"], "argument --epochs: expected a number >= 1"),
        (["train", "--activation", "swish"], "argument --activation: invalid choice"),
        (["train", "--dataset", "cifar"], "unknown dataset 'cifar'; choose one of digits"),
        (["train", "--momentum", "1.5"], "--momentum must lie in [0, 1)"),
        (["train", "--schedule", "power", "--decay", "0.3"], "0.5 < --decay <= 1"),
        (["train", "--valid", "0.6", "--test", "0.5"], "--valid + --test must be below 1"),
        (["train", "--dataset", "moons", "--data-dir", "x"], "--data-dir is for mnist"),
        (["train", "--dataset", "moons", "--test", "0.0001"], "its test split would be empty"),
        (["evaluate"], "the following arguments are required: MODEL"),
        (["evaluate", "nowhere.npz"], "no model file at nowhere.npz"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written to runs/ here
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err, err
    assert err.startswith("flowgraph")
    assert not (tmp_path / "runs").exists()


def test_missing_mnist_directory_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no-mnist-here"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(missing), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "does not exist" in err


def _write_idx(path, array: np.ndarray) -> None:
    """The IDX format: 0, 0, type 0x08 (unsigned byte), ndim; each size as a big-endian int32;
    then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_idx_files_keeps_the_official_test_set(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 120), ("t10k", 40)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        images[np.arange(n), 2 * labels + 3, 5:20] = 255  # a bright row that tells the digit
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    out = tmp_path / "run"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--hidden", "20"]
    assert main([*argv, "--epochs", "30", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mnist: 160 examples (102 train  /  18 valid  /  40 test)" in text
    metrics = _metrics(out)
    assert metrics["config"]["augment"] == "none" and metrics["test_accuracy"] > 0.5
    assert fg.load_model(out / "model.npz").metadata["preprocessing"] == {"kind": "none"}
    assert main(["evaluate", str(out / "model.npz")]) == 0
    assert f"accuracy {metrics['test_accuracy']:.4f}" in capsys.readouterr().out


def test_evaluate_refuses_a_foreign_file(tmp_path, capsys):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3))
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a flowgraph model" in err
    # a model saved from Python without the metadata of `flowgraph train`
    fg.mlp([2, 2]).save(tmp_path / "bare.npz")
    assert main(["evaluate", str(tmp_path / "bare.npz")]) == 2
    assert "no dataset split" in capsys.readouterr().err


def test_a_bad_flag_from_the_shell_prints_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "flowgraph", "train", "--hidden", "ten"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "argument --hidden" in done.stderr and done.stdout == ""


# -- evaluate: any saved model ------------------------------------------------------------------


@pytest.fixture
def regression_file(tmp_path):
    """A linear regression (a user's loss box) trained and saved, with its data as a feed."""
    from helper_models import linear_regression

    model = linear_regression()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    T = X @ np.array([[1.0], [2.0], [3.0]])
    fg.train(model, {"x": X, "t": T}, epochs=30, batch_size=10, progress=False,
             optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip
    np.savez(tmp_path / "feed.npz", x=X, t=T)
    return model, model.save(tmp_path / "regression.npz"), tmp_path / "feed.npz"


def test_evaluate_any_model_on_a_feed(regression_file, capsys, tmp_path):
    model, path, feed = regression_file
    boxes = ["--boxes", "helper_models:HalfSquaredError"]
    assert main(["evaluate", str(path), *boxes, "--feed", str(feed)]) == 0
    out = capsys.readouterr().out
    with np.load(feed) as data:
        expected = model.loss_value({"x": data["x"], "t": data["t"]})
    assert "60 examples" in out and f"loss {expected:.6g}" in out and "error" not in out
    # the user's box must be named on the command line; the file alone imports nothing
    assert main(["evaluate", str(path), "--feed", str(feed)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--boxes MODULE:HalfSquaredError" in err
    # a model without `flowgraph train`'s metadata and no --feed: says what to pass
    assert main(["evaluate", str(path), *boxes]) == 2
    assert "--feed" in capsys.readouterr().err
    # bad feeds are one line each
    np.savez(tmp_path / "short.npz", x=np.zeros((5, 3)), t=np.zeros((4, 1)))
    np.savez(tmp_path / "extra.npz", x=np.zeros((5, 3)), t=np.zeros((5, 1)), z=np.zeros(5))
    np.savez(tmp_path / "nan.npz", x=np.full((5, 3), np.nan), t=np.zeros((5, 1)))
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 3)), t=np.zeros((0, 1)))
    for name, message in [
        ("short.npz", "x has 5, t has 4"),
        ("extra.npz", "['z'], which are not Inputs"),
        ("nan.npz", "array 'x' holds nan at index (0, 0)"),
        ("empty.npz", "no examples"),
        ("missing.npz", "no file at"),
    ]:
        assert main(["evaluate", str(path), *boxes, "--feed", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (name, err)
    assert main(["evaluate", str(path), "--boxes", "helper_models"]) == 2
    assert "MODULE:CLASS" in capsys.readouterr().err


def test_evaluate_a_classifier_feed_reports_error_and_confusion(tmp_path, capsys):
    rng = np.random.default_rng(0)
    model = fg.mlp([2, 3], seed=0)
    X, y = rng.normal(size=(40, 2)), np.arange(40) % 3
    np.savez(tmp_path / "feed.npz", x=X, y=y)
    path = model.save(tmp_path / "m.npz")
    assert main(["evaluate", str(path), "--feed", str(tmp_path / "feed.npz")]) == 0
    out = capsys.readouterr().out
    assert f"accuracy {1 - model.error(X, y):.4f}" in out
    assert f"loss {model.loss_value(X, y):.6g}" in out and "predicted" in out
    np.savez(tmp_path / "column.npz", x=X, y=y[:, None])  # labels as a column: never broadcast
    assert main(["evaluate", str(path), "--feed", str(tmp_path / "column.npz")]) == 2
    assert r"shape (40,), got (40, 1)" in capsys.readouterr().err
