"""The playground inside a notebook: the same page and the same engine as a Jupyter widget.

    >>> import flowgraph.playground as playground
    >>> w = playground.widget(dataset="spirals", hidden="8,8")   # doctest: +SKIP
    >>> w                                                          # doctest: +SKIP

:class:`Widget` is an `anywidget <https://anywidget.dev>`_ (the ``notebooks`` extra). Its view
is the playground's own page: ``static/index.html``'s body, ``style.css`` and ``app.js``, read
from the package and sent to the browser as the widget's state (nothing is loaded from
anywhere else), run by ``static/widget.js`` in a shadow root. The page's requests travel as the
widget's messages; the kernel answers each as the playground's server does
(:func:`.routes.answer`, after the same checks of the body: :func:`.guard.decode` and the size
limits), on a few threads of its own so that a waiting picture never blocks the kernel.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .guard import MAX_BODY, RequestError, decode
from .routes import Sessions, answer, error
from .settings import SettingsError, parse

try:
    import anywidget
    import traitlets
except ImportError:  # the notebooks extra is not installed: Widget() says so
    anywidget = None  # type: ignore[assignment]  # mypy types the name as the module alone

__all__ = ["Widget", "widget", "Answers", "UPLOAD_MESSAGE"]

UPLOAD_MESSAGE = 1024 * 1024  # characters of an upload's message body (as the server's)


def _static(name: str) -> str:
    static = resources.files(__package__).joinpath("static")
    return static.joinpath(name).read_text(encoding="utf-8")


def page_body() -> str:
    """The page's HTML inside ``<body>``, without its ``<script>`` (the widget runs app.js)."""
    html = _static("index.html")
    body = html[html.index("<body>") + len("<body>") : html.index("</body>")]
    return re.sub(r"<script\b[^>]*>\s*</script>", "", body).strip()


class Answers:
    """The kernel's side of the page's messages: the playground's answers to them, checked as
    the server checks a request (without anywidget: what a test can drive directly)."""

    def __init__(self, *, timeout: float = 30.0, max_sessions: int = 8):
        self.sessions = Sessions(timeout=timeout, max_sessions=max_sessions)
        self.sessions.start_reaper()

    def handle(self, content: Any) -> dict[str, Any]:
        """The answer to one message of the page, ``{"rid", "method", "path", "body"}``:
        ``{"rid", "status", "body"}``, the body as the server would send it (text)."""
        rid = content.get("rid") if isinstance(content, dict) else None
        rid = rid if isinstance(rid, int) and not isinstance(rid, bool) else 0
        try:
            status, body = self._answer(content)[:2]
        except RequestError as e:
            status, body = e.status, error(str(e))
        except SettingsError as e:
            status, body = HTTPStatus.BAD_REQUEST, error(str(e))
        except Exception as e:  # a bug: say so on the page, keep answering
            status, body = 500, error(f"internal error: {type(e).__name__}: {e}")
        return {"rid": rid, "status": int(status), "body": body.decode("utf-8")}

    def _answer(self, content: Any) -> tuple:
        if not isinstance(content, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "a message must be a JSON object")
        method, path, raw = content.get("method"), content.get("path"), content.get("body", "")
        if method not in ("GET", "POST") or not isinstance(path, str) or not isinstance(raw, str):
            raise RequestError(HTTPStatus.BAD_REQUEST,
                               "a message takes method GET or POST, a path and a text body")
        url = urlsplit(path)
        if not url.path.startswith("/api/"):
            raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {path[:80]!r}")
        limit = UPLOAD_MESSAGE if url.path.endswith("/upload") else MAX_BODY
        if len(raw) > limit:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"request body of {len(raw)} characters refused (at most {limit})")
        body = decode(raw.encode("utf-8")) if method == "POST" else {}
        return answer(self.sessions, method, url.path, parse_qs(url.query), body)


if anywidget is not None:

    class Widget(Answers, anywidget.AnyWidget):
        """The playground as a notebook widget; ``settings`` as the page's query string takes
        them (``dataset="spirals"``, ``hidden="8,8"``, ``lr=0.1``, ...), checked now. Each
        view is a training session of its own, stopped when the view goes (or after
        ``timeout`` seconds without a word from it); :meth:`close` stops them all."""

        _esm = _static("widget.js")
        page = traitlets.Unicode().tag(sync=True)
        style = traitlets.Unicode().tag(sync=True)
        app = traitlets.Unicode().tag(sync=True)
        query = traitlets.Unicode("").tag(sync=True)

        def __init__(self, *, timeout: float = 30.0, max_sessions: int = 8, **settings: Any):
            query = parse(settings).to_query()  # a bad setting is one SettingsError, here
            anywidget.AnyWidget.__init__(self, page=page_body(), style=_static("style.css"),
                                         app=_static("app.js"), query=query)  # fmt: skip
            Answers.__init__(self, timeout=timeout, max_sessions=max_sessions)
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="playground-widget")
            self.on_msg(self._on_message)

        def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
            self._pool.submit(self._reply, content)

        def _reply(self, content: Any) -> None:
            reply = self.handle(content)
            if reply["rid"]:  # rid 0: nobody waits (a closing view)
                self.send(reply)

        def close(self) -> None:
            """Stop every view's training and close the widget."""
            if hasattr(self, "sessions"):  # not when __init__ refused its settings
                self.sessions.close_all()
                self._pool.shutdown(wait=False)
            super().close()

        def __repr__(self) -> str:
            return f"playground.Widget({self.query!r})"


else:

    class Widget:  # type: ignore[no-redef]
        """The playground as a notebook widget: it needs anywidget (the notebooks extra)."""

        def __init__(self, **settings: Any):
            raise ImportError("the playground's notebook widget needs anywidget: pip install "
                              "'flowgraph-autodiff[notebooks]'")


def widget(**settings: Any) -> Widget:
    """The playground as a notebook widget; ``settings`` as in the page's address, e.g.
    ``widget(dataset="spirals", hidden="8,8", speed=30)``."""
    return Widget(**settings)

