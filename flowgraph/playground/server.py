"""The playground's web server: the standard library's ThreadingHTTPServer, JSON endpoints,
long polling, and the page's files from the package. No dependency beyond flowgraph's own.

Endpoints (every answer JSON unless said; an error is ``{"error": sentence}`` with status 4xx,
which the page shows):

    GET  /                          the page (static/index.html); /static/NAME its files
    POST /api/session               {"settings": {...}} -> {id, settings, query, meta, frame}
    GET  /api/s/ID/frame?after=V    the latest picture once its version exceeds V (waits <= 1 s);
                                    &graph=0 when the flow graph is off screen (no `dot` runs)
    POST /api/s/ID/control          {"action": play | pause | step | epoch | reset | check}
    POST /api/s/ID/settings         {"settings": {...}}: a new run -> {settings, query, meta, frame}
    POST /api/s/ID/point            {"x1", "x2", "label"}: a clicked training point
    GET  /api/s/ID/graph.svg        flowgraph's SVG of the graph at the current step
    POST /api/s/ID/close            the tab is closing: stop its training now

A session no page has asked anything for ``timeout`` seconds (a closed tab) is stopped and
forgotten by a reaper thread. What a request must be to be answered (its Host, Origin and
Sec-Fetch-Site; its body's size, JSON and fields) is :mod:`.guard`'s; a malformed one is a 4xx
with one sentence, never a 500. Connections: a socket silent for ``idle_timeout`` seconds is
closed, at most ``max_connections`` are served at once (one thread each) and one more is
answered 503 and closed; a client that goes away mid-request is forgotten without a word.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .guard import (
    Disconnected,
    GuardedHandler,
    GuardedServer,
    RequestError,
    allowed_hosts,
    check_sender,
    decode,
    fields,
    is_loopback,
    read_body,
)
from .session import Session
from .settings import Settings, SettingsError, parse

__all__ = ["Playground", "serve", "RequestError", "limit_blas_threads"]

IDLE_TIMEOUT = 20.0  # seconds a connection may stay silent; the page polls every second
MAX_CONNECTIONS = 64  # a browser opens at most 6 per server, over all its tabs
NUMBER = (int, float, str)  # a JSON number, or the page's text of one (settings.parse reads it)
# the fields each POST endpoint takes, of which types; `settings.parse` checks their values
BODIES: dict[str, dict[str, tuple[type, ...]]] = {
    "session": {"settings": (dict,)},
    "control": {"action": (str,)},
    "settings": {"settings": (dict,)},
    "point": {"x1": NUMBER, "x2": NUMBER, "label": NUMBER},
    "close": {},
}
REQUIRED = {"control": ("action",), "point": ("x1", "x2", "label")}
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _static(name: str) -> bytes | None:
    """A file of static/ by its plain name (letters, digits, ``-``, ``_``, one dot)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}\.[a-z]{1,8}", name):
        return None
    try:
        return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()
    except OSError:
        return None


class Playground:
    """The sessions of one server, and the server itself once :meth:`start` or :meth:`serve`.

    ``timeout``: seconds without a request after which a tab's session stops;
    ``max_sessions``: how many tabs may train at once; ``fps``: pictures per second at most;
    ``idle_timeout``: seconds a connection may stay silent before it is closed;
    ``max_connections``: connections served at once (one more is answered 503)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        timeout: float = 6.0,
        max_sessions: int = 32,
        fps: float = 30.0,
        idle_timeout: float = IDLE_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ):
        self.timeout, self.max_sessions, self.fps = timeout, max_sessions, fps
        self.sessions: dict[str, Session | None] = {}  # None: reserved while a run is built
        self._lock = threading.Lock()
        self._stop = threading.Event()
        handler = type("Handler", (_Handler,), {"playground": self, "timeout": idle_timeout})
        self.httpd = GuardedServer((host, port), handler, max_connections)
        self.host, self.port = self.httpd.server_address[:2]
        self.bound = str(host)  # as given: a Host header may name it
        self._reaper = threading.Thread(target=self._reap, name="playground-reaper", daemon=True)
        self._reaper.start()
        self._thread: threading.Thread | None = None

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server."""
        return is_loopback(str(self.host))

    @property
    def url(self) -> str:
        """The page's address; for a wildcard address (0.0.0.0, ``::``), its loopback one."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(str(self.host), str(self.host))
        host = host if ":" not in host else f"[{host}]"
        return f"http://{host}:{self.port}/"

    def allowed_hosts(self, local: str | None) -> frozenset[str]:
        """The Host names answered on a connection that reached local address ``local``."""
        return allowed_hosts(self.bound, local) | {str(self.host).lower()}

    # -- sessions ---------------------------------------------------------------------------
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

    # -- running ----------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve until :meth:`shutdown` (or KeyboardInterrupt in this thread); then clean up."""
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self._cleanup()

    def start(self) -> Playground:
        """Serve from a background thread (tests, benchmarks); returns self."""
        self._thread = threading.Thread(target=self.serve, name="playground-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving, stop every session's training, close the socket."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
        else:
            self._cleanup()

    def _cleanup(self) -> None:
        self._stop.set()
        with self._lock:
            sessions = [s for s in self.sessions.values() if s is not None]
            self.sessions.clear()
        for s in sessions:
            s.close()
        for s in sessions:
            s.join(2)
        self.httpd.server_close()


class _Handler(GuardedHandler):
    playground: Playground
    server_version = "flowgraph-playground"
    protocol_version = "HTTP/1.1"  # keep-alive: the page's polls reuse one connection

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints the URL
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """http.server's own refusals (a malformed request line or header, a method other
        than GET, HEAD and POST) as ``{"error": sentence}`` too, with a status line even to
        a request line that reads as HTTP/0.9."""
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        try:
            self._send(code, _error(message or HTTPStatus(code).phrase))
        except (ConnectionError, TimeoutError):
            pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        """Answer one request: its route's answer, or a 4xx (500: a bug) with one sentence;
        nothing when the client went away (or was cut for sending its headers too slowly)."""
        if not self.headers_in_time():
            return
        try:
            answer = self._answer(method)
        except Disconnected:
            self.close_connection = True
            return
        except RequestError as e:
            self.close_connection = True  # a refused body may be left unread on the socket
            answer = (e.status, _error(str(e)))
        except SettingsError as e:
            answer = (HTTPStatus.BAD_REQUEST, _error(str(e)))
        except Exception as e:  # a bug: say so on the page, keep serving
            answer = (500, _error(f"internal error: {type(e).__name__}: {e}"))
        try:
            self._send(*answer)
        except (ConnectionError, TimeoutError):  # the tab went away mid-answer
            self.close_connection = True

    def _answer(self, method: str) -> tuple:
        """(status, body[, content type]) of a request that passed :func:`.guard.check_sender`."""
        url = urlsplit(self.path)
        local = self.connection.getsockname()[0]
        check_sender(self.headers, self.playground.allowed_hosts(local), method, url.path)
        parts = [p for p in url.path.split("/") if p]
        if method == "POST":
            return self._post(parts, decode(read_body(self.rfile, self.headers)))
        if self.headers.get("Content-Length", "0").strip() not in ("", "0"):
            self.close_connection = True  # a GET's body is never read: do not parse it next
        return self._get(parts, parse_qs(url.query))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- routes -----------------------------------------------------------------------------
    def _get(self, parts: list[str], query: dict[str, list[str]]) -> tuple:
        if not parts:
            parts = ["static", "index.html"]
        if parts == ["favicon.ico"]:
            parts = ["static", "favicon.svg"]
        if parts[0] == "static" and len(parts) == 2:
            data = _static(parts[1])
            suffix = "." + parts[1].rsplit(".", 1)[-1]
            if data is None or suffix not in STATIC_TYPES:
                raise RequestError(HTTPStatus.NOT_FOUND, f"no file {parts[1][:80]!r}")
            return 200, data, STATIC_TYPES[suffix]
        if len(parts) == 4 and parts[:2] == ["api", "s"]:
            session = self.playground.get(parts[2])
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
        raise RequestError(HTTPStatus.NOT_FOUND, f"no page {self.path[:80]!r}")

    def _post(self, parts: list[str], body: dict[str, Any]) -> tuple:
        """POST /api/session or /api/s/ID/NAME, once its body has NAME's fields (BODIES)."""
        pg = self.playground
        if parts == ["api", "session"]:
            name = "session"
        elif len(parts) == 4 and parts[:2] == ["api", "s"] and parts[3] in BODIES:
            name = parts[3]
        else:
            raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {self.path[:80]!r}")
        body = fields(body, name, BODIES[name], REQUIRED.get(name, ()))
        if name == "session":
            return _json(_described(pg.create(parse(body.get("settings")))))
        if name == "close":
            pg.close_session(parts[2])
            return _json({"closed": True})
        session = pg.get(parts[2])
        if name == "control":
            return self._control(session, body["action"])
        if name == "settings":
            session.reset(parse(body.get("settings")))
        else:  # point
            session.set_points(session.settings.with_point(body["x1"], body["x2"], body["label"]))
        return _json(_described(session))

    def _control(self, session: Session, action: str) -> tuple:
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


def _error(message: str) -> bytes:
    """``{"error": sentence}``, one line, the sentence cut at 300 characters."""
    message = " ".join(message.split())
    return json.dumps({"error": message if len(message) <= 300 else message[:297] + "..."}).encode()


def _described(session: Session) -> dict[str, Any]:
    with session.lock:
        return {
            "id": session.id,
            "settings": session.settings.to_dict(),
            "query": session.settings.to_query(),
            "meta": session.run.meta(),
            "frame": json.loads(session.frame_bytes),
        }


def _int_arg(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"{name} must be a whole number") from None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def limit_blas_threads() -> bool:
    """One BLAS thread for the whole process (threadpoolctl, from the ``playground`` extra).

    The playground's matrices are tiny (4096 x 16 at most); with BLAS's default of a thread
    per core, each product waits for a second core that the server's own threads and the
    browser are using, which made a picture 3 to 8 times slower on a 2-core machine. Returns
    False when threadpoolctl is not installed (everything works, more slowly)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=1)
    return True


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    open_browser: bool = True,
    announce=print,
    on_ready=None,
    warn=None,
) -> None:
    """Serve the playground until Ctrl-C or SIGTERM, printing its URL and opening a browser
    (``webbrowser.open``); ``on_ready(playground)`` is called once the socket is bound.
    Listening beyond loopback (``0.0.0.0``, ``::``, a network address), ``warn`` (default: a
    line on stderr) says so."""
    if warn is None:
        warn = _stderr
    import signal
    import webbrowser

    pg = Playground(host, port)
    if not limit_blas_threads():
        announce("(install threadpoolctl, or the playground extra, for faster pictures)")
    announce(f"flowgraph playground: {pg.url}  (Ctrl-C stops it)")
    if not pg.loopback:
        warn(
            f"flowgraph playground: warning: listening on {pg.host} port {pg.port}, beyond this "  # type: ignore[str-bytes-safe]
            "machine: anyone who can reach it may train networks on this computer "
            "(--host 127.0.0.1 serves this machine only)"
        )

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_term)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(pg.url,), daemon=True).start()
    if on_ready is not None:
        on_ready(pg)
    try:
        pg.serve()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    announce("flowgraph playground: stopped")
