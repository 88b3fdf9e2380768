"""Reliability, the command line: every user mistake is one line on stderr and exit status 2,
before any work starts; repeated options add up; piping into ``head`` ends quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flowgraph.cli import main

SEARCH = ["search", "--dataset", "blobs", "--n-samples", "120", "--quiet"]


def _one_line_exit_2(argv, capsys, *needles):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("flowgraph"), err
    for needle in needles:
        assert needle in err, err
    assert "Traceback" not in err
    return out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--scheduler", "notanaddress"], "is not a scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:abc"], "is not a scheduler address"),
        (["--scheduler", "tcp://:8786"], "is not a scheduler address"),
        (["--scheduler", "http://127.0.0.1:8786"], "is not a scheduler address"),
        (["--seed", "-1"], "expected a number >= 0"),
        (["--valid", "1.5"], "expected a fraction between 0 and 1"),
        (["--test", "0"], "expected a fraction between 0 and 1"),
        (["--n-samples", "0"], "expected a number >= 1"),
        (["--top", "-3"], "expected a number >= 1"),
        (["--random", "0", "--space", "s.json"], "expected a number >= 1"),
        (["--jobs", "0"], "--jobs must be a positive number"),
        (["--set", "epochs=-1"], "epochs = -1 cannot be used"),
        (["--set", "activation=swish"], "cannot be used"),
        (["--set", "lr=0.1"], "lr given in both --grid and --set"),
    ],
)
def test_search_mistakes(extra, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = _one_line_exit_2([*SEARCH, "--grid", "lr=0.1,0.2", *extra], capsys, needle)
    assert "trials" not in out  # nothing ran


def test_checkpoint_that_is_a_folder_is_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2([*SEARCH, "--grid", "lr=0.1", "--checkpoint", "."], capsys, "is a folder")


@pytest.mark.parametrize("command", [["train", "--dataset", "moons", "--epochs", "1"],
                                     [*SEARCH, "--grid", "lr=0.1", "--set", "epochs=1"],
                                     ["experiment", "newton", "--quick"]])  # fmt: skip
@pytest.mark.parametrize("where", ["file", "under-file", "proc"])
def test_bad_output_folders_are_refused_before_any_work(command, where, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = {"file": blocker, "under-file": blocker / "sub" / "dir", "proc": "/proc/flowgraph-out"}
    text = _one_line_exit_2([*command, "--out", str(out[where])], capsys, "--out")
    assert "network" not in text and "trials" not in text and "newton" not in text.lower()
    assert blocker.read_text() == "not a folder"


def test_negative_seeds_are_refused_everywhere(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in (["train", "--seed", "-1"], ["experiment", "newton", "--seed", "-2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "seed" in err


def test_repeated_grid_and_set_options_add_up(capsys, tmp_path):
    argv = [*SEARCH, "--grid", "lr=0.05,0.1", "--grid", "hidden=4,8", "--set", "epochs=2",
            "--set", "batch_size=16", "--out", str(tmp_path / "s")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 of 4 trials" in out  # both --grid names were kept
    rows = (tmp_path / "s" / "trials.csv").read_text().splitlines()
    header = rows[0].split(",")
    epochs, batch = header.index("epochs"), header.index("batch_size")
    assert {r.split(",")[epochs] for r in rows[1:]} == {"2"}
    assert {r.split(",")[batch] for r in rows[1:]} == {"16"}


def test_piping_into_head_ends_quietly(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowgraph", "gradcheck", "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does once it has its line
    _, err = proc.communicate(timeout=300)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode in (0, 141)


def test_train_and_search_share_their_progress_flags(tmp_path, capsys):
    from flowgraph.cli import build_parser

    parser = build_parser()
    for flag in ("--no-progress", "-q", "--quiet"):
        assert parser.parse_args(["train", flag]).no_progress is True
        assert parser.parse_args(["search", "--grid", "lr=0.1", flag]).quiet is True
