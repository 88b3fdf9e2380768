"""Gradient checking by central finite differences, with a report that says where and why.

For an input x of a box (or a parameter of a graph) and a scalar function L of it, the
numerical derivative along a direction d is the lecture's central difference

    dL/dx . d  ~  (L(x + eps d) - L(x - eps d)) / (2 eps)

computed in float64. ``d`` runs over every element (d = e_i) of small tensors; for large ones
it runs over a few sampled elements and a few random Gaussian directions (not all-positive,
so errors of opposite sign cannot cancel). A box with a non-scalar output is reduced to a
scalar by a random non-uniform projection L = sum(R ⊙ output), whose gradient R is what
bprop receives.

The derivative is estimated by Richardson's extrapolation (4 c(eps/2) - c(eps)) / 3 of the
central differences c(h), exact to O(eps^4), and compared with the analytic value within
atol + rtol |value| plus the differences' round-off (which grows as 1/eps).

An element is a *kink*, reported apart and neither passed nor failed, only on evidence that
the function is not differentiable there (ReLU or |W| at 0): its one-sided slopes disagree
by an amount that does not shrink as the step does (eps, eps/16, ...), where a smooth
function's disagreement shrinks with the step. Where the function merely curves steeply
within eps (-log f for a probability f near eps), or x +- eps leaves its domain, the step is
refined until the derivative is resolved; what cannot be resolved is a failure, never a kink.

The Graph does not call ``bprop`` but ``bprop_needed`` (skipping inputs that need no gradient,
returning a rank-1 gradient as an ``Outer``): ``check_box`` holds every pattern of ``needs``
at the sample's batch and at a batch of one example to ``bprop``, and ``check_graph``
re-checks each box on the path the Graph took. A Graph's step plan calls a box with its
buffers (``out=``) and, from the second step of a signature on, through the box's kernels:
each of those paths is held to fprop and bprop_needed bit for bit.

A box's forward-mode rules (``fprop_jvp``, ``bprop_jvp``: the directional derivatives of fprop
and bprop) are checked too, at the same inputs, by :func:`flowgraph.check_jvp`: one random
tangent, every element of R{out} and of each R{grad_x} against central differences, an element
that fails judged again by the same differentiation as above (kinks apart).

The package, one concern per module, each importing only those above it:

    report.py       the rows, the reports and their verdicts (html.py: as HTML tables)
    differences.py  central differences: step choice and refinement, kinks, one input compared
    paths.py        the paths of bprop_needed held to bprop
    planned.py      the step plan's paths (out=, kernels) held to fprop and bprop, bit for bit
    forward.py      check_jvp: the forward-mode rules
    box.py          check_box, all_box_classes
    graph.py        check_graph
"""

from .box import all_box_classes, check_box
from .differences import ATOL, EPS, RTOL
from .forward import check_jvp
from .graph import check_graph
from .report import BoxReport, GraphReport, InputCheck, JVPCheck, JVPReport, PathCheck

__all__ = [
    "check_box",
    "check_graph",
    "check_jvp",
    "all_box_classes",
    "BoxReport",
    "GraphReport",
    "JVPReport",
    "InputCheck",
    "PathCheck",
    "JVPCheck",
    "EPS",
    "RTOL",
    "ATOL",
]
