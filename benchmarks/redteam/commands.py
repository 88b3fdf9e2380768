"""The command-line family: hostile arguments to flowgraph train, evaluate, render,
gradcheck and search, each refused in one line with exit 2 or 1."""

from __future__ import annotations

import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .harness import Case, Outcome, attempt, cli_case, flowgraph, one_line_refusal

QUICK = [
    "--dataset",
    "moons",
    "--n-samples",
    "100",
    "--epochs",
    "1",
    "--hidden",
    "4",
    "--no-progress",
]
TRAIN_ARGS = {
    "--epochs": ["-1", "abc", "nan", "1e9", "0"],
    "--lr": ["nan", "inf", "-1", "abc", "1e400", "-inf"],
    "--hidden": ["-5", "abc", "0 4", "1.5", "1000000000"],
    "--n-samples": ["0", "-1", "abc", "10000000000", "1"],
    "--noise": ["-1", "nan", "inf", "abc"],
    "--valid": ["1.5", "-0.1", "nan", "1"],
    "--test": ["2", "-1", "nan"],
    "--batch-size": ["0", "-3", "abc", "1e3"],
    "--momentum": ["1", "-1", "nan", "5"],
    "--dataset": ["nosuch", "../../etc/passwd", ""],
    "--seed": ["-1", "abc", "1.5"],
    "--patience": ["-1", "abc"],
    "--decay": ["-1", "nan"],
    "--warmup": ["-1", "abc"],
    "--beta1": ["1.5", "-0.1"],
    "--eps": ["0", "-1", "nan"],
    "--weight-decay": ["-1", "nan"],
    "--l2": ["-1", "nan", "inf"],
    "--l1": ["-1", "nan"],
    "--optimizer": ["nope"],
    "--dtype": ["float16", "int8"],
    "--activation": ["softmax"],
    "--init": ["ones"],
}


def train_cases(work: Path) -> list[Case]:
    out = str(work / "runs" / "hostile")
    cases = []
    for option, values in TRAIN_ARGS.items():
        for v in values:
            args = ["train", *QUICK, "--out", out, option, *v.split(" ")]
            cases.append(cli_case("cli", f"train {option} {v[:24]}", args, work))
    (work / "a-file").write_text("x")
    for name, args in {
        "--valid 0.6 --test 0.6": ["--valid", "0.6", "--test", "0.6"],
        "--out is a file": ["--out", str(work / "a-file")],
        "--out under a file": ["--out", str(work / "a-file" / "run")],
        "--out /proc": ["--out", "/proc/flowgraph-redteam"],
        "--resume nowhere": ["--resume", str(work / "nowhere")],
        "--resume a file": ["--resume", str(work / "a-file")],
        "--data-dir nowhere, mnist": ["--dataset", "mnist", "--data-dir", str(work / "nowhere")],
        "unknown option": ["--frobnicate"],
        "--schedule power --decay 2": ["--schedule", "power", "--decay", "2"],
    }.items():
        cases.append(cli_case("cli", f"train {name}", ["train", *QUICK, "--out", out, *args], work))
    return cases


def crafted_files(work: Path) -> dict[str, Path]:
    """Files that are not what a command expects."""
    files = {"nowhere": work / "nowhere.npz", "a folder": work}
    kinds = {
        "empty": b"",
        "text": b"hello\n",
        "zip of text": None,
        "npz without meta": None,
        "random bytes": os.urandom(3000),
    }
    for name, data in kinds.items():
        path = work / f"crafted-{name.replace(' ', '-')}.npz"
        if name == "zip of text":
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("a.txt", "hello")
        elif name == "npz without meta":
            np.savez(path, x=np.zeros(3))
        else:
            path.write_bytes(data)
        files[name] = path
    return files


def model_cli_cases(work: Path, model: Path) -> list[Case]:
    cases = []
    for name, path in crafted_files(work).items():
        cases.append(cli_case("cli", f"evaluate {name}", ["evaluate", str(path)], work))
        cases.append(
            cli_case(
                "cli", f"render {name}", ["render", str(path), "-o", str(work / "g.svg")], work
            )
        )
    feed = work / "feed-wrong.npz"
    np.savez(feed, x=np.zeros((3, 7)), y=np.zeros(3))
    for name, args in {
        "evaluate --split nope": ["evaluate", str(model), "--split", "nope"],
        "evaluate --dataset nosuch": ["evaluate", str(model), "--dataset", "nosuch"],
        "evaluate --dataset digits (other inputs)": ["evaluate", str(model), "--dataset", "digits"],
        "evaluate --feed nowhere": ["evaluate", str(model), "--feed", str(work / "none.npz")],
        "evaluate --feed wrong shapes": ["evaluate", str(model), "--feed", str(feed)],
        "evaluate --feed a text": ["evaluate", str(model), "--feed", str(work / "a-file")],
        "evaluate --boxes nomodule:X": ["evaluate", str(model), "--boxes", "nomodule:X"],
        "evaluate --boxes os:system": ["evaluate", str(model), "--boxes", "os:system"],
        "evaluate --boxes bad": ["evaluate", str(model), "--boxes", "bad"],
        "evaluate --plot under a file": [
            "evaluate",
            str(model),
            "--plot",
            str(work / "a-file" / "c.png"),
        ],
        "render --batch 0": ["render", str(model), "--values", "--batch", "0"],
        "render --batch -1": ["render", str(model), "--values", "--batch", "-1"],
        "render --batch abc": ["render", str(model), "--values", "--batch", "abc"],
        "render --rankdir XX": ["render", str(model), "--rankdir", "XX"],
        "render -o .xyz": ["render", str(model), "-o", str(work / "g.xyz")],
        "render -o under a file": ["render", str(model), "-o", str(work / "a-file" / "g.svg")],
        "render --feed wrong shapes": ["render", str(model), "--values", "--feed", str(feed)],
        "render --dataset nosuch": ["render", str(model), "--values", "--dataset", "nosuch"],
        "render --boxes nomodule:X": ["render", str(model), "--boxes", "nomodule:X"],
        "render --seed abc": ["render", str(model), "--seed", "abc"],
        "gradcheck NoSuchBox": ["gradcheck", "NoSuchBox"],
        "gradcheck --eps 0": ["gradcheck", "Tanh", "--eps", "0"],
        "gradcheck --eps -1": ["gradcheck", "Tanh", "--eps", "-1"],
        "gradcheck --eps nan": ["gradcheck", "Tanh", "--eps", "nan"],
        "gradcheck --eps abc": ["gradcheck", "Tanh", "--eps", "abc"],
        "gradcheck --eps 1e400": ["gradcheck", "Tanh", "--eps", "1e400"],
        "gradcheck --seed abc": ["gradcheck", "Tanh", "--seed", "abc"],
        "gradcheck --seed -1": ["gradcheck", "Tanh", "--seed", "-1"],
    }.items():
        cases.append(cli_case("cli", name, args, work))
    return cases


def other_cases(work: Path, model: Path) -> list[Case]:
    """Empty values, devices and folders where files go, and the commands the others leave
    out (experiment, notebooks, playground: none of these vectors may start a server)."""
    text, huge = str(work / "a-file"), "1" + "0" * 30
    vectors = {
        "train --out ''": ["train", *QUICK, "--out", ""],
        "train --dataset ''": ["train", *QUICK, "--dataset", ""],
        "train --out /dev/zero": ["train", *QUICK, "--out", "/dev/zero"],
        "train --resume /dev/zero": ["train", *QUICK, "--resume", "/dev/zero"],
        "train --hidden 10^30": ["train", *QUICK, "--hidden", huge],
        "evaluate /dev/zero": ["evaluate", "/dev/zero"],
        "evaluate --plot a folder": ["evaluate", str(model), "--plot", str(work)],
        "evaluate --plot /dev/zero": ["evaluate", str(model), "--plot", "/dev/zero"],
        "evaluate --dataset ''": ["evaluate", str(model), "--dataset", ""],
        "render /dev/zero": ["render", "/dev/zero"],
        "render -o ''": ["render", str(model), "-o", ""],
        "render -o /dev/zero": ["render", str(model), "-o", "/dev/zero"],
        "search --jobs 10^30": ["search", "--grid", "lr=0.1", "--jobs", huge],
        "search --n-samples 10^14": ["search", "--grid", "lr=0.1", "--n-samples", "1" + "0" * 14],
        "search --grid hidden=10^9 (no trial fits)": [
            "search", "--dataset", "moons", "--n-samples", "60", "--no-progress", "--out",
            str(work / "runs" / "search-huge"), "--grid", "hidden=1000000000",
            "--set", "epochs=1",
        ],  # fmt: skip
        "search --out ''": ["search", "--grid", "lr=0.1", "--out", ""],
        "experiment nope": ["experiment", "nope"],
        "experiment --seed -1": ["experiment", "saddle", "--seed", "-1"],
        "experiment --out /dev/zero": ["experiment", "saddle", "--out", "/dev/zero"],
        "experiment --out a file": ["experiment", "saddle", "--out", text],
        "notebooks /dev/zero": ["notebooks", "/dev/zero"],
        "notebooks ''": ["notebooks", ""],
        "notebooks under a file": ["notebooks", f"{text}/sub"],
        "playground --port -1": ["playground", "--port", "-1"],
        "playground --port 70000": ["playground", "--port", "70000"],
        "playground --host ''": ["playground", "--host", ""],
        "playground --host of 300 characters": ["playground", "--host", "h" * 300],
        "train unknown option": ["train", *QUICK, "--frobnicate"],
    }
    return [cli_case("cli", name, args, work) for name, args in vectors.items()]


def search_cases(work: Path) -> list[Case]:
    base = [
        "search",
        "--dataset",
        "moons",
        "--n-samples",
        "100",
        "--no-progress",
        "--out",
        str(work / "runs" / "search"),
    ]
    quick = ["--set", "epochs=1", "batch_size=16"]
    bad_space = {
        "not json": b"{nope",
        "a list": b"[1, 2]",
        "deep": b"[" * 100_000,
        "bad distribution": b'{"lr": {"lognormal": [1, 2]}}',
        "bad bounds": b'{"lr": {"loguniform": [1, -1]}}',
        "unknown name": b'{"nonsense": [1, 2]}',
        "huge int": b'{"epochs": 1' + b"0" * 5000 + b"}",
    }
    spaces = {}
    for name, data in bad_space.items():
        spaces[name] = work / f"space-{name.replace(' ', '-')}.json"
        spaces[name].write_bytes(data)
    checkpoint = work / "checkpoint-negative.jsonl"
    cases = []
    for name, args in {
        "--grid lr=abc": ["--grid", "lr=abc", *quick],
        "--grid nosuch=1": ["--grid", "nosuch=1", *quick],
        "--grid lr=": ["--grid", "lr=", *quick],
        "--grid lr=-1": ["--grid", "lr=-1", *quick],
        "--grid lr=nan": ["--grid", "lr=nan", *quick],
        "--grid hidden=-3": ["--grid", "hidden=-3", *quick],
        "--grid epochs=-1": ["--grid", "epochs=-1", "--set", "batch_size=16"],
        "--grid no equals": ["--grid", "lr", *quick],
        "--random -1": ["--random", "-1", *quick],
        "--random abc": ["--random", "abc", *quick],
        "--random without space": ["--random", "3", *quick],
        "--space nowhere": ["--random", "2", "--space", str(work / "none.json"), *quick],
        "--space a folder": ["--random", "2", "--space", str(work), *quick],
        "--space /dev/zero": ["--random", "2", "--space", "/dev/zero", *quick],
        **{f"--space {k}": ["--random", "2", "--space", str(p), *quick] for k, p in spaces.items()},
        "--set epochs=-1": ["--grid", "lr=0.1", "--set", "epochs=-1"],
        "--set lr in --grid too": ["--grid", "lr=0.1", "--set", "lr=0.2", "epochs=1"],
        "--jobs 0": ["--grid", "lr=0.1", "--jobs", "0", *quick],
        "--jobs abc": ["--grid", "lr=0.1", "--jobs", "abc", *quick],
        "--scheduler nonsense": ["--grid", "lr=0.1", "--scheduler", "nonsense", *quick],
        "--checkpoint a folder": ["--grid", "lr=0.1", "--checkpoint", str(work), *quick],
        "--checkpoint valid_error -5": [
            "--grid",
            "lr=0.1,0.2",
            "--checkpoint",
            str(checkpoint),
            *quick,
        ],
        "--n-samples -1": ["--grid", "lr=0.1", "--n-samples", "-1", *quick],
        "--valid 2": ["--grid", "lr=0.1", "--valid", "2", *quick],
        "--top -1": ["--grid", "lr=0.1", "--top", "-1", *quick],
    }.items():
        check = None
        if name == "--checkpoint valid_error -5":
            setup = forged_checkpoint(work, checkpoint, base, quick)
            cases.append(Case("cli", f"search {name}", setup))
            continue
        cases.append(cli_case("cli", f"search {name}", [*base, *args], work, check))
    return cases


def forged_checkpoint(work: Path, path: Path, base: list[str], quick: list[str]):
    """A finished search's checkpoint whose first trial claims valid_error -5: resuming must
    refuse it (one line), not choose it as the best trial."""

    def run() -> str | None:
        args = [*base, "--grid", "lr=0.1,0.2", "--checkpoint", str(path), *quick]
        first = flowgraph(args, work)
        if first.returncode != 0:
            return f"the honest search failed: {first.stderr[-160:]}"
        lines = path.read_text().splitlines()
        record = json.loads(lines[1])
        record["valid_error"] = -5
        lines[1] = json.dumps(record)
        path.write_text("\n".join(lines) + "\n")
        return one_line_refusal(flowgraph(args, work))

    return run


def run_cli(work: Path, limit: int | None) -> list[Outcome]:
    model = work / "run" / "model.npz"
    cases = train_cases(work) + model_cli_cases(work, model) + search_cases(work)
    cases += other_cases(work, model)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(attempt, cases[:limit]))
