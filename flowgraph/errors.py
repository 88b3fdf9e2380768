"""Exceptions raised by flowgraph. Each message names the box, the node and the shapes involved."""

from __future__ import annotations


class FlowgraphError(Exception):
    """Base class of every error flowgraph raises on purpose."""


class GraphError(FlowgraphError):
    """The graph is malformed: duplicate names, a cycle, a box called with the wrong children."""


class FeedError(FlowgraphError, KeyError):
    """A feed is missing an Input, names an unknown one, or holds something that is not an array."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ShapeError(FlowgraphError, ValueError):
    """Arrays of incompatible shapes reached a box."""


class LabelError(FlowgraphError, ValueError):
    """Class labels that are not integers, or lie outside [0, C)."""


class NonFiniteError(FlowgraphError, FloatingPointError):
    """In check_finite mode: a box produced NaN or inf."""


class BoxError(FlowgraphError):
    """A box's fprop or bprop failed; the message says which node and which shapes."""


class DataError(FlowgraphError, ValueError):
    """Data fed to a Model or to training is unusable: empty, NaN or inf, arrays of unequal
    lengths, strings; the message names the array (and the first bad index)."""


class ModelError(FlowgraphError, ValueError):
    """A Model asked for something its graph does not have (a classification output, an Input)."""


class JVPError(FlowgraphError, ValueError):
    """Forward mode cannot run: a box without forward-mode rules, a tangent of the wrong shape,
    or a tangent for a node that is not an Input or a Parameter of the graph."""
