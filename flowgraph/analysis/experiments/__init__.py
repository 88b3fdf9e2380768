"""Each phenomenon of the lecture end to end: ``run_experiment(name)`` or, from a shell,
``flowgraph experiment NAME [--dataset D] [--out DIR] [--quick]``.

Every experiment trains the networks it needs with the engine, measures with
:mod:`flowgraph.analysis`, prints its key numbers and checks the claims it makes against them,
and writes ``NAME.png`` (the figure) and ``NAME.json`` (the numbers and the claims) into the
output directory. Defaults take about a minute on two cores; ``quick=True`` is a reduced run of
seconds (what the test suite runs). One module per experiment, its claims listed at its top:

    newton          newton.py: Newton's method converges in a few steps on a convex problem
                    (logistic regression); a small MLP's Hessian is indefinite.
    saddle          saddle.py: critical points of a tiny network, found by Newton's method:
                    saddles with more negative eigenvalues the higher their loss (Dauphin et
                    al. 2014).
    sharpness       sharpness.py: small vs large batches at equal training loss: lambda_max,
                    the loss rise along random directions, test error (Keskar et al. 2017).
    interpolation   interpolation.py: the loss along initialisation -> solution (Goodfellow,
                    Vinyals, Saxe 2015), between a solution and its permutation, a 2-D slice.
    lottery         lottery.py: iterative magnitude pruning: winning tickets vs random
                    re-initialisation (Frankle and Carbin 2019).
    adversarial     adversarial.py: FGSM against random signs; on images, original /
                    difference / perturbed examples (Szegedy et al. 2014).
    memorization    memorization.py: random labels fitted perfectly, test error at chance
                    (Zhang et al. 2017).
    double-descent  double_descent.py: test error against hidden width across the
                    interpolation threshold (Belkin et al. 2018).
    bias-variance   bias_variance.py: squared bias and variance against the L2 strength.
    l1-sparsity     l1_sparsity.py: weights exactly 0 with L1's proximal step; none with
                    subgradients or L2.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...io import atomic_write
from .. import data as D
from ..params import AnalysisError
from . import (
    adversarial,
    bias_variance,
    double_descent,
    interpolation,
    l1_sparsity,
    lottery,
    memorization,
    newton,
    saddle,
    sharpness,
)
from .common import Claim, Outcome, jsonable

__all__ = ["EXPERIMENTS", "DEFAULT_DATASETS", "Claim", "Outcome", "run_experiment"]

EXPERIMENTS: dict[str, Callable[..., Outcome]] = {
    "newton": newton.run,
    "saddle": saddle.run,
    "sharpness": sharpness.run,
    "interpolation": interpolation.run,
    "lottery": lottery.run,
    "adversarial": adversarial.run,
    "memorization": memorization.run,
    "double-descent": double_descent.run,
    "bias-variance": bias_variance.run,
    "l1-sparsity": l1_sparsity.run,
}
"""Experiment name -> run(dataset, quick, seed) -> Outcome (numbers, figure, lines, claims)."""

DEFAULT_DATASETS = {name: "digits" for name in EXPERIMENTS} | {"saddle": "blobs"}
"""The dataset each experiment uses unless told otherwise (saddle needs a tiny network)."""


def run_experiment(
    name: str,
    *,
    dataset: str | None = None,
    out: str | os.PathLike = ".",
    quick: bool = False,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run experiment ``name``; write ``out/NAME.png`` and ``out/NAME.json``; return the record.

    ``echo`` receives the summary lines and one line per claim (None: silent). The record (and
    the JSON) holds ``name``, ``dataset``, ``source``, ``quick``, ``seed``, ``seconds``, the
    figure's path, ``results`` (the experiment's numbers), ``claims`` (a list of
    {statement, holds, numbers}) and ``claims_hold`` (whether all of them do).
    """
    if name not in EXPERIMENTS:
        raise AnalysisError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    dataset = dataset or DEFAULT_DATASETS[name]
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ds = D.load(dataset, seed=seed, data_dir=data_dir)
    outcome = EXPERIMENTS[name](ds, quick, seed)
    seconds = time.perf_counter() - start
    png, js = out_dir / f"{name}.png", out_dir / f"{name}.json"
    atomic_write(png, lambda f: outcome.figure.savefig(f, format="png"), suffix=".png")
    record = jsonable(
        {
            "name": name,
            "dataset": ds["name"],
            "source": ds["source"],
            "quick": quick,
            "seed": seed,
            "seconds": seconds,
            "figure": str(png),
            "results": outcome.results,
            "claims": [c.to_dict() for c in outcome.claims],
            "claims_hold": all(c.holds for c in outcome.claims),
        }
    )
    text = json.dumps(record, indent=1) + "\n"
    atomic_write(js, lambda f: f.write(text.encode()), suffix=".json")
    if echo is not None:
        echo(f"experiment {name} on {ds['name']}{' (quick)' if quick else ''}: {seconds:.1f} s")
        for line in outcome.lines:
            echo("  " + line)
        for c in outcome.claims:
            echo("  " + str(c))
        failed = sum(not c.holds for c in outcome.claims)
        if failed:
            echo(
                f"  {failed} of {len(outcome.claims)} claims do not hold in this run's numbers "
                "(see the lines above)"
            )
        echo(f"  wrote {png} and {js}")
    return record
