"""``flowgraph playground``: the lecture's browser demo, live, on flowgraph's own engine.

A small network learns 2-D data in this Python process (flowgraph's Graph, ``fg.mlp`` and
``fg.SGD``); the page in the browser is only a view of it. :mod:`.settings` checks what the
page asks for, :mod:`.problems` makes the data and features, :mod:`.network` the graph,
:mod:`.session` runs training (one session per browser tab), :mod:`.server` serves the page
and its JSON endpoints with the standard library alone (:mod:`.routes` answers them);
:mod:`.notebook` shows the same page in a notebook (``flowgraph.playground.widget()``);
``static/`` holds the page, its script and its style, all served from the package (nothing
is loaded from the network).
"""

from .session import Run, Session
from .settings import Settings, SettingsError, parse

__all__ = ["Run", "Session", "Settings", "SettingsError", "parse", "serve", "Playground",
           "Widget", "widget"]  # fmt: skip


def __getattr__(name):  # the server and the widget are imported only when asked for
    if name in ("serve", "Playground"):
        from . import server

        return getattr(server, name)
    if name in ("Widget", "widget"):  # anywidget: the notebooks extra
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(name)
