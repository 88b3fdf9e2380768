"""A search checkpoint is read back only with error rates a trial can have: an edited
``valid_error`` (negative, above 1, or NaN for a finished trial) is refused, never chosen as
the best trial; every line is JSON read at most 64 levels deep; ``flowgraph search --space``
reads its file with a size and a depth limit; a trial's network beyond memory is refused
before it is built."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flowgraph.cli import main
from flowgraph.select import SearchError, grid_search

SPACE = {"lr": [0.05, 0.2], "epochs": 2, "batch_size": 16}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    y = (X[:, 0] > 0).astype(int)
    return (X[:60], y[:60]), (X[60:75], y[60:75]), (X[75:], y[75:])


@pytest.mark.parametrize("value", [-5, 1.5, None])
def test_an_impossible_valid_error_is_refused(tmp_path, value):
    data, path = _data(), tmp_path / "c.jsonl"
    grid_search(SPACE, data, checkpoint=path, progress=False, refit=False)
    lines = path.read_text().splitlines()
    record = json.loads(lines[2])
    assert record["status"] == "ok" and 0 <= record["valid_error"] <= 1
    record["valid_error"] = value  # None: NaN, for a trial that says it finished
    path.write_text("\n".join([*lines[:2], json.dumps(record)]) + "\n")
    with pytest.raises(SearchError, match=r"line 3: valid_error = .* is not an error rate"):
        grid_search(SPACE, data, checkpoint=path, progress=False, refit=False)


def test_a_failed_trial_keeps_its_nan(tmp_path):
    data, path = _data(), tmp_path / "c.jsonl"
    space = {"lr": [0.05, 1e9], "epochs": 2, "batch_size": 16}  # 1e9 diverges: failed
    first = grid_search(space, data, checkpoint=path, progress=False, refit=False)
    again = grid_search(space, data, checkpoint=path, progress=False, refit=False)
    failed = [t for t in again.trials if t["status"] == "failed"]
    assert failed and all(math.isnan(t["valid_error"]) for t in failed)
    assert again.n_resumed == len(first.trials)


def test_search_reads_its_space_file_with_a_size_limit(tmp_path, capsys):
    argv = ["search", "--dataset", "blobs", "--n-samples", "120", "--random", "2", "--quiet",
            "--out", str(tmp_path / "s")]  # fmt: skip
    assert main([*argv, "--space", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "larger than" in err and "Traceback" not in err
    big = tmp_path / "big.json"
    big.write_text('{"lr": {"uniform": [0.01, 0.1]}, "x": "' + "a" * 2**21 + '"}')
    assert main([*argv, "--space", str(big)]) == 2
    assert "larger than" in capsys.readouterr().err


@pytest.mark.parametrize("line", [2, 3])
def test_a_checkpoint_line_nested_too_deep_is_refused_without_recursing(tmp_path, line):
    """Every line of a checkpoint is JSON read at most 64 levels deep: a header or a trial
    line of [[[[... is a SearchError, not a RecursionError from inside the decoder."""
    data, path = _data(), tmp_path / "c.jsonl"
    grid_search(SPACE, data, checkpoint=path, progress=False, refit=False)
    lines = path.read_text().splitlines()
    lines[line - 1] = "[" * 100_000
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SearchError, match=f"line {line}: not a trial record"):
        grid_search(SPACE, data, checkpoint=path, progress=False, refit=False)


def test_a_checkpoint_header_nested_too_deep_is_not_taken_for_one(tmp_path):
    data, path = _data(), tmp_path / "c.jsonl"
    path.write_text("[" * 30_000 + "\n")
    with pytest.raises(SearchError, match="is not a flowgraph search checkpoint"):
        grid_search(SPACE, data, checkpoint=path, progress=False, refit=False)


def test_search_reads_its_space_file_at_most_64_levels_deep(tmp_path, capsys):
    argv = ["search", "--dataset", "blobs", "--n-samples", "120", "--random", "2", "--quiet",
            "--out", str(tmp_path / "s")]  # fmt: skip
    deep = tmp_path / "deep.json"
    deep.write_text('{"lr": ' + "[" * 100_000)
    assert main([*argv, "--space", str(deep)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nested 100001 deep; at most 64 levels" in err


def test_a_network_beyond_memory_is_a_failed_trial_not_an_allocation(tmp_path, capsys):
    """A trial's network is estimated before it is built: a 10^9-unit layer fails that trial
    with a ResourceError (the search goes on), the others run."""
    data = _data()
    result = grid_search({"hidden": [4, 10**9], "epochs": 1, "batch_size": 16}, data,
                         progress=False, refit=False)  # fmt: skip
    small, huge = sorted(result.trials, key=lambda t: str(t["config"]["hidden"]))[::-1]
    assert small["status"] == "ok" and huge["status"] == "failed"
    assert huge["error"].startswith("ResourceError: this run needs about")
