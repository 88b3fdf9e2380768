"""Grid and random search: the same table whatever runs the trials (this process, loky
processes, a Dask cluster), reproducible random draws, failed trials, Ctrl-C, checkpoints."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.select import (
    SearchError,
    SearchResult,
    choice,
    grid_configs,
    grid_search,
    loguniform,
    parse_hidden,
    plan_random,
    randint,
    random_search,
    resolve_config,
    run_trial,
    sample_config,
    trial_seed,
    uniform,
)

QUICK = {"epochs": 3, "batch_size": 16}


def make_data(seed: int = 0, d: int = 12, n: tuple[int, int, int] = (240, 80, 80)):
    """Three classes from a random linear rule plus noise: a tiny, learnable problem."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, d))

    def part(m):
        X = rng.normal(size=(m, d))
        y = (X @ W.T + 0.8 * rng.normal(size=(m, 3))).argmax(axis=1)
        return X, y

    return tuple(part(m) for m in n)


def without_seconds(result: SearchResult) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in result.table()]


def test_grid_gives_the_same_table_in_process_on_loky_and_on_a_dask_cluster():
    from dask.distributed import Client, LocalCluster

    data = make_data()
    space = {"lr": [0.02, 0.2], "hidden": [8, "16x8"], **QUICK}
    serial = grid_search(space, data, progress=False)
    loky = grid_search(space, data, n_jobs=2, progress=False)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        on_dask = grid_search(space, data, scheduler=client, progress=False)
        by_address = grid_search(space, data, scheduler=cluster.scheduler_address, progress=False)
        assert not client.status == "closed"  # a Client we were given stays ours to close

    assert [t["trial"] for t in serial.trials] == [0, 1, 2, 3]
    assert [t["config"] for t in serial.trials] == grid_configs(space)
    assert all(t["status"] == "ok" for t in serial.trials)
    assert len({t["valid_error"] for t in serial.trials}) > 1  # the grid points differ
    for other in (loky, on_dask, by_address):
        assert without_seconds(other) == without_seconds(serial)
        assert other.best == serial.best and other.test_error == serial.test_error
    # the table is sorted by validation error, ties by trial index
    keys = [(r["valid_error"], r["trial"]) for r in serial.table()]
    assert keys == sorted(keys)
    # the best configuration trained again reproduces its trial, then meets the test set once
    best = serial.best_trial
    assert best["valid_error"] == min(t["valid_error"] for t in serial.trials)
    (_, _), (Xv, yv), (Xt, yt) = data
    assert serial.best_model.error(Xv, yv) == best["valid_error"]
    assert serial.test_error == serial.best_model.error(Xt, yt)
    assert serial.best["hidden"] == best["config"]["hidden"] and serial.best["activation"] == "tanh"


def test_a_trial_records_what_the_issue_lists_and_is_a_pure_function():
    data = make_data(1)
    config = {"lr": 0.1, "hidden": "10x6", "momentum": 0.5, "patience": 2, "epochs": 6}
    a = run_trial(config, data, seed=5, index=7)
    b = run_trial(config, data, seed=5, index=7)
    c = run_trial(config, data, seed=6, index=7)
    for key in ("trial", "seed", "config", "status", "valid_error", "train_error",
                "epochs_trained", "best_epoch", "seconds", "error"):  # fmt: skip
        assert key in a
    assert a["status"] == "ok" and a["trial"] == 7 and a["seed"] == 5 and a["error"] == ""
    assert 1 <= a["epochs_trained"] <= 6 and 0 <= a["valid_error"] <= 1
    assert {k: v for k, v in a.items() if k != "seconds"} == {
        k: v for k, v in b.items() if k != "seconds"
    }
    assert (c["valid_error"], c["train_error"]) != (a["valid_error"], a["train_error"])
    model, history = fg.select.fit_config(config, data, 5)
    assert [W.value.shape for W in model.weights] == [(10, 12), (6, 10), (3, 6)]
    assert model.error(*data[1]) == a["valid_error"] and len(history) == a["epochs_trained"]


def test_random_search_is_reproducible_and_one_trial_reruns_alone():
    data = make_data(2)
    dists = {
        "lr": loguniform(1e-3, 0.5),
        "momentum": uniform(0.0, 0.9),
        "batch_size": randint(8, 33),
        "activation": choice(["tanh", "relu"]),
        "hidden": [6, "8x4"],  # a list is a choice
        "epochs": 2,
    }
    first = random_search(dists, data, 5, seed=3, progress=False)
    again = random_search(dists, data, 5, seed=3, progress=False)
    other = random_search(dists, data, 5, seed=4, progress=False, refit=False)
    assert without_seconds(first) == without_seconds(again)
    assert [t["config"] for t in first.trials] != [t["config"] for t in other.trials]
    seeds = [t["seed"] for t in first.trials]
    assert seeds == [trial_seed(3, i) for i in range(5)] and len(set(seeds)) == 5
    for t in first.trials:
        c = t["config"]
        assert 1e-3 <= c["lr"] <= 0.5 and 0 <= c["momentum"] <= 0.9
        assert 8 <= c["batch_size"] < 33 and c["activation"] in ("tanh", "relu")
        assert c["hidden"] in ((6,), (8, 4)) and c["epochs"] == 2
    # trial 3 alone: its configuration from its seed, then the same numbers
    t3 = first.trials[3]
    assert sample_config(dists, trial_seed(3, 3)) == t3["config"]
    alone = run_trial(t3["config"], data, t3["seed"], index=3)
    assert {k: v for k, v in alone.items() if k != "seconds"} == {
        k: v for k, v in t3.items() if k != "seconds"
    }
    # a longer search starts with the same trials; a new hyper-parameter leaves the others' draws
    assert [c for _, c, _ in plan_random(dists, 7, seed=3)][:5] == [
        t["config"] for t in first.trials
    ]
    wider = [c for _, c, _ in plan_random({**dists, "l2": loguniform(1e-6, 1e-2)}, 5, seed=3)]
    assert [{k: v for k, v in c.items() if k != "l2"} for c in wider] == [
        t["config"] for t in first.trials
    ]


def test_failed_trials_are_recorded_and_the_search_goes_on():
    data = make_data(3)
    space = {"lr": [0.1, 1e30], "activation": ["relu", "identity"], **QUICK}
    result = grid_search(space, data, progress=False)
    by_config = {(t["config"]["lr"], t["config"]["activation"]): t for t in result.trials}
    ok = by_config[(0.1, "relu")]
    for act in ("relu", "identity"):
        diverged = by_config[(1e30, act)]
        assert diverged["status"] == "failed" and diverged["error"].startswith("DivergenceError")
        assert math.isnan(diverged["valid_error"])
    assert ok["status"] == "ok" and not math.isnan(ok["valid_error"])
    assert len(result.trials) == 4 and len(result.failed_trials) == 2
    assert result.best_trial in (ok, by_config[(0.1, "identity")]) and result.test_error is not None
    assert [r["status"] for r in result.table()] == ["ok", "ok", "failed", "failed"]
    assert "2 failed" in str(result)


class _CountStarts(fg.Callback):
    def __init__(self):
        self.n = 0

    def on_train_begin(self, model):
        self.n += 1


@pytest.mark.parametrize(
    "space",
    [
        {"epochs": -1},
        {"epochs": [2, 0]},
        {"activation": ["relu", "no-such"]},
        {"lr": [0.1, -0.1]},
        {"momentum": 1.0},
        {"batch_size": 2.5},
        {"patience": 0},
        {"schedule": "cosine"},
    ],
)
def test_values_no_trial_can_use_are_refused_before_the_first_trial(space):
    starts = _CountStarts()
    with pytest.raises(SearchError, match="cannot be used"):
        grid_search({**QUICK, **space}, make_data(), progress=False, callbacks=[starts])
    assert starts.n == 0


@pytest.mark.parametrize(
    "dist", [{"lr": uniform(-1, 1)}, {"momentum": uniform(0.5, 1.5)}, {"epochs": randint(0, 3)},
             {"activation": choice(["tanh", "softsign"])}],  # fmt: skip
)
def test_random_search_refuses_ranges_that_reach_unusable_values(dist):
    with pytest.raises(SearchError, match="cannot be used"):
        random_search({**QUICK, **dist}, make_data(), 2, progress=False)


def test_unknown_names_and_bad_specifications_are_clear_errors():
    data = make_data()
    with pytest.raises(SearchError, match="unknown hyper-parameter 'learning_rate'.*known: lr"):
        grid_search({"learning_rate": [0.1]}, data, progress=False)
    with pytest.raises(SearchError, match="unknown hyper-parameter 'dropout'"):
        random_search({"dropout": uniform(0, 1)}, data, 2, progress=False)
    with pytest.raises(SearchError, match="0 < low"):
        loguniform(0, 1)
    with pytest.raises(SearchError, match="low < high"):
        uniform(1, 1)
    with pytest.raises(SearchError, match="two integers"):
        randint(1.5, 4)
    with pytest.raises(SearchError, match="non-empty list"):
        choice([])
    with pytest.raises(SearchError, match="use random_search"):
        grid_configs({"lr": loguniform(1e-3, 1)})
    with pytest.raises(SearchError, match="hidden: 'wide'"):
        grid_configs({"hidden": ["wide"]})
    with pytest.raises(SearchError, match="n_trials"):
        random_search({"lr": [0.1]}, data, 0, progress=False)
    with pytest.raises(SearchError, match="n_jobs"):
        grid_search({"lr": [0.1]}, data, n_jobs=0, progress=False)
    with pytest.raises(SearchError, match="not both"):
        grid_search({"lr": [0.1]}, data, n_jobs=2, scheduler="tcp://127.0.0.1:1", progress=False)
    with pytest.raises(SearchError, match="dask.distributed.Client"):
        grid_search({"lr": [0.1]}, data, scheduler=8786, progress=False)
    with pytest.raises(ValueError, match="data must be"):
        grid_search({"lr": [0.1]}, (data[0], data[1]), progress=False)
    with pytest.raises(ValueError, match="lr must be a number"):
        resolve_config({"lr": "fast"})
    with pytest.raises(ValueError, match="no effect with the constant schedule"):
        resolve_config({"decay": 1e-3, "schedule": "constant"})
    assert resolve_config({"decay": 1e-3})["schedule"] == "inverse"


def test_hidden_sizes_syntax():
    assert parse_hidden(50) == (50,)
    assert parse_hidden("100x100") == (100, 100)
    assert parse_hidden([100, 50]) == (100, 50)
    assert parse_hidden(0) == () and parse_hidden("") == ()
    for bad in ("0x5", -3, "ax2", 2.5, True):
        with pytest.raises(SearchError):
            parse_hidden(bad)
    grid = grid_configs({"hidden": [50, "100x100", (20, 10)], "lr": 0.1})
    assert [c["hidden"] for c in grid] == [(50,), (100, 100), (20, 10)]
    assert all(c["lr"] == 0.1 for c in grid)
    # no hidden layer: the linear softmax classifier
    assert run_trial({"hidden": 0, **QUICK}, make_data(), 0)["status"] == "ok"


class _SigintInTrial(fg.Callback):
    """Sends this process a Ctrl-C (SIGINT) during the training of trial number ``at``."""

    def __init__(self, at: int):
        self.at, self.started = at, 0

    def on_train_begin(self, model):
        self.started += 1

    def on_epoch_end(self, model, history):
        if self.started == self.at + 1 and len(history) == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_cleanly_and_returns_the_finished_trials(tmp_path):
    data = make_data(4)
    path = tmp_path / "ckpt.jsonl"
    result = grid_search(
        {"lr": [0.01, 0.03, 0.1, 0.3], **QUICK},
        data,
        checkpoint=path,
        callbacks=[_SigintInTrial(at=2)],
        progress=False,
    )
    assert result.interrupted and result.n_planned == 4
    assert [t["trial"] for t in result.trials] == [0, 1]  # trial 2 was cut short: not finished
    assert result.test_error is None and result.best_model is None
    lines = path.read_text().splitlines()
    assert [json.loads(line)["trial"] for line in lines[1:]] == [0, 1]


_KILLED_SEARCH = """
import sys, time
import flowgraph as fg
from flowgraph.select import grid_search
sys.path.insert(0, {tests!r})
from test_search import make_data

class Slow(fg.Callback):
    def on_epoch_end(self, model, history):
        time.sleep(0.15)

grid_search({space!r}, make_data(5), checkpoint={path!r}, callbacks=[Slow()], progress=False)
print("finished")
"""


class _CountTrainings(fg.Callback):
    def __init__(self):
        self.n = 0

    def on_train_begin(self, model):
        self.n += 1


def test_checkpoint_resume_after_a_kill_trains_no_trial_twice(tmp_path):
    path = tmp_path / "search.jsonl"
    space = {"lr": [0.01, 0.05, 0.1, 0.2, 0.4, 0.8], **QUICK}
    script = _KILLED_SEARCH.format(tests=os.path.dirname(__file__), space=space, path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        # wait until two trials are on disk, then kill the search without warning
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if path.exists() and len(path.read_text().splitlines()) >= 3:  # header + 2 trials
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    first = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    k = len(first)
    assert 2 <= k < 6  # killed in the middle

    counter = _CountTrainings()
    result = grid_search(space, make_data(5), checkpoint=path, callbacks=[counter],
                         progress=False, refit=False)  # fmt: skip
    assert counter.n == 6 - k  # only the trials missing from the checkpoint were trained
    assert result.n_resumed == k and not result.interrupted
    assert [t["trial"] for t in result.trials] == list(range(6))
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert sorted(t["trial"] for t in lines) == list(range(6))  # each trial once
    # the resumed trials are those of the first run, and equal a fresh search's
    fresh = grid_search(space, make_data(5), progress=False)
    for t in first:
        assert result.trials[t["trial"]]["valid_error"] == t["valid_error"]
    assert without_seconds(result) == without_seconds(fresh)
    # a third run finds everything done
    counter.n = 0
    again = grid_search(space, make_data(5), checkpoint=path, callbacks=[counter], progress=False)
    assert counter.n == 0 and again.n_resumed == 6 and again.test_error == fresh.test_error


def test_checkpoint_ignores_a_half_written_line_and_refuses_another_search(tmp_path):
    data = make_data(6)
    path = tmp_path / "c.jsonl"
    space = {"lr": [0.05, 0.1, 0.2], **QUICK}
    full = grid_search(space, data, checkpoint=path, progress=False, refit=False)
    lines = path.read_text().splitlines(keepends=True)
    # a crash in the middle of writing trial 2's line
    path.write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    counter = _CountTrainings()
    resumed = grid_search(space, data, checkpoint=path, callbacks=[counter], progress=False,
                          refit=False)  # fmt: skip
    assert counter.n == 1 and resumed.n_resumed == 2
    assert without_seconds(resumed) == without_seconds(full)
    assert [json.loads(line)["trial"] for line in path.read_text().splitlines()[1:]] == [0, 1, 2]
    with pytest.raises(SearchError, match="trial 0 was .* but this search's trial 0 is"):
        grid_search({"lr": [0.3, 0.1, 0.2], **QUICK}, data, checkpoint=path, progress=False)
    with pytest.raises(SearchError, match="other data"):
        grid_search(space, make_data(7), checkpoint=path, progress=False)
    (tmp_path / "foreign.jsonl").write_text("hello\n")
    with pytest.raises(SearchError, match="not a flowgraph search checkpoint"):
        grid_search(space, data, checkpoint=tmp_path / "foreign.jsonl", progress=False)


def test_table_csv_ties_and_plots(tmp_path):
    def trial(i, lr, hidden, err, status="ok"):
        return {"trial": i, "seed": 0, "config": {"lr": lr, "hidden": hidden}, "status": status,
                "valid_error": err, "train_error": err / 2, "epochs_trained": 3,
                "best_epoch": None, "seconds": 0.1,
                "error": "" if status == "ok" else "DivergenceError: nan"}  # fmt: skip

    trials = [
        trial(0, 0.01, (50,), 0.30),
        trial(1, 0.01, (100, 100), 0.20),
        trial(2, 0.1, (50,), 0.20),
        trial(3, 0.1, (100, 100), math.nan, "failed"),
    ]
    space = {"lr": [0.01, 0.1], "hidden": [(50,), (100, 100)]}
    result = SearchResult(kind="grid", space=space, seed=0, trials=trials, n_planned=4)
    assert [r["trial"] for r in result.table()] == [1, 2, 0, 3]  # the tie goes to trial 1
    assert result.best_trial["trial"] == 1 and result.best["hidden"] == (100, 100)
    rows = list(csv.DictReader(open(result.to_csv(tmp_path / "t.csv"))))
    assert [r["trial"] for r in rows] == ["1", "2", "0", "3"]
    assert rows[0]["hidden"] == "100x100" and float(rows[0]["valid_error"]) == 0.2
    assert rows[3]["valid_error"] == "" and rows[3]["error"] == "DivergenceError: nan"

    heat = result.plot(path=tmp_path / "heat.png")
    assert (tmp_path / "heat.png").stat().st_size > 0
    image = heat.axes[0].images[0].get_array()
    assert image.shape == (2, 2) and image[0, 0] == 0.30 and image.mask[1, 1]
    assert [t.get_text() for t in heat.axes[0].texts].count("failed") == 1
    line = result.plot("lr", path=tmp_path / "line.png")
    assert (tmp_path / "line.png").stat().st_size > 0
    assert not line.axes[0].images
    with pytest.raises(SearchError, match="momentum"):
        result.plot("momentum")


def test_random_search_plot_of_continuous_draws(tmp_path):
    data = make_data(8)
    space = {"lr": loguniform(1e-3, 0.3), "l2": loguniform(1e-6, 1e-2),
             "momentum": uniform(0.0, 0.9), "activation": ["tanh", "relu"], "epochs": 1}
    result = random_search(space, data, 8, progress=False, refit=False)  # fmt: skip
    assert result.varying() == ["lr", "l2", "momentum", "activation"]
    fig = result.plot(path=tmp_path / "scatter.png")
    assert (tmp_path / "scatter.png").stat().st_size > 0
    axes = [ax for ax in fig.axes if ax.get_visible()]
    # one scatter per hyper-parameter, never a heat map of eight distinct floats
    assert len(axes) == 4 and not any(ax.images for ax in fig.axes)
    assert [ax.get_xlabel() for ax in axes] == [
        "lr (log-uniform)", "l2 (log-uniform)", "momentum", "activation"]  # fmt: skip
    assert [ax.get_xscale() for ax in axes] == ["log", "log", "linear", "linear"]
    for ax in axes:
        assert ax.get_ylabel() == "validation error"
        assert len(ax.collections[0].get_offsets()) == len(result.ok_trials)
    assert [t.get_text() for t in axes[3].get_xticklabels()] == ["relu", "tanh"]
    both = result.plot("lr", "l2")  # two at once: a scatter coloured by the error
    assert not both.axes[0].images
    assert both.axes[0].get_xscale() == "log" and both.axes[0].get_yscale() == "log"


def test_a_grid_heat_map_keeps_its_tick_labels_readable():
    def trial(i, lr, hidden):
        return {"trial": i, "seed": 0, "config": {"lr": lr, "hidden": hidden}, "status": "ok",
                "valid_error": 0.1 + 0.01 * i, "train_error": 0.0, "epochs_trained": 1,
                "best_epoch": None, "seconds": 0.1, "error": ""}  # fmt: skip

    lrs = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    hidden = [(50,), (100, 100)]
    trials = [trial(i, lr, h) for i, (lr, h) in enumerate((a, b) for a in lrs for b in hidden)]
    result = SearchResult(kind="grid", space={"lr": lrs, "hidden": hidden}, seed=0,
                          trials=trials, n_planned=len(trials))  # fmt: skip
    fig = result.plot()
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (2, 8)
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == ["0.001", "0.003", "0.01", "0.03", "0.1", "0.3",
                                              "1", "3"]  # fmt: skip
    assert all(t.get_rotation() > 0 for t in labels)  # eight labels: slanted, not overlapping
    assert [t.get_text() for t in ax.get_yticklabels()] == ["50", "100x100"]


def test_a_dataset_name_is_loaded_split_and_standardised():
    result = grid_search({"lr": [0.05, 0.3], "hidden": 8, **QUICK}, "moons", progress=False)
    assert len(result.trials) == 2 and result.test_error is not None
    tr, va, te = fg.select.load_data("moons", seed=0)
    assert abs(tr[0].mean()) < 1e-6 and len(va[0]) == len(te[0]) > 0
    # the trials trained on those x'; the best model owns the preprocessing and takes raw data
    from flowgraph.training.defaults import SPLIT, n_samples_for

    X, y, _ = fg.datasets.get_dataset("moons", seed=0, n_samples=n_samples_for("moons"))
    _, _, raw_test = fg.datasets.split(X, y, valid=SPLIT["valid"], test=SPLIT["test"], seed=0)
    assert result.best_model.preprocessing.kind == "standardize"
    assert result.best_model.error(*raw_test) == result.test_error


def test_an_unreachable_scheduler_is_a_clear_error():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(SearchError, match="cannot reach the Dask scheduler at tcp://127"):
            grid_search({"lr": [0.1], **QUICK}, make_data(), scheduler="tcp://127.0.0.1:1",
                        progress=False)  # fmt: skip


def test_a_checkpoint_needs_json_configurations(tmp_path):
    with pytest.raises(SearchError, match="cannot be used|stores configurations as JSON"):
        grid_search({"activation": [object()], **QUICK}, make_data(),
                    checkpoint=tmp_path / "c.jsonl", progress=False)  # fmt: skip


def test_random_search_draws_from_scipy_stats_distributions_reproducibly():
    from scipy import stats  # the `fast` extra, part of `test`

    space = {**QUICK, "lr": stats.loguniform(1e-3, 1), "batch_size": stats.randint(16, 129),
             "momentum": stats.uniform(0, 0.9)}  # fmt: skip
    plan = plan_random(space, 6, seed=3)
    assert plan == plan_random(space, 6, seed=3)  # each trial's draw comes from its own seed
    for _, config, _ in plan:
        assert 1e-3 <= config["lr"] <= 1 and type(config["lr"]) is float
        assert 16 <= config["batch_size"] < 129 and type(config["batch_size"]) is int
        assert 0 <= config["momentum"] <= 0.9
    assert len({c["lr"] for _, c, _ in plan}) == 6
    result = random_search(space, make_data(), 2, seed=3, progress=False, refit=False)
    assert [t["config"] for t in result.trials] == [c for _, c, _ in plan[:2]]
    assert all(t["status"] == "ok" for t in result.trials)


@pytest.mark.parametrize(
    "name, dist, args, message",
    [
        ("lr", "norm", (0, 1), r"lr \(random trial \d+, drawn from scipy\.stats\.norm\(0, 1\)\)"),
        ("batch_size", "uniform", (16, 100), r"batch_size \(random trial 0, .*\) = [\d.]+ cannot"),
        ("momentum", "uniform", (0, 2), r"momentum \(random trial \d+, .*must be a momentum in"),
    ],
)
def test_a_scipy_draw_no_trial_can_use_is_refused_before_the_first_trial(name, dist, args,
                                                                        message):
    from scipy import stats

    ran = []

    class Spy(fg.Callback):
        def on_train_begin(self, model):
            ran.append(model)

    space = {**QUICK, name: getattr(stats, dist)(*args)}
    with pytest.raises(SearchError, match=message):
        random_search(space, make_data(), 40, progress=False, callbacks=[Spy()])
    assert ran == []
