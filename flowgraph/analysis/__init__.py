"""Analysis tools: second-order methods and the surprising properties of trained networks.

    >>> import numpy as np, flowgraph as fg
    >>> from flowgraph import analysis as A
    >>> model = fg.mlp([2, 3, 2], dtype=np.float64, seed=0)
    >>> X, y = np.random.default_rng(0).standard_normal((10, 2)), np.arange(10) % 2
    >>> A.hessian(model, X, y).shape                      # exact, by the R-operator
    (17, 17)

Modules: ``params`` (theta as one vector, the loss as a function of it), ``hessian`` (hessian,
hvp: exact through each box's forward-mode rules, see :mod:`flowgraph.core.forward`; on any
Graph with ``feed=``), ``spectrum`` (spectrum, top_eigenvalues, count_eigenvalues),
``newton`` (newton_step, saddle_free_newton), ``directional`` (jvp: forward mode on a Model's
raw data, through its preprocessing), ``landscape`` (interpolate, slice_2d,
loss_rise, permute_hidden), ``lottery``, ``adversarial``, ``phenomena`` (memorisation, double
descent, batch size and sharpness, bias and variance, L1 sparsity, critical points) and
``experiments`` (each phenomenon end to end, one module each, with its figure and claims:
``flowgraph experiment NAME``).
"""

from .adversarial import accuracy_vs_eps, fgsm, input_gradient
from .directional import jvp
from .hessian import HessianFallbackWarning, hessian, hvp, missing_jvp_rules
from .landscape import interpolate, loss_rise, permute_hidden, random_direction, slice_2d
from .lottery import LotteryResult, lottery_ticket, magnitude_masks, sparsity, train_masked
from .newton import NewtonStep, newton_step, saddle_free_newton
from .params import (
    AnalysisError,
    Objective,
    flat_grad,
    flatten,
    objective,
    reinitialise,
    set_flat,
    to_float64,
    unflatten,
)
from .phenomena import (
    batch_size_sharpness,
    bias_variance,
    critical_points,
    double_descent,
    fraction_zero,
    l1_sparsity,
    memorization,
    random_labels,
)
from .spectrum import Spectrum, count_eigenvalues, spectrum, top_eigenvalues

__all__ = [
    "AnalysisError", "Objective", "objective", "flatten", "unflatten", "set_flat", "flat_grad",
    "to_float64", "reinitialise",
    "jvp", "hessian", "hvp", "newton_step", "saddle_free_newton", "NewtonStep", "top_eigenvalues",
    "spectrum", "Spectrum", "count_eigenvalues", "missing_jvp_rules", "HessianFallbackWarning",
    "interpolate", "random_direction", "loss_rise", "slice_2d", "permute_hidden",
    "magnitude_masks", "sparsity", "train_masked", "lottery_ticket", "LotteryResult",
    "input_gradient", "fgsm", "accuracy_vs_eps",
    "random_labels", "memorization", "double_descent", "batch_size_sharpness", "bias_variance",
    "l1_sparsity", "fraction_zero", "critical_points",
]  # fmt: skip
