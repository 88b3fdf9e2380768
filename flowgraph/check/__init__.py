"""Gradient checking: central finite differences against every derivative a box defines."""

from .box import (
    ATOL,
    EPS,
    RTOL,
    BoxReport,
    GraphReport,
    InputCheck,
    PathCheck,
    all_box_classes,
    check_box,
    check_graph,
)

__all__ = [
    "InputCheck",
    "PathCheck",
    "BoxReport",
    "GraphReport",
    "check_box",
    "check_graph",
    "all_box_classes",
    "EPS",
    "RTOL",
    "ATOL",
]
