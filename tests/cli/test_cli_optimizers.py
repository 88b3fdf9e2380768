"""`flowgraph train --optimizer ...` and `optimizer` as a hyper-parameter of the search: small,
fast runs, the options each optimizer takes, and one-line errors for the others."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main
from flowgraph.cli.search_cmd import parse_assignments
from flowgraph.select import grid_search, resolve_config, run_trial

FAST = ["--dataset", "moons", "--n-samples", "200", "--hidden", "8", "--epochs", "3",
        "--patience", "0", "--no-progress"]  # fmt: skip


def _config(out) -> dict:
    return json.loads((out / "metrics.json").read_text())["config"]


@pytest.mark.parametrize(
    "argv, expect, shown",
    [
        (["--optimizer", "nesterov"], {"momentum": 0.9, "lr": 0.05}, "nesterov=True"),
        (["--optimizer", "adagrad", "--eps", "1e-6"], {"eps": 1e-6, "lr": 0.1}, "AdaGrad("),
        (["--optimizer", "rmsprop", "--rho", "0.9", "--centered", "--momentum", "0.5"],
         {"rho": 0.9, "centered": True, "momentum": 0.5}, "centered=True"),
        (["--optimizer", "adam", "--beta2", "0.99", "--amsgrad"],
         {"beta2": 0.99, "amsgrad": True, "lr": 0.003, "momentum": None}, "amsgrad=True"),
        (["--optimizer", "adamw", "--weight-decay", "0.05", "--lr", "0.01"],
         {"weight_decay": 0.05, "lr": 0.01}, "weight_decay=0.05"),
        (["--optimizer", "sgd", "--dampening", "0.5"], {"dampening": 0.5, "momentum": 0.9},
         "dampening=0.5"),
    ],
)  # fmt: skip
def test_train_with_each_optimizer_records_it(argv, expect, shown, tmp_path, capsys):
    assert main(["train", *FAST, *argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    config = _config(tmp_path)
    assert config["optimizer"] == argv[1]
    for key, value in expect.items():
        assert config[key] == value, key
    assert shown in out  # the summary line names the optimizer and its options
    model = fg.load_model(tmp_path / "model.npz")
    assert model.metadata["metrics"]["config"]["optimizer"] == argv[1]


def test_the_default_optimizer_is_the_lectures_sgd_with_momentum(tmp_path, capsys):
    assert main(["train", *FAST, "--out", str(tmp_path)]) == 0
    config = _config(tmp_path)  # the 2-D sets take alpha = 0.05 with SGD
    assert (config["optimizer"], config["lr"], config["momentum"]) == ("sgd", 0.05, 0.9)
    assert "SGD(alpha / (1 + delta t), alpha = 0.05" in capsys.readouterr().out
    digits = tmp_path / "digits"
    argv = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--augment",
            "none", "--no-progress", "--out", str(digits)]  # fmt: skip
    assert main(argv) == 0 and _config(digits)["lr"] == 0.2
    assert main([*argv[:-1], str(tmp_path / "a"), "--optimizer", "adam"]) == 0
    assert _config(tmp_path / "a")["lr"] == 0.003  # the rate of adam, on every set


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizer", "adam", "--momentum", "0.9"],
         "--optimizer adam does not take --momentum; it takes --beta1, --beta2"),
        (["--optimizer", "sgd", "--beta1", "0.9"], "--optimizer sgd does not take --beta1"),
        (["--optimizer", "adagrad", "--centered"], "--optimizer adagrad does not take --centered"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["--optimizer", "adam", "--beta1", "1"], r"beta1 must lie in [0, 1)"),
        (["--optimizer", "nesterov", "--momentum", "0"], "Nesterov momentum needs momentum"),
    ],
)  # fmt: skip
def test_options_an_optimizer_does_not_take_are_one_line_errors(argv, message, tmp_path,
                                                                 capsys, monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["train", *FAST, *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


# -- search -----------------------------------------------------------------------------------


def _data(seed: int = 0, d: int = 6, n=(120, 40, 40)):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, d))

    def part(m):
        X = rng.normal(size=(m, d))
        return X, (X @ W.T).argmax(axis=1)

    return tuple(part(m) for m in n)


def test_optimizer_is_a_hyper_parameter_with_its_own_default_rate():
    c = resolve_config({})  # flowgraph train's defaults: SGD, alpha 0.2, beta 0.9
    assert (c["optimizer"], c["lr"], c["momentum"]) == ("sgd", 0.2, 0.9)
    c = resolve_config({"optimizer": "Adam"})
    assert (c["optimizer"], c["lr"], c["momentum"]) == ("adam", 3e-3, None)
    c = resolve_config({"optimizer": "rmsprop", "momentum": 0.5})
    assert (c["lr"], c["momentum"]) == (3e-3, 0.5)
    assert resolve_config({"optimizer": "adam", "lr": 0.01})["lr"] == 0.01
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        resolve_config({"optimizer": "lbfgs"})


def test_grid_over_optimizers_trains_each_and_a_wrong_option_fails_one_trial():
    data = _data()
    result = grid_search(
        {"optimizer": ["sgd", "nesterov", "rmsprop", "adam"], "epochs": 2, "batch_size": 16},
        data, progress=False, refit=False,
    )  # fmt: skip
    by_name = {t["config"]["optimizer"]: t for t in result.trials}
    assert set(by_name) == {"sgd", "nesterov", "rmsprop", "adam"}
    assert all(t["status"] == "ok" and 0 <= t["valid_error"] <= 1 for t in result.trials)
    # the trials differ: each optimizer did its own updates
    assert len({t["valid_error"] for t in result.trials} | {t["train_error"] for t in
                                                             result.trials}) > 1  # fmt: skip
    again = run_trial({"optimizer": "adam", "epochs": 2, "batch_size": 16}, data, 0)
    assert again["train_error"] == run_trial(
        {"optimizer": "adam", "epochs": 2, "batch_size": 16}, data, 0
    )["train_error"]
    bad = run_trial({"optimizer": "adam", "momentum": 0.9, "epochs": 1}, data, 0)
    assert bad["status"] == "failed" and "adam does not take --momentum" in bad["error"]


def test_search_command_line_takes_optimizer(tmp_path, capsys):
    assert parse_assignments(["optimizer=SGD,adamw"], "--grid", many=True) == {
        "optimizer": ["sgd", "adamw"]
    }
    out = tmp_path / "s"
    argv = ["search", "--dataset", "digits", "--n-samples", "300", "--quiet", "--grid",
            "optimizer=adam,adagrad", "--set", "epochs=2", "hidden=8",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "grid search on digits: 2 of 2 trials" in text
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert {r["optimizer"] for r in rows} == {"adam", "adagrad"}
    assert main(["search", "--grid", "optimizer=adam,lbfgs", "--out", str(tmp_path / "x")]) == 2
    assert "unknown optimizer; choose one of sgd, nesterov" in capsys.readouterr().err
