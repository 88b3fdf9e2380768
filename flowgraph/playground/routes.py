"""The playground's answers, whoever carries the request: :class:`Sessions` (the tabs' training
sessions) and :func:`answer` (a request's path and JSON body -> status and bytes). The web
server (:mod:`.server`) calls them for HTTP requests; the notebook widget (:mod:`.notebook`)
for the same requests sent over the widget's messages, so both run the same page.

Endpoints (every answer JSON unless said; an error is ``{"error": sentence}``, a 4xx):

    GET  /                          the page (static/index.html); /static/NAME its files
    POST /api/session               {"settings": {...}} -> {id, settings, query, meta, frame}
    GET  /api/s/ID/frame?after=V    the latest picture once its version exceeds V (waits <= 1 s);
                                    &graph=0 when the flow graph is off screen (no `dot` runs)
    POST /api/s/ID/control          {"action": play | pause | step | epoch | reset | check}
    POST /api/s/ID/settings         {"settings": {...}}: a new run -> {settings, query, meta, frame}
    POST /api/s/ID/point            {"x1", "x2", "label"}: a clicked training point
    POST /api/s/ID/upload           {"csv": text}: the tab's own points (x1, x2, label), trained on
    GET  /api/s/ID/graph.svg        flowgraph's SVG of the graph at the current step
    POST /api/s/ID/close            the tab is closing: stop its training now
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from http import HTTPStatus
from importlib import resources
from typing import Any

from .guard import RequestError, fields, upload_points
from .session import Session
from .settings import UPLOAD, Settings, parse

__all__ = ["Sessions", "answer", "static_file", "BODIES", "REQUIRED", "STATIC_TYPES", "error"]

NUMBER = (int, float, str)  # a JSON number, or the page's text of one (settings.parse reads it)
# the fields each POST endpoint takes, of which types; `settings.parse` checks their values
BODIES: dict[str, dict[str, tuple[type, ...]]] = {
    "session": {"settings": (dict,)},
    "control": {"action": (str,)},
    "settings": {"settings": (dict,)},
    "point": {"x1": NUMBER, "x2": NUMBER, "label": NUMBER},
    "upload": {"csv": (str,)},
    "close": {},
}
REQUIRED = {"control": ("action",), "point": ("x1", "x2", "label"), "upload": ("csv",)}
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def static_file(name: str) -> bytes | None:
    """A file of static/ by its plain name (letters, digits, ``-``, ``_``, one dot)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.[a-z]{1,8}", name):
        return None
    try:
        return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
    except OSError:
        return None


class Sessions:
    """The training sessions of the open tabs (or widgets), by id.

    ``timeout``: seconds without a request after which a session stops (once
    :meth:`start_reaper` runs); ``max_sessions``: how many may train at once; ``fps``:
    pictures per second at most."""

    def __init__(self, *, timeout: float = 6.0, max_sessions: int = 32, fps: float = 30.0):
        self.timeout, self.max_sessions, self.fps = timeout, max_sessions, fps
        self.sessions: dict[str, Session | None] = {}  # None: reserved, being built
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def create(self, settings: Settings) -> Session:
        with self._lock:
            if len(self.sessions) >= self.max_sessions:
                raise RequestError(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    f"{len(self.sessions)} tabs are already training (at most "
                    f"{self.max_sessions}); close one and reload",
                )
            sid = secrets.token_hex(8)
            self.sessions[sid] = None  # reserved while the run is built outside the lock
        try:
            session = Session(sid, settings, fps=self.fps)
        except BaseException:
            with self._lock:
                del self.sessions[sid]
            raise
        with self._lock:
            self.sessions[sid] = session
        return session

    def get(self, sid: str) -> Session:
        with self._lock:
            session = self.sessions.get(sid)
        if session is None:
            raise RequestError(
                HTTPStatus.NOT_FOUND,
                f"no training session {sid!r} (a tab's run stops after {self.timeout:g} s "
                "without contact); reload the page",
            )
        session.touch()
        return session

    def close_session(self, sid: str) -> None:
        with self._lock:
            session = self.sessions.pop(sid, None)
        if session is not None:
            session.close()

    def start_reaper(self) -> None:
        """Stop and forget, from a thread, each session silent for ``timeout`` seconds."""
        threading.Thread(target=self._reap, name="playground-reaper", daemon=True).start()

    def _reap(self) -> None:
        while not self._stop.wait(min(1.0, self.timeout / 3)):
            now = time.monotonic()
            with self._lock:
                stale = [
                    sid
                    for sid, s in self.sessions.items()
                    if s is not None and now - s.last_seen > self.timeout
                ]
            for sid in stale:
                self.close_session(sid)

    def close_all(self) -> None:
        """Stop the reaper and every session's training."""
        self._stop.set()
        with self._lock:
            sessions = [s for s in self.sessions.values() if s is not None]
            self.sessions.clear()
        for s in sessions:
            s.close()
        for s in sessions:
            s.join(2)


def answer(pg: Sessions, method: str, path: str, query: dict[str, list[str]],
           body: dict[str, Any]) -> tuple:  # fmt: skip
    """``(status, body bytes[, content type])`` of a request for ``path`` (its ``query`` and,
    for a POST, its decoded JSON ``body``). A refusal raises RequestError or SettingsError."""
    parts = [p for p in path.split("/") if p]
    if method == "POST":
        return _post(pg, parts, body, path)
    return _get(pg, parts, query, path)


def _get(pg: Sessions, parts: list[str], query: dict[str, list[str]], path: str) -> tuple:
    if not parts:
        parts = ["static", "index.html"]
    if parts == ["favicon.ico"]:
        parts = ["static", "favicon.svg"]
    if parts[0] == "static" and len(parts) == 2:
        data = static_file(parts[1])
        suffix = "." + parts[1].rsplit(".", 1)[-1]
        if data is None or suffix not in STATIC_TYPES:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no file {parts[1][:80]!r}")
        return 200, data, STATIC_TYPES[suffix]
    if len(parts) == 4 and parts[:2] == ["api", "s"]:
        session = pg.get(parts[2])
        if parts[3] == "frame":
            after = _int_arg(query, "after", -1)
            # graph=0: the flow graph is off screen, skip its `dot` runs while playing
            session.wants_graph = _int_arg(query, "graph", 1) != 0
            return 200, session.wait_frame(after, timeout=1.0)
        if parts[3] == "graph.svg":
            svg = session.svg
            if svg is None:
                raise RequestError(HTTPStatus.NOT_FOUND, session.svg_note or "no picture yet")
            return 200, svg.encode(), "image/svg+xml"
    raise RequestError(HTTPStatus.NOT_FOUND, f"no page {path[:80]!r}")


def _post(pg: Sessions, parts: list[str], body: dict[str, Any], path: str) -> tuple:
    """POST /api/session or /api/s/ID/NAME, once its body has NAME's fields (BODIES)."""
    if parts == ["api", "session"]:
        name = "session"
    elif len(parts) == 4 and parts[:2] == ["api", "s"] and parts[3] in BODIES:
        name = parts[3]
    else:
        raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {path[:80]!r}")
    body = fields(body, name, BODIES[name], REQUIRED.get(name, ()))
    if name == "session":
        return _json(described(pg.create(parse(body.get("settings")))))
    if name == "close":
        pg.close_session(parts[2])
        return _json({"closed": True})
    session = pg.get(parts[2])
    if name == "control":
        return _control(session, body["action"])
    if name == "settings":
        session.reset(parse(body.get("settings"), upload=session.upload))
    elif name == "upload":
        session.upload, session.upload_classes = upload_points(body["csv"])
        raw = {**session.settings.to_dict(), "problem": "classification", "dataset": UPLOAD,
               "points": []}  # fmt: skip
        session.reset(parse(raw, upload=session.upload))
    else:  # point
        session.set_points(session.settings.with_point(body["x1"], body["x2"], body["label"]))
    return _json(described(session))


def _control(session: Session, action: str) -> tuple:
    simple = {
        "play": session.play,
        "pause": session.pause,
        "step": session.step,
        "epoch": session.epoch,
        "reset": session.reset,
    }
    if action == "check":
        return _json(session.check())
    if action not in simple:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"unknown action {action[:40]!r}; actions are {', '.join([*simple, 'check'])}",
        )
    simple[action]()
    return 200, session.frame_bytes


def _json(obj: Any, status: int = 200) -> tuple[int, bytes]:
    return status, json.dumps(obj, separators=(",", ":")).encode()


def error(message: str) -> bytes:
    """``{"error": sentence}``, one line, the sentence cut at 300 characters."""
    message = " ".join(message.split())
    return json.dumps({"error": message if len(message) <= 300 else message[:297] + "..."}).encode()


def described(session: Session) -> dict[str, Any]:
    """What the page needs to show a session: its settings, the data and the first picture."""
    with session.lock:
        return {
            "id": session.id,
            "settings": session.settings.to_dict(),
            "query": session.settings.to_query(),
            "meta": session.run.meta(),
            "frame": json.loads(session.frame_bytes),
            "upload": {"rows": len(session.upload), "classes": session.upload_classes},
        }


def _int_arg(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{name} must be a whole number") from None
