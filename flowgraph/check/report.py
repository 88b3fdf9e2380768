"""The checker's reports: one comparison per row, a verdict per box, a table per graph.

Every row, whether it compares an input's gradient (:class:`InputCheck`) or a forward-mode
rule (:class:`JVPCheck`) with central differences, has the same columns, written once by
:func:`row` under :func:`header`: the shape, the largest absolute and relative errors over the
checked elements, how many failed or sat at kinks, the status and the worst element with its
analytic and numeric values. A status is ``PASS``, ``FAIL``, ``KINK`` (passes except at points
where the function is not differentiable) or ``SKIP`` (a rule not judged).

``print(report)`` shows the table as text; in Jupyter a report shows itself as HTML tables of
the same rows, each status coloured (``PASS`` green, ``FAIL`` red: :mod:`flowgraph.check.html`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .html import box_report_html, graph_report_html, jvp_report_html

__all__ = [
    "InputCheck",
    "PathCheck",
    "BoxReport",
    "GraphReport",
    "JVPCheck",
    "JVPReport",
    "RowFields",
    "row_fields",
    "row",
    "header",
    "rules_header",
]


# -- one row ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowFields:
    """The columns of one row, as text: the same for the text table and the HTML one.
    ``worst`` and ``note`` are empty when there is none; a row without figures (a rule not
    judged) has empty ``shape``, ``max_abs``, ``max_rel`` and ``elements``."""

    label: str
    shape: str
    max_abs: str
    max_rel: str
    elements: str
    status: str
    worst: str
    note: str


def row_fields(check: Any, label: str, *, counted: bool = True) -> RowFields:
    """The columns of the row of an :class:`InputCheck` or a :class:`JVPCheck`
    (``counted=False``: without figures)."""
    if not counted:
        return RowFields(label, "", "", "", "", check.status, "", check.note)
    worst = (
        ""
        if check.worst is None
        else f"{check.worst}: analytic {check.analytic:.6g}, numeric {check.numeric:.6g}"
    )
    counts = f"{check.n_failed}/{check.n_checked} failed"
    if check.n_kinks:
        counts += f", {check.n_kinks} at kinks"
    return RowFields(
        label,
        str(check.shape),
        f"{check.max_abs_err:.2e}",
        f"{check.max_rel_err:.2e}",
        counts,
        check.status,
        worst,
        check.note,
    )


def header(what: str = "input", width: int = 10) -> str:
    """The header of the rows :func:`row` writes."""
    return f"{what:<{width}} {'shape':<12} {'max abs':>9} {'max rel':>9}  {'elements':<26} status"


def row(check: Any, label: str, width: int = 10, *, counted: bool = True) -> str:
    """One row of a report's table, for an :class:`InputCheck` or a :class:`JVPCheck`
    (``counted=False``: a row without figures)."""
    f = row_fields(check, label, counted=counted)
    worst = f"  worst {f.worst}" if f.worst else ""
    note = f"  [{f.note}]" if f.note else ""
    return (
        f"{label:<{width}} {f.shape:<12} {f.max_abs:>9} {f.max_rel:>9}  {f.elements:<26} "
        f"{f.status}{worst}{note}"
    )


def rules_header(width: int = 22) -> str:
    """The header of the rows of :meth:`JVPCheck.line`."""
    return header("rule", width)


# -- what was compared ----------------------------------------------------------------------------
@dataclass
class InputCheck:
    """The comparison for one input of a box, or one parameter of a graph.

    ``max_abs_err`` and ``max_rel_err`` are over the checked elements and directions, kinks
    excluded; ``worst`` names the worst one (an index tuple, or ``"direction k"``) with its
    ``analytic`` and ``numeric`` values. ``note`` says what else went wrong (a gradient of the
    wrong shape, no gradient at all, inputs overwritten).
    """

    name: str
    shape: tuple[int, ...]
    n_checked: int = 0
    n_failed: int = 0
    n_kinks: int = 0
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    worst: Any = None
    analytic: float = float("nan")
    numeric: float = float("nan")
    no_gradient: bool = False
    note: str = ""
    broken: bool = False  # wrong shape, missing or non-finite gradient: fails outright

    @property
    def ok(self) -> bool:
        return not self.broken and self.n_failed == 0

    @property
    def status(self) -> str:
        if not self.ok:
            return "FAIL"
        return "KINK" if self.n_kinks else "PASS"

    def fields(self) -> RowFields:
        """The columns of :meth:`line`."""
        return row_fields(self, self.name)

    def line(self) -> str:
        return row(self, self.name)


@dataclass
class PathCheck:
    """``bprop_needed(inputs, output, grad_output, needs)`` held to ``bprop`` for one pattern
    of ``needs`` at one batch size ``n`` (None: the inputs have no batch dimension).

    Where ``needs`` is True the path must give the gradient bprop gives (an
    :class:`~flowgraph.core.box.Outer` is materialised first); only where it is False may it
    give None. ``problems`` lists (input name, what is wrong); empty when the path is right.
    A step plan's path (``path``: ``"fprop(out=)"``, ``"fprop_kernel"``, ``"bprop_kernel"``,
    ...) is held to the box's own (``reference``) bit for bit (:mod:`flowgraph.check.planned`).
    """

    needs: tuple[bool, ...]
    n: int | None
    problems: list[tuple[str, str]] = field(default_factory=list)
    path: str = "bprop_needed"
    reference: str = "bprop"

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        """The path and its pattern of needs: ``bprop_kernel(needs=TTF)``."""
        if not self.needs:
            return self.path
        pattern = "".join("T" if k else "F" for k in self.needs)
        path = self.path[:-1] + ", " if self.path.endswith("=)") else self.path + "("
        return f"{path}needs={pattern})"

    def line(self) -> str:
        where = "" if self.n is None else f" at N={self.n}"
        what = "; ".join(f"{name}: {msg}" for name, msg in self.problems)
        return f"{self.name}{where}: {what or 'equals ' + self.reference}"


@dataclass
class JVPCheck:
    """One comparison of a rule with central differences: ``what`` is ``"fprop_jvp"`` (R{out})
    or ``"bprop_jvp: grad_h"`` (R{grad_h}); errors are over every element (kinks excluded),
    ``worst`` is the index of the worst one with its ``analytic`` and ``numeric`` values.
    ``skipped``: not compared (bprop_jvp while bprop itself is wrong), says ``note``."""

    what: str
    shape: tuple[int, ...]
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    n_checked: int = 0
    n_failed: int = 0
    n_kinks: int = 0
    worst: tuple[int, ...] | None = None
    analytic: float = float("nan")
    numeric: float = float("nan")
    note: str = ""
    broken: bool = False
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return not self.broken and self.n_failed == 0

    @property
    def status(self) -> str:
        if not self.ok:
            return "FAIL"
        if self.skipped:
            return "SKIP"
        return "KINK" if self.n_kinks else "PASS"

    def fields(self) -> RowFields:
        """The columns of :meth:`line`."""
        return row_fields(self, self.what, counted=not self.skipped)

    def line(self, width: int = 22) -> str:
        """One row of the table (the columns of :meth:`InputCheck.line`)."""
        return row(self, self.what, width, counted=not self.skipped)


# -- verdicts -------------------------------------------------------------------------------------
@dataclass
class JVPReport:
    """What :func:`~flowgraph.check_jvp` found for a box: one row for fprop_jvp, one per
    differentiable input for bprop_jvp. ``print(report)`` shows the table, ``report.ok`` the
    verdict."""

    box: str
    checks: list[JVPCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def status(self) -> str:
        """'fail', 'kink' (passes except at non-differentiable points) or 'pass'."""
        if not self.ok:
            return "fail"
        return "kink" if any(c.n_kinks for c in self.checks) else "pass"

    @property
    def failing(self) -> list[str]:
        return [c.what for c in self.checks if not c.ok]

    @property
    def max_rel_err(self) -> float:
        return max((c.max_rel_err for c in self.checks), default=0.0)

    def verdict_parts(self) -> tuple[str, str]:
        """The verdict in two parts: ``PASS``, ``KINK`` or ``FAIL``, and ``" (wrong: ...)"``
        (empty unless it fails)."""
        return self.status.upper(), (f" (wrong: {', '.join(self.failing)})" if not self.ok else "")

    def verdict(self) -> str:
        """``PASS``, ``KINK`` or ``FAIL (wrong: ...)``."""
        return "".join(self.verdict_parts())

    def __str__(self) -> str:
        return "\n".join(
            [f"{self.box} forward-mode rules: {self.verdict()}", "  " + rules_header()]
            + ["  " + c.line() for c in self.checks]
        )

    def _repr_html_(self) -> str:
        return jvp_report_html(self)

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class BoxReport:
    """What ``check_box`` found for each differentiable input of one box, for each path of
    ``bprop_needed`` (``paths``) held to ``bprop``, and for its forward-mode rules (``jvp``,
    a :class:`JVPReport` from :func:`~flowgraph.check_jvp`; None when they were not checked,
    ``jvp_note`` then says why, or is empty when ``jvp=False`` said so)."""

    NOTHING_CHECKED: ClassVar[str] = "no floating-point input: nothing was checked"

    box: str
    inputs: list[InputCheck]
    node: str | None = None
    paths: list[PathCheck] = field(default_factory=list)
    jvp: JVPReport | None = None
    jvp_note: str = ""
    planned: list[PathCheck] = field(default_factory=list)  # the step plan's, bit for bit

    @property
    def ok(self) -> bool:
        return (
            all(c.ok for c in self.inputs)
            and all(p.ok for p in self.paths)
            and all(p.ok for p in self.planned)
            and (self.jvp is None or self.jvp.ok)
        )

    @property
    def status(self) -> str:
        """'fail', 'kink' (passes except at non-differentiable points) or 'pass'."""
        if not self.ok:
            return "fail"
        kinks = any(c.n_kinks for c in self.inputs)
        return "kink" if kinks or (self.jvp is not None and self.jvp.status == "kink") else "pass"

    @property
    def max_rel_err(self) -> float:
        """The gradients' worst relative error (the rules' is ``jvp.max_rel_err``)."""
        return max((c.max_rel_err for c in self.inputs), default=0.0)

    @property
    def failing_inputs(self) -> list[str]:
        """Inputs with a wrong gradient, from bprop or from a path of bprop_needed."""
        names = [c.name for c in self.inputs if not c.ok]
        for p in self.paths:
            names += [name for name, _ in p.problems if name not in names]
        return names

    @property
    def failing_rules(self) -> list[str]:
        """Forward-mode rules that are wrong, as check_jvp names them (``'fprop_jvp'``,
        ``'bprop_jvp: grad_a'``)."""
        return [] if self.jvp is None else self.jvp.failing

    @property
    def failing(self) -> list[str]:
        """Everything wrong: the inputs with a wrong gradient, then the wrong forward-mode
        rules."""
        return self.failing_inputs + self.failing_rules

    @property
    def failing_paths(self) -> list[PathCheck]:
        return [p for p in self.paths if not p.ok]

    @property
    def failing_planned(self) -> list[str]:
        """The step plan's paths that are not the box's own bits (``'fprop_kernel'``,
        ``'bprop_kernel(needs=TF)'``), each named once."""
        names: list[str] = []
        for p in self.planned:
            if not p.ok and p.name not in names:
                names.append(p.name)
        return names

    def planned_line(self) -> str:
        """How many of the step plan's paths give the box's own bits."""
        kinds = sorted({p.path for p in self.planned})
        good = sum(p.ok for p in self.planned)
        return (f"the step plan's paths ({', '.join(kinds)}): {good} of {len(self.planned)} "
                "give the box's own bits")  # fmt: skip

    def title_parts(self) -> tuple[str, str, str]:
        """The title in three parts: the box (and node), the status, what is wrong."""
        where = f" at node '{self.node}'" if self.node else ""
        wrong = []
        if self.failing_inputs:
            wrong.append(f"wrong gradient for: {', '.join(self.failing_inputs)}")
        if self.failing_rules:
            wrong.append(f"wrong forward-mode rule: {', '.join(self.failing_rules)}")
        if self.failing_planned:
            wrong.append(f"wrong step-plan path: {', '.join(self.failing_planned)}")
        failing = f" ({'; '.join(wrong)})" if wrong else ""
        return f"{self.box}{where}", self.status.upper(), failing

    def title(self) -> str:
        what, status, failing = self.title_parts()
        return f"{what}: {status}{failing}"

    def paths_line(self) -> str:
        """How many of the paths of bprop_needed equal bprop, and at which batch sizes."""
        sizes = sorted({p.n for p in self.paths if p.n is not None})
        at = f" at N = {', '.join(map(str, sizes))}" if sizes else ""
        good = len(self.paths) - len(self.failing_paths)
        return f"paths the Graph takes (bprop_needed){at}: {good} of {len(self.paths)} equal bprop"

    def jvp_title_parts(self) -> tuple[str, str, str]:
        """The title of the forward-mode rules' part in three parts (what, status, what is
        wrong): their verdict, or why they were not checked in the first part alone; all
        empty when ``jvp=False`` said so."""
        if self.jvp is not None:
            what = "forward-mode rules (fprop_jvp, bprop_jvp) along a random tangent: "
            return (what, *self.jvp.verdict_parts())
        if self.jvp_note:
            return f"forward-mode rules (fprop_jvp, bprop_jvp): {self.jvp_note}", "", ""
        return "", "", ""

    def jvp_title(self) -> str:
        """The title of the forward-mode rules' part: their verdict, or why they were not
        checked (empty when ``jvp=False`` said so)."""
        return "".join(self.jvp_title_parts())

    def jvp_lines(self) -> list[str]:
        """The forward-mode rules' part of the table: a title and one row per rule, or one
        line saying there are none; nothing when they were not asked for."""
        if self.jvp is None:
            return [self.jvp_title()] if self.jvp_note else []
        rows = ["  " + c.line() for c in self.jvp.checks]
        return [self.jvp_title(), "  " + rules_header()] + rows

    def __str__(self) -> str:
        if not self.inputs and not self.paths:
            return f"{self.title()}\n  {self.NOTHING_CHECKED}"
        lines = [self.title(), "  " + header()] + ["  " + c.line() for c in self.inputs]
        if self.paths:
            lines.append("  " + self.paths_line())
            lines += ["    " + p.line() for p in self.failing_paths]
        if self.planned:
            lines.append("  " + self.planned_line())
            lines += ["    " + p.line() for p in self.planned if not p.ok]
        lines += ["  " + line for line in self.jvp_lines()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return box_report_html(self)

    def __bool__(self) -> bool:
        return self.ok


@dataclass
class GraphReport:
    """What ``check_graph`` found: every parameter end to end, and every box on its own.

    ``first_failing_box`` names the first node in fprop order whose box fails its own check
    with the values recorded in the graph (its bprop, a path of bprop_needed, or one of its
    forward-mode rules): where to look first.
    """

    output: str
    parameters: list[InputCheck]
    boxes: dict[str, BoxReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.parameters) and all(b.ok for b in self.boxes.values())

    @property
    def parameters_ok(self) -> bool:
        """Whether the end-to-end gradient is right for every parameter."""
        return all(c.ok for c in self.parameters)

    @property
    def first_failing_box(self) -> str | None:
        for name, rep in self.boxes.items():
            if not rep.ok:
                return name
        return None

    @property
    def no_gradient(self) -> list[str]:
        return [c.name for c in self.parameters if c.no_gradient]

    def title_parts(self) -> tuple[str, str]:
        """The title in two parts: what was checked, and its status."""
        what = f"gradient of '{self.output}' with respect to each parameter"
        return what, "PASS" if self.parameters_ok else "FAIL"

    def title(self) -> str:
        return "{}: {}".format(*self.title_parts())

    def box_wrong(self, name: str) -> str:
        """What is wrong with one box, for its line in the list of boxes ('' if nothing)."""
        rep = self.boxes[name]
        wrong = ""
        if rep.failing_inputs:
            wrong += f"  failing input(s): {', '.join(rep.failing_inputs)}"
        if rep.failing_rules:
            wrong += f"  wrong forward-mode rule(s): {', '.join(rep.failing_rules)}"
        return wrong

    def box_line(self, name: str) -> str:
        """One box's line in the list of boxes: its node, kind, status and what is wrong."""
        rep = self.boxes[name]
        status = rep.status.upper()
        return f"{name:<14} {rep.box:<20} {status:<5} max rel {rep.max_rel_err:.2e}" + (
            self.box_wrong(name)
        )

    def diagnosis(self) -> list[str]:
        """Where to look: the first failing box and its table, or, when every box passes on
        its own although the end-to-end gradient is wrong, the Graph's accumulation."""
        first = self.first_failing_box
        if first:
            box = self.boxes[first]
            return [f"first failing box: '{first}' ({box.box})", str(box)]
        if not self.ok:
            return [
                "every box passes on its own, yet the end-to-end gradient is wrong: the "
                "Graph's accumulation, or a parameter shared in an unexpected way"
            ]
        return []

    def __str__(self) -> str:
        lines = [self.title(), "  " + header("parameter")]
        lines += ["  " + c.line() for c in self.parameters]
        if self.no_gradient:
            lines.append(f"  parameters that get no gradient at all: {', '.join(self.no_gradient)}")
        if self.boxes:
            lines.append("each box with the values recorded in the graph:")
            lines += ["  " + self.box_line(name) for name in self.boxes]
            lines += self.diagnosis()
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return graph_report_html(self)

    def __bool__(self) -> bool:
        return self.ok
