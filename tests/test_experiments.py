"""``flowgraph experiment NAME --quick``: every experiment runs, prints, writes its PNG and JSON,
and its numbers show the phenomenon it claims."""

import json

import pytest

from flowgraph.analysis.experiments import EXPERIMENTS
from flowgraph.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(name, tmp_path, capsys):
    rc = main(["experiment", name, "--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    png, js = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000
    record = json.loads(js.read_text())
    assert record["name"] == name and record["quick"] is True
    assert f"experiment {name}" in out and str(png) in out
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    return record["results"], out


def test_every_experiment_is_registered_with_the_cli():
    assert set(EXPERIMENTS) == {
        "newton", "saddle", "sharpness", "interpolation", "lottery", "adversarial",
        "memorization", "double-descent", "bias-variance", "l1-sparsity",
    }  # fmt: skip


def test_newton(tmp_path, capsys):
    r, out = run("newton", tmp_path, capsys)
    lr = r["logistic_regression"]
    assert lr["newton_grad_norm"][-1] < 1e-5 < lr["newton_grad_norm"][0]
    assert lr["gd_excess_loss_at_end"] > 1e-4  # gradient descent is far behind
    assert r["mlp"]["n_negative"] > 0  # the MLP's Hessian at init is indefinite


def test_saddle(tmp_path, capsys):
    r, out = run("saddle", tmp_path, capsys)
    assert r["zero_weights_point"]["kind"] == "saddle point"
    assert r["n_saddles"] >= 1 and r["n_minima"] >= 1
    assert all(p["grad_norm"] < 1e-6 for p in r["critical_points"])


def test_sharpness(tmp_path, capsys):
    r, _ = run("sharpness", tmp_path, capsys)
    assert len(r["sharpness"]) == 2 and min(r["sharpness"]) > 0
    assert r["interpolation"]["alpha"][0] == -1.0


def test_interpolation(tmp_path, capsys):
    r, _ = run("interpolation", tmp_path, capsys)
    assert r["permutation_max_output_change"] < 1e-10
    line = r["init_to_solution"]
    assert line["loss"][-1] < line["loss"][0]


def test_lottery(tmp_path, capsys):
    r, out = run("lottery", tmp_path, capsys)
    assert r["pruned_weights_exactly_zero"] is True
    assert r["remaining"][-1] < 0.3


def test_adversarial(tmp_path, capsys):
    r, _ = run("adversarial", tmp_path, capsys)
    assert r["loss_fgsm"] > r["loss_clean"]
    assert r["accuracy_fgsm"][-1] < r["accuracy_random"][-1]


def test_memorization(tmp_path, capsys):
    r, _ = run("memorization", tmp_path, capsys)
    assert r["random"]["final_train_error"] == 0.0
    assert r["random"]["final_test_error"] > 0.6


def test_double_descent(tmp_path, capsys):
    r, _ = run("double-descent", tmp_path, capsys)
    assert r["train_error"][-1] == 0.0
    assert r["test_error"][-1] < max(r["test_error"])


def test_bias_variance(tmp_path, capsys):
    r, _ = run("bias-variance", tmp_path, capsys)
    for b, v, m in zip(r["bias2"], r["variance"], r["mse"]):
        assert b + v == pytest.approx(m, rel=1e-9)


def test_l1_sparsity(tmp_path, capsys):
    r, _ = run("l1-sparsity", tmp_path, capsys)
    assert r["l1_proximal"]["fraction_zero"][-1] > 0
    assert r["l1_subgradient"]["fraction_zero"] == [0.0] * len(r["lambda"])


def test_unknown_dataset_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["experiment", "newton", "--dataset", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "Traceback" not in err


def test_unknown_experiment_names_the_choices(tmp_path):
    from flowgraph.analysis import AnalysisError
    from flowgraph.analysis.experiments import run_experiment

    with pytest.raises(AnalysisError, match="unknown experiment 'nope'; choose one of newton"):
        run_experiment("nope", out=tmp_path, echo=None)


def test_adversarial_on_two_dimensional_data_draws_the_curve_alone(tmp_path, capsys):
    assert main(["experiment", "adversarial", "--dataset", "moons", "--quick",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    record = json.loads((tmp_path / "adversarial.json").read_text())
    assert record["dataset"] == "moons" and record["results"]["eps"][0] == 0.0
