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
forgotten by a reaper thread. Bodies are limited to 256 KiB, sessions to ``max_sessions``; a
request for another host name than the one served (DNS rebinding) is refused.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .session import Session
from .settings import Settings, SettingsError, parse

__all__ = ["Playground", "serve", "RequestError", "limit_blas_threads"]

MAX_BODY = 256 * 1024
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


class RequestError(Exception):
    """A request the server refuses: the status and a sentence for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _static(name: str) -> bytes | None:
    if "/" in name or "\\" in name or name.startswith(".") or not name:
        return None
    try:
        return resources.files(__package__).joinpath("static", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class Playground:
    """The sessions of one server, and the server itself once :meth:`start` or :meth:`serve`.

    ``timeout``: seconds without a request after which a tab's session stops;
    ``max_sessions``: how many tabs may train at once; ``fps``: pictures per second at most."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        timeout: float = 6.0,
        max_sessions: int = 32,
        fps: float = 30.0,
    ):
        self.timeout, self.max_sessions, self.fps = timeout, max_sessions, fps
        self.sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        handler = type("Handler", (_Handler,), {"playground": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._reaper = threading.Thread(target=self._reap, name="playground-reaper", daemon=True)
        self._reaper.start()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = self.host if ":" not in str(self.host) else f"[{self.host}]"
        return f"http://{host}:{self.port}/"

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


class _Handler(BaseHTTPRequestHandler):
    playground: Playground
    server_version = "flowgraph-playground"
    protocol_version = "HTTP/1.1"  # keep-alive: the page's polls reuse one connection

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints the URL
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: Any, status: int = 200) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode())

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise RequestError(HTTPStatus.BAD_REQUEST, "malformed Content-Length") from None
        if length > MAX_BODY or length < 0:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"request body of {length} bytes refused (at most {MAX_BODY})",
            )
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"malformed JSON in the request: {e}"
            ) from None
        if not isinstance(body, dict):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, f"the request must be a JSON object, got {raw[:60]!r}"
            )
        return body

    def _check_host(self, method: str) -> None:
        """Refuse another host name (DNS rebinding) and a POST from another site's page."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        bound = str(self.playground.host)
        allowed = {"127.0.0.1", "localhost", "::1", bound}
        if bound not in ("0.0.0.0", "::") and host not in allowed:  # 0.0.0.0: any name
            raise RequestError(HTTPStatus.FORBIDDEN, f"unexpected Host header {host!r}")
        origin = self.headers.get("Origin")
        if method == "POST" and origin is not None:
            if urlsplit(origin).netloc.lower() != (self.headers.get("Host") or "").lower():
                raise RequestError(HTTPStatus.FORBIDDEN, f"requests from {origin} are refused")

    def _dispatch(self, method: str) -> None:
        try:
            self._check_host(method)
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            if method == "POST":
                body = self._body()
                self._post(parts, body)
            else:
                self._get(parts, parse_qs(url.query))
        except RequestError as e:
            self.close_connection = True  # a refused body may be left unread on the socket
            self._json({"error": str(e)}, e.status)
        except SettingsError as e:
            self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tab went away mid-answer
        except Exception as e:  # a bug: say so on the page, keep serving
            self._json({"error": f"internal error: {type(e).__name__}: {e}"}, 500)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- routes -----------------------------------------------------------------------------
    def _get(self, parts: list[str], query: dict[str, list[str]]) -> None:
        if not parts:
            parts = ["static", "index.html"]
        if parts == ["favicon.ico"]:
            parts = ["static", "favicon.svg"]
        if parts[0] == "static" and len(parts) == 2:
            data = _static(parts[1])
            suffix = "." + parts[1].rsplit(".", 1)[-1]
            if data is None or suffix not in STATIC_TYPES:
                raise RequestError(HTTPStatus.NOT_FOUND, f"no file {parts[1]!r}")
            self._send(200, data, STATIC_TYPES[suffix])
            return
        if len(parts) == 4 and parts[:2] == ["api", "s"]:
            session = self.playground.get(parts[2])
            if parts[3] == "frame":
                after = _int_arg(query, "after", -1)
                # graph=0: the flow graph is off screen, skip its `dot` runs while playing
                session.wants_graph = _int_arg(query, "graph", 1) != 0
                self._send(200, session.wait_frame(after, timeout=1.0))
                return
            if parts[3] == "graph.svg":
                svg = session.svg
                if svg is None:
                    raise RequestError(HTTPStatus.NOT_FOUND, session.svg_note or "no picture yet")
                self._send(200, svg.encode(), "image/svg+xml")
                return
        raise RequestError(HTTPStatus.NOT_FOUND, f"no page {self.path!r}")

    def _post(self, parts: list[str], body: dict[str, Any]) -> None:
        pg = self.playground
        if parts == ["api", "session"]:
            session = pg.create(parse(body.get("settings")))
            self._json(_described(session))
            return
        if len(parts) == 4 and parts[:2] == ["api", "s"]:
            if parts[3] == "close":
                pg.close_session(parts[2])
                self._json({"closed": True})
                return
            session = pg.get(parts[2])
            if parts[3] == "control":
                self._control(session, body.get("action"))
                return
            if parts[3] == "settings":
                session.reset(parse(body.get("settings")))
                self._json(_described(session))
                return
            if parts[3] == "point":
                missing = [k for k in ("x1", "x2", "label") if k not in body]
                if missing:
                    raise RequestError(HTTPStatus.BAD_REQUEST, f"point lacks {', '.join(missing)}")
                session.set_points(session.settings.with_point(body["x1"], body["x2"],
                                                               body["label"]))  # fmt: skip
                self._json(_described(session))
                return
        raise RequestError(HTTPStatus.NOT_FOUND, f"no endpoint {self.path!r}")

    def _control(self, session: Session, action: Any) -> None:
        simple = {
            "play": session.play,
            "pause": session.pause,
            "step": session.step,
            "epoch": session.epoch,
            "reset": session.reset,
        }
        if action == "check":
            self._json(session.check())
            return
        if action not in simple:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"unknown action {action!r}; actions are {', '.join([*simple, 'check'])}",
            )
        simple[action]()
        self._send(200, session.frame_bytes)


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
) -> None:
    """Serve the playground until Ctrl-C or SIGTERM, printing its URL and opening a browser
    (``webbrowser.open``); ``on_ready(playground)`` is called once the socket is bound."""
    import signal
    import webbrowser

    pg = Playground(host, port)
    if not limit_blas_threads():
        announce("(install threadpoolctl, or the playground extra, for faster pictures)")
    announce(f"flowgraph playground: {pg.url}  (Ctrl-C stops it)")

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
