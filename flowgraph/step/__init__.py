"""The planned training step: a Graph's step with its memory planned (issue 24).

Not part of the lecture's core: ``Graph.fprop`` and ``Graph.bprop`` are the whole algorithm,
and a plan runs the same boxes in the same order with the same arithmetic, only writing each
value and gradient into a buffer reused from step to step (:mod:`flowgraph.step.plan`).
``print(plan)`` shows the step as straight-line NumPy (:mod:`flowgraph.step.code`).

    >>> import flowgraph as fg
    >>> model = fg.mlp([2, 3, 2], seed=0)
    >>> plan = fg.step_plan(model.train_graph)       # kept by the graph, one per output
    >>> plan is fg.step_plan(model.train_graph)
    True
    >>> model.train_graph.planned = plan             # graph.fprop and bprop() now run it
"""

from __future__ import annotations

from typing import Any

from ..core.node import Node
from .code import plan_code
from .fold import fold_sgd_update
from .plan import StepPlan

__all__ = ["StepPlan", "step_plan", "plan_code", "fold_sgd_update"]


def step_plan(graph: Any, output: Node | str | None = None) -> StepPlan:
    """The :class:`StepPlan` of ``graph`` for ``output`` (default: its first output), made
    once and kept in the graph (``graph.step_plans``), so its buffers serve every later step.
    ``graph.planned = step_plan(graph)`` makes ``graph.fprop`` and ``graph.bprop()`` run it."""
    out = graph.resolve(output) if output is not None else graph.outputs[0]
    plan = graph.step_plans.get(id(out))
    if plan is None:
        plan = graph.step_plans[id(out)] = StepPlan(graph, out)
    return plan
