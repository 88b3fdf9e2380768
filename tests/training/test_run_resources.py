"""Resources: a run that cannot fit in memory is refused before anything is allocated, with one
line and exit status 2; `flowgraph train` keeps BLAS on one thread unless told otherwise."""

from __future__ import annotations

import pytest

from flowgraph.cli import main
from flowgraph.training import resources
from flowgraph.training.resources import ResourceError, check_fits, estimate_bytes


def test_the_estimate_grows_with_each_part():
    small = estimate_bytes(1000, [2, 10, 3], 32, 4)
    assert estimate_bytes(2000, [2, 10, 3], 32, 4) > small  # data
    assert estimate_bytes(1000, [2, 1000, 3], 32, 4) > small  # parameters, activations
    assert estimate_bytes(1000, [2, 10, 3], 512, 4) > small  # one batch's activations
    assert estimate_bytes(1000, [2, 10, 3], 32, 8) > small  # float64
    assert estimate_bytes(1000, [2, 10, 3], 32, 4, augment=True) > small  # shifted copies


def test_check_fits_names_the_sizes():
    check_fits(1000, [2, 10, 3], 32, 4, memory=2**30)
    with pytest.raises(ResourceError, match=r"1000 examples, network 2 -> 10 -> 3"):
        check_fits(1000, [2, 10, 3], 32, 4, memory=1000)


@pytest.mark.parametrize("argv", [["--dataset", "moons", "--n-samples", "10000000000"],
                                  ["--hidden", "1000000000"],
                                  ["--hidden", "100000", "100000"]])  # fmt: skip
def test_train_refuses_what_cannot_fit_before_allocating(argv, tmp_path, capsys):
    assert main(["train", *argv, "--no-progress", "--out", str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "of memory" in err and "available" in err, err
    assert "network" not in out and not (tmp_path / "r").exists()


def test_train_runs_on_one_blas_thread_by_default(tmp_path, monkeypatch):
    seen = []
    real = resources.blas_threads

    def spy(n):
        seen.append(n)
        return real(n)

    from flowgraph.cli import train_cmd

    monkeypatch.setattr(train_cmd, "blas_threads", spy)
    argv = ["train", "--dataset", "blobs", "--n-samples", "90", "--hidden", "3", "--epochs", "1",
            "--no-progress"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--threads", "0", "--out", str(tmp_path / "b")]) == 0
    assert seen == [1, 0]
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with real(1):
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info()
                   if p["user_api"] == "blas")  # fmt: skip
