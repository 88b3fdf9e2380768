"""The whole command line against hostile arguments (issue 21): for every subcommand that
``flowgraph --help`` lists, huge numbers, negative counts, NaN and inf, empty strings, folders
and devices where files go, missing files and unknown choices are each refused with exit
status 2 (usage) or 1 (failure) and exactly one line on stderr, ``flowgraph CMD: ...``: never
a traceback, never silence. Everything runs in this process through ``flowgraph.cli.main``,
on workloads of a few dozen examples."""

from __future__ import annotations

import re

import numpy as np
import pytest

from flowgraph.cli import main

HUGE = "1" + "0" * 30  # 10^30: no count, size or seed of ours is that large
QUICK = ["--dataset", "moons", "--n-samples", "60", "--epochs", "1", "--hidden", "3",
         "--no-progress"]  # fmt: skip
SEARCH = ["--dataset", "moons", "--n-samples", "60", "--no-progress", "--set", "epochs=1",
          "batch_size=16"]  # fmt: skip


def hostile(places: dict[str, str]) -> dict[str, list[list[str]]]:
    """Per subcommand, argument vectors each of which must be refused. ``places``: a model
    file, a plain file, a folder, a missing file, a device, a space nested too deep."""
    model, text, folder = places["model"], places["text"], places["folder"]
    missing, deep = places["missing"], places["deep"]
    return {
        "train": [
            [*QUICK, "--epochs", "-1"], [*QUICK, "--epochs", "nan"],
            [*QUICK, "--hidden", "-5"], [*QUICK, "--hidden", HUGE], [*QUICK, "--hidden", ""],
            [*QUICK, "--n-samples", HUGE], [*QUICK, "--n-samples", "-1"],
            [*QUICK, "--lr", "nan"], [*QUICK, "--lr", "inf"], [*QUICK, "--lr", "1e400"],
            [*QUICK, "--noise", "-inf"], [*QUICK, "--valid", "nan"], [*QUICK, "--seed", "-1"],
            [*QUICK, "--batch-size", "0"], [*QUICK, "--threads", "-1"],
            [*QUICK, "--dataset", ""], [*QUICK, "--dataset", "nosuch"],
            [*QUICK, "--optimizer", "nope"], [*QUICK, "--dtype", "int8"],
            [*QUICK, "--out", ""], [*QUICK, "--out", text], [*QUICK, "--out", "/dev/zero"],
            [*QUICK, "--resume", missing], [*QUICK, "--resume", text],
            [*QUICK, "--resume", "/dev/zero"], [*QUICK, "--frobnicate"],
        ],
        "evaluate": [
            [missing], [folder], ["/dev/zero"], [text], [""],
            [model, "--split", "nope"], [model, "--dataset", ""], [model, "--dataset", "nosuch"],
            [model, "--feed", missing], [model, "--feed", folder], [model, "--feed", "/dev/zero"],
            [model, "--plot", folder], [model, "--plot", "/dev/zero"], [model, "--plot", ""],
            [model, "--boxes", "nomodule:X"], [model, "--boxes", ""],
        ],
        "gradcheck": [
            ["NoSuchBox"], [""], ["Tanh", "--eps", "1e400"], ["Tanh", "--eps", "nan"],
            ["Tanh", "--eps", "-inf"], ["Tanh", "--eps", "0"], ["Tanh", "--eps", "5"],
            ["Tanh", "--seed", "-1"], ["Tanh", "--seed", "nan"], ["Tanh", "--seed", ""],
        ],
        "render": [
            [missing], [folder], ["/dev/zero"], [text], [""],
            [model, "-o", folder], [model, "-o", "/dev/zero"], [model, "-o", ""],
            [model, "-o", f"{text}/g.svg"], [model, "--rankdir", "XX"],
            [model, "--values", "--batch", "-1"], [model, "--values", "--batch", "nan"],
            [model, "--values", "--feed", "/dev/zero"], [model, "--values", "--dataset", "nope"],
        ],
        "search": [
            [*SEARCH, "--grid", "lr=nan"], [*SEARCH, "--grid", "lr=inf"], [*SEARCH, "--grid", ""],
            [*SEARCH, "--grid", "hidden=-3"], [*SEARCH, "--grid", "nosuch=1"],
            [*SEARCH, "--random", "-1"], [*SEARCH, "--random", HUGE],
            [*SEARCH, "--random", "2", "--space", missing],
            [*SEARCH, "--random", "2", "--space", folder],
            [*SEARCH, "--random", "2", "--space", "/dev/zero"],
            [*SEARCH, "--random", "2", "--space", deep],
            [*SEARCH, "--grid", "lr=0.1", "--jobs", HUGE],
            [*SEARCH, "--grid", "lr=0.1", "--n-samples", HUGE],
            [*SEARCH, "--grid", "lr=0.1", "--checkpoint", folder],
            [*SEARCH, "--grid", "lr=0.1", "--out", "/dev/zero"],
            [*SEARCH, "--grid", "lr=0.1", "--out", ""],
            [*SEARCH, "--grid", "lr=0.1", "--valid", "nan"],
            [*SEARCH, "--grid", "lr=0.1", "--scheduler", "nonsense"],
        ],
        "experiment": [
            ["nope"], [""], ["saddle", "--seed", "-1"], ["saddle", "--seed", "nan"],
            ["saddle", "--out", "/dev/zero"], ["saddle", "--out", text], ["saddle", "--out", ""],
            ["saddle", "--dataset", "nope"], ["saddle", "--dataset", ""],
        ],
        "notebooks": [["/dev/zero"], [""], [text], [f"{text}/sub"]],
        "playground": [
            ["--port", "-1"], ["--port", "70000"], ["--port", HUGE], ["--port", "nan"],
            ["--port", ""], ["--host", ""], ["--host", "h" * 300], ["--frobnicate"],
        ],
    }


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("hostile")
    assert main(["train", *QUICK, "--out", str(work / "run")]) == 0
    (work / "a-file").write_text("x")
    (work / "deep.json").write_text("[" * 100_000)
    return {
        "model": str(work / "run" / "model.npz"),
        "text": str(work / "a-file"),
        "folder": str(work),
        "missing": str(work / "nowhere.npz"),
        "deep": str(work / "deep.json"),
    }


def listed_commands(capsys) -> list[str]:
    """The subcommands ``flowgraph --help`` lists, in its order."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    block = out.split("COMMAND\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^    (\w+)", block, re.M)


def test_every_listed_command_has_hostile_cases(capsys):
    commands = listed_commands(capsys)
    assert len(commands) >= 8 and "train" in commands and "playground" in commands
    table = hostile(dict.fromkeys(NAMES, "x"))
    assert sorted(table) == sorted(commands)
    assert all(len(v) >= 4 for v in table.values())


NAMES = ("model", "text", "folder", "missing", "deep")
CASES = [(cmd, i) for cmd, vectors in hostile(dict.fromkeys(NAMES, "x")).items()
         for i in range(len(vectors))]  # fmt: skip


@pytest.mark.parametrize("command,index", CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_hostile_arguments_are_refused_in_one_line(places, capsys, tmp_path, monkeypatch,
                                                   command, index):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # whatever a command would write lands here
    argv = [command, *hostile(places)[command][index]]
    with np.errstate(all="ignore"):
        status = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status in (1, 2), (argv, status, err)
    assert len(lines) == 1 and lines[0].startswith(f"flowgraph {command}:"), (argv, err)
    assert "Traceback" not in err + out


@pytest.mark.parametrize("error,kind", [(MemoryError, "out of memory"),
                                        (RecursionError, "input nested too deep")])  # fmt: skip
def test_exhaustion_the_checks_did_not_foresee_is_one_line_and_exit_1(capsys, monkeypatch,
                                                                       error, kind):  # fmt: skip
    """The last line of defence: a MemoryError or RecursionError that no check before the
    work foresaw is still one line on stderr and exit 1, not a traceback."""
    import flowgraph.cli.gradcheck_cmd as gradcheck_cmd

    def exhausted(args):
        raise error("maximum reached")

    monkeypatch.setattr(gradcheck_cmd, "run", exhausted)
    assert main(["gradcheck", "Tanh"]) == 1
    err = capsys.readouterr().err
    assert err == f"flowgraph gradcheck: error: {kind}: maximum reached\n"


def test_unrecognized_arguments_are_named_by_their_subcommand(capsys):
    assert main(["gradcheck", "Tanh", "--frobnicate", "x"]) == 2
    err = capsys.readouterr().err
    assert err == ("flowgraph gradcheck: error: unrecognized arguments: --frobnicate x (see "
                   "`flowgraph gradcheck --help`)\n")  # fmt: skip
