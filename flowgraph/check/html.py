"""The checker's reports as HTML tables, as Jupyter shows them (``_repr_html_``).

The tables hold the rows of the text reports (:meth:`InputCheck.fields
<flowgraph.check.report.InputCheck.fields>`), escaped; a status word is coloured by what it
says: ``PASS`` green, ``FAIL`` red, ``KINK`` (passes except at kinks) amber, ``SKIP`` grey.
A report is read through its public attributes only, so this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

__all__ = [
    "STATUS_COLOURS",
    "COLUMNS",
    "status_html",
    "text_html",
    "table_html",
    "checks_html",
    "box_report_html",
    "graph_report_html",
    "jvp_report_html",
]

STATUS_COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "KINK": "#9a6700", "SKIP": "#6e7781"}
COLUMNS = ("shape", "max abs", "max rel", "elements", "status", "worst", "note")


def status_html(status: str) -> str:
    """A status word (any case) in bold capitals, in its colour from ``STATUS_COLOURS``."""
    word = status.upper()
    colour = STATUS_COLOURS.get(word, "inherit")
    return f'<span style="color:{colour};font-weight:bold">{escape(word)}</span>'


def text_html(text: str, status: str = "", after: str = "") -> str:
    """A line of a report as a paragraph: ``text``, then ``status`` coloured, then ``after``
    (all escaped)."""
    inner = escape(text) + (status_html(status) if status else "") + escape(after)
    return f'<p style="margin:0.3em 0;white-space:pre-wrap">{inner}</p>'


def table_html(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a header row ``head`` (text) and ``rows`` of cells (HTML: escaped, or
    made by :func:`status_html`)."""
    th = "".join(f'<th style="text-align:left">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def checks_html(what: str, checks: Sequence[Any]) -> str:
    """The rows of InputChecks or JVPChecks (anything with ``fields()``) as a table whose first
    column is headed ``what``; the status coloured."""
    rows = []
    for c in checks:
        f = c.fields()
        cells = [f.label, f.shape, f.max_abs, f.max_rel, f.elements]
        rows.append([escape(x) for x in cells] + [status_html(f.status)]
                    + [escape(f.worst), escape(f.note)])
    return table_html((what,) + COLUMNS, rows)


def _report(parts: Sequence[str]) -> str:
    return '<div class="flowgraph-report">' + "".join(parts) + "</div>"


def jvp_report_html(report: Any) -> str:
    """A :class:`~flowgraph.check.report.JVPReport`: its verdict, and a row per rule."""
    title = text_html(f"{report.box} forward-mode rules: ", *report.verdict_parts())
    return _report([title, checks_html("rule", report.checks)])


def box_report_html(report: Any) -> str:
    """A :class:`~flowgraph.check.report.BoxReport`: its title, a row per input, the paths of
    bprop_needed (each failing one named) and the forward-mode rules."""
    what, status, failing = report.title_parts()
    parts = [text_html(f"{what}: ", status, failing)]
    if not report.inputs and not report.paths:
        return _report(parts + [text_html(report.NOTHING_CHECKED)])
    parts.append(checks_html("input", report.inputs))
    if report.paths:
        parts.append(text_html(report.paths_line()))
        parts += [text_html(f"{p.line()}  ", "FAIL") for p in report.failing_paths]
    if report.planned:
        parts.append(text_html(report.planned_line()))
        parts += [text_html(f"{p.line()}  ", "FAIL") for p in report.planned if not p.ok]
    if report.jvp_title():
        parts.append(text_html(*report.jvp_title_parts()))
    if report.jvp is not None:
        parts.append(checks_html("rule", report.jvp.checks))
    return _report(parts)


def graph_report_html(report: Any) -> str:
    """A :class:`~flowgraph.check.report.GraphReport`: a row per parameter, a row per box with
    its status, and the first failing box's own table."""
    what, status = report.title_parts()
    parts = [text_html(f"{what}: ", status), checks_html("parameter", report.parameters)]
    if report.no_gradient:
        names = ", ".join(report.no_gradient)
        parts.append(text_html(f"parameters that get no gradient at all: {names}"))
    if report.boxes:
        parts.append(text_html("each box with the values recorded in the graph:"))
        rows = [
            [escape(name), escape(rep.box), status_html(rep.status), f"{rep.max_rel_err:.2e}"]
            + [escape(report.box_wrong(name).strip())]
            for name, rep in report.boxes.items()
        ]
        parts.append(table_html(("node", "box", "status", "max rel", "wrong"), rows))
        first = report.first_failing_box
        if first:
            parts.append(text_html(f"first failing box: '{first}' ({report.boxes[first].box})"))
            parts.append(box_report_html(report.boxes[first]))
        else:
            parts += [text_html(line) for line in report.diagnosis()]
    return _report(parts)
