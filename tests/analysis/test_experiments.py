"""``flowgraph experiment NAME --quick``: every experiment runs, prints, writes its PNG and JSON,
and every claim it makes holds in its own numbers, on three seeds."""

import importlib
import json

import numpy as np
import pytest

from flowgraph.analysis import AnalysisError
from flowgraph.analysis.experiments import EXPERIMENTS, Claim, Outcome, run_experiment
from flowgraph.analysis.experiments.common import figure
from flowgraph.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def module_of(name):
    return importlib.import_module(f"flowgraph.analysis.experiments.{name.replace('-', '_')}")


def run(name, tmp_path, capsys, *extra):
    rc = main(["experiment", name, "--quick", "--out", str(tmp_path), *extra])
    out = capsys.readouterr().out
    png, js = tmp_path / f"{name}.png", tmp_path / f"{name}.json"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 20_000
    record = json.loads(js.read_text())
    assert record["name"] == name and record["quick"] is True
    assert f"experiment {name}" in out and str(png) in out
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    return rc, record, out


def test_every_experiment_is_registered_with_the_cli():
    assert set(EXPERIMENTS) == {
        "newton", "saddle", "sharpness", "interpolation", "lottery", "adversarial",
        "memorization", "double-descent", "bias-variance", "l1-sparsity",
    }  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_claim_holds_at_quick_size(name, seed, tmp_path, capsys):
    rc, record, out = run(name, tmp_path, capsys, "--seed", str(seed))
    claims = record["claims"]
    # one verdict for each statement the module lists at its top, each printed
    assert len(claims) == len(module_of(name).CLAIMS) >= 2
    for c in claims:
        assert isinstance(c["holds"], bool) and c["statement"] in out
    failed = [f"{c['statement']} {c['numbers']}" for c in claims if not c["holds"]]
    assert not failed, "\n".join(failed)
    assert record["claims_hold"] is True and rc == 0
    assert "DOES NOT HOLD" not in out
    if name == "sharpness":
        check_sharpness(record["results"], out)


def check_sharpness(r, out):
    # batch 8 against the full training set, both stopped at the same training loss, >= 5 seeds
    assert len(r["seeds"]) >= 5 and r["batch_size"][1] == r["n_train"]
    for key in ("small", "large"):
        assert all(r[key]["reached"]) and all(v <= r["target_loss"] for v in r[key]["train_loss"])
    gap = r["test_error_gap_points"]
    # the text says what the test errors show, with their numbers
    assert r["test_error_verdict"] in out and f"{gap['mean']:+.1f} ± {gap['std']:.1f}" in out
    if not gap["clear"]:
        assert "no clear test-error gap" in out


def test_a_claim_that_does_not_hold_is_said_and_fails_the_command(tmp_path, capsys, monkeypatch):
    def broken(ds, quick, seed):
        fig = figure(1)
        fig.subplots().plot(np.arange(3))
        claims = [Claim("one is one", True, {"x": 1}), Claim("two is three", False, {"x": 2})]
        return Outcome({"x": [1, 2]}, fig, ["a line"], claims)

    monkeypatch.setitem(EXPERIMENTS, "lottery", broken)
    rc = main(["experiment", "lottery", "--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "claim holds: one is one" in out and "claim DOES NOT HOLD: two is three" in out
    assert "1 of 2 claims do not hold" in out
    record = json.loads((tmp_path / "lottery.json").read_text())
    assert record["claims_hold"] is False
    assert record["claims"][1] == {"statement": "two is three", "holds": False,
                                   "numbers": {"x": 2}}  # fmt: skip


def test_unknown_dataset_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["experiment", "newton", "--dataset", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'nope'" in err and "Traceback" not in err


def test_unknown_experiment_names_the_choices(tmp_path):
    with pytest.raises(AnalysisError, match="unknown experiment 'nope'; choose one of newton"):
        run_experiment("nope", out=tmp_path, echo=None)


def test_adversarial_on_two_dimensional_data_says_points_not_digits(tmp_path, capsys):
    rc, record, out = run("adversarial", tmp_path, capsys, "--dataset", "moons")
    assert record["dataset"] == "moons" and record["results"]["eps"][0] == 0.0
    assert "digit" not in out and "test points" in out
    assert "digit" not in json.dumps(record)
