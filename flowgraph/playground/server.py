"""The playground's web server: the standard library's ThreadingHTTPServer, JSON endpoints,
long polling, and the page's files from the package. No dependency beyond flowgraph's own.

What each request is answered is :mod:`.routes`' (:func:`.routes.answer`, shared with the
notebook widget). A session no page has asked anything for ``timeout`` seconds (a closed tab)
is stopped and forgotten by a reaper thread. What a request must be to be answered (its Host,
Origin and Sec-Fetch-Site; its body's size, JSON and fields) is :mod:`.guard`'s; a malformed
one is a 4xx with one sentence, never a 500. Connections: a socket silent for ``idle_timeout``
seconds is closed, at most ``max_connections`` are served at once (one thread each) and one
more is answered 503 and closed; a client that goes away mid-request is forgotten without a word.
"""

from __future__ import annotations

import sys
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .guard import (
    MAX_BODY,
    Disconnected,
    GuardedHandler,
    GuardedServer,
    RequestError,
    allowed_hosts,
    check_sender,
    decode,
    is_loopback,
    read_body,
)
from .routes import Sessions, answer, error
from .settings import SettingsError

__all__ = ["Playground", "serve", "RequestError", "limit_blas_threads"]

IDLE_TIMEOUT = 20.0  # seconds a connection may stay silent; the page polls every second
MAX_CONNECTIONS = 64  # a browser opens at most 6 per server, over all its tabs
UPLOAD_BODY = 1024 * 1024  # bytes of an upload's body (a CSV of 5,000 points and its JSON)


class Playground(Sessions):
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
        super().__init__(timeout=timeout, max_sessions=max_sessions, fps=fps)
        handler = type("Handler", (_Handler,), {"playground": self, "timeout": idle_timeout})
        self.httpd = GuardedServer((host, port), handler, max_connections)
        self.host, self.port = self.httpd.server_address[:2]
        self.bound = str(host)  # as given: a Host header may name it
        self.start_reaper()
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
        self.close_all()
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
            self._send(code, error(message or HTTPStatus(code).phrase))
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
            reply = self._answer(method)
        except Disconnected:
            self.close_connection = True
            return
        except RequestError as e:
            self.close_connection = True  # a refused body may be left unread on the socket
            reply = (e.status, error(str(e)))
        except SettingsError as e:
            reply = (HTTPStatus.BAD_REQUEST, error(str(e)))
        except Exception as e:  # a bug: say so on the page, keep serving
            reply = (500, error(f"internal error: {type(e).__name__}: {e}"))
        try:
            self._send(*reply)
        except (ConnectionError, TimeoutError):  # the tab went away mid-answer
            self.close_connection = True

    def _answer(self, method: str) -> tuple:
        """(status, body[, content type]) of a request that passed :func:`.guard.check_sender`."""
        url = urlsplit(self.path)
        local = self.connection.getsockname()[0]
        check_sender(self.headers, self.playground.allowed_hosts(local), method, url.path)
        if method == "POST":
            limit = UPLOAD_BODY if url.path.endswith("/upload") else MAX_BODY
            body = decode(read_body(self.rfile, self.headers, limit))
            return answer(self.playground, "POST", url.path, {}, body)
        if self.headers.get("Content-Length", "0").strip() not in ("", "0"):
            self.close_connection = True  # a GET's body is never read: do not parse it next
        return answer(self.playground, "GET", url.path, parse_qs(url.query), {})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


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
