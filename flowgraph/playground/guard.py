"""What the playground's server checks before it trusts a request: who asks (the Host,
Origin and Sec-Fetch-Site headers) and what is asked (the body's bytes, JSON and shape).

The playground runs training on the machine that serves it, so a request is answered only
when it comes from the page this server sent:

- **Host** must name this server: a loopback name (``localhost``, ``127.0.0.1``, ``::1``), the
  address the request's connection reached, the address the server was bound to, or this
  machine's host name. Any other name is DNS rebinding (a web page whose own host name was
  made to resolve to this machine), refused on every address, 0.0.0.0 and ``::`` included.
- **Origin**, when a browser sends one, must be this very ``http://Host``; ``null`` (a
  sandboxed frame, a local file) is refused.
- **Sec-Fetch-Site** ``cross-site`` or ``same-site`` on an ``/api/`` request or a POST is
  another page's fetch, image or form (browsers send no Origin on a cross-site GET), refused.

A connection silent for the handler's ``timeout`` is closed (http.server sets it on the
socket), one whose request line and headers take over :data:`HEADERS_SECONDS` (a byte now and
then) is cut, and :class:`GuardedServer` serves at most ``max_connections`` at once (one
thread each), answering one more 503 and closing it.

A body is read only with a Content-Length (no chunked encoding) of at most
:data:`MAX_BODY` bytes, within :data:`BODY_SECONDS`; it must be UTF-8 JSON nested at most
:data:`MAX_DEPTH` deep, whose numbers have at most :data:`MAX_DIGITS` digits and are finite,
and whose top level is an object with the fields the endpoint takes, of the types it takes
(:func:`fields`). Each refusal is a :class:`RequestError`, a 4xx status and one sentence.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase, BufferedReader
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..datasets import DatasetError, parse_csv

__all__ = [
    "RequestError",
    "Disconnected",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "BODY_SECONDS",
    "LOOPBACK_NAMES",
    "host_name",
    "allowed_hosts",
    "is_loopback",
    "check_sender",
    "read_body",
    "decode",
    "fields",
    "GuardedServer",
    "GuardedHandler",
    "HEADERS_SECONDS",
    "upload_points",
    "MAX_UPLOAD_ROWS",
    "MAX_UPLOAD_CLASSES",
]

MAX_BODY = 256 * 1024  # bytes of a request body; the page's largest is a few KiB
MAX_DEPTH = 8  # nesting of a body's JSON; the page's deepest (settings.points) is 4
MAX_DIGITS = 40  # characters of one JSON number; a float64 needs at most 24
BODY_SECONDS = 10.0  # a body must arrive within this time once its headers have
HEADERS_SECONDS = 10.0  # a request's line and headers, within this time of its first byte
MAX_UPLOAD_ROWS = 5000  # points of an uploaded CSV
MAX_UPLOAD_CLASSES = 3  # the page has a colour for three classes
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_SITES = ("same-origin", "none")  # Sec-Fetch-Site of the page's own requests, of a link


class RequestError(Exception):
    """A request the server refuses: the status and a sentence for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Disconnected(Exception):
    """The client closed its connection (or fell silent) before its request was whole."""


# -- who asks -------------------------------------------------------------------------------
def host_name(header: str) -> str:
    """The host of a Host header or an Origin's netloc, lower case, without port or brackets.

    >>> host_name("Example.org:8765"), host_name("[::1]:80"), host_name("::1"), host_name("x")
    ('example.org', '::1', '::1', 'x')
    """
    h = header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        return h.split(":", 1)[0]
    return h  # a bare IPv6 address, or a name without port


def _plain_address(address: str) -> str:
    """An IPv4 address reached through a dual-stack socket (``::ffff:a.b.c.d``) as a.b.c.d."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address.lower()
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped if mapped is not None else ip)


def allowed_hosts(bound: str, local: str | None = None) -> frozenset[str]:
    """The Host names a server bound to address ``bound`` answers on a connection that
    reached the local address ``local``: the loopback names, both addresses, the machine's
    host name. Never a name a stranger controls."""
    names = set(LOOPBACK_NAMES) | {str(bound).lower(), _plain_address(str(bound))}
    if local:
        names |= {local.lower(), _plain_address(local)}
    names.add(socket.gethostname().lower())
    return frozenset(names)


def is_loopback(address: str) -> bool:
    """Whether the bound ``address`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("::")
    (True, True, False, False)
    """
    try:
        return ipaddress.ip_address(_plain_address(address)).is_loopback
    except ValueError:
        return str(address).lower() == "localhost"


def check_sender(
    headers: Mapping[str, str] | Message, allowed: frozenset[str], method: str, path: str
):
    """Refuse (403) a request for another host name, from another origin, or another site's
    request to the API; see the module's docstring for the rules."""
    host = headers.get("Host")
    if not host or host_name(host) not in allowed:
        raise RequestError(
            HTTPStatus.FORBIDDEN,
            f"unexpected Host header {host!r}: this server answers only its own address "
            "(a different name is DNS rebinding)",
        )
    origin = headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin) if origin.strip().lower() != "null" else None
        if parts is None or parts.scheme != "http" or parts.netloc.lower() != host.lower():
            raise RequestError(HTTPStatus.FORBIDDEN, f"requests from {origin!r} are refused")
    site = (headers.get("Sec-Fetch-Site") or "none").strip().lower()
    if site not in SAFE_SITES and (method != "GET" or path.startswith("/api/")):
        raise RequestError(
            HTTPStatus.FORBIDDEN,
            f"a {site} request to {path[:80]!r} is refused: only the playground's own page "
            "may use its API",
        )


# -- what is asked ----------------------------------------------------------------------------
def _length(headers: Mapping[str, str] | Message, limit: int = MAX_BODY) -> int:
    if headers.get("Transfer-Encoding") is not None:
        raise RequestError(
            HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length, not chunked"
        )
    values = headers.get_all("Content-Length") if hasattr(headers, "get_all") else None
    values = values or [headers.get("Content-Length") or "0"]
    if len(set(v.strip() for v in values)) != 1 or not re.fullmatch(r"\d{1,9}", values[0].strip()):
        raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed Content-Length {values[0][:40]!r}")
    length = int(values[0])
    if length > limit:
        raise RequestError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"request body of {length} bytes refused (at most {limit})",
        )
    return length


def read_body(
    rfile: BufferedIOBase, headers: Mapping[str, str] | Message, limit: int = MAX_BODY
) -> bytes:
    """The body's bytes (at most ``limit``), read within :data:`BODY_SECONDS`;
    :class:`Disconnected` when the client closes (or falls silent past the socket's timeout)
    before sending all of them."""
    length = _length(headers, limit)
    deadline = time.monotonic() + BODY_SECONDS
    chunks, got = [], 0
    while got < length:
        try:
            chunk = rfile.read1(length - got)
        except (ConnectionError, TimeoutError):
            raise Disconnected(f"the body ended after {got} of {length} bytes") from None
        if not chunk:
            raise Disconnected(f"the body ended after {got} of {length} bytes")
        chunks.append(chunk)
        got += len(chunk)
        if got < length and time.monotonic() > deadline:
            raise RequestError(
                HTTPStatus.REQUEST_TIMEOUT,
                f"the body took over {BODY_SECONDS:g} s ({got} of {length} bytes arrived)",
            )
    return b"".join(chunks)


# a JSON string, or an unterminated one up to the end (so that no quote is scanned twice: the
# scan stays linear in the body's length), or a bracket
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.S)


def _depth(raw: bytes) -> int:
    """How deep the arrays and objects of JSON text ``raw`` nest (strings skipped), in time
    linear in its length.

    >>> _depth(b'{"a": [1, {"b": "[[["}]}'), _depth(b"7"), _depth(b'[[1], "]]]"]')
    (3, 0, 2)
    """
    depth = deepest = 0
    for m in _TOKEN.finditer(raw):
        c = m.group()[:1]
        if c == b'"':
            continue
        depth += 1 if c in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _int(text: str) -> int:
    if len(text) > MAX_DIGITS:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"a number of {len(text)} digits in the request (at most "
            f"{MAX_DIGITS}): {text[:20]}..."
        )  # fmt: skip
    return int(text)


def _float(text: str) -> float:
    value = float(text) if len(text) <= MAX_DIGITS else math.inf
    if not math.isfinite(value):
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"the number {text[:20]}{'...' * (len(text) > 20)} in the "
            "request is too long or too large for a float"
        )  # fmt: skip
    return value


def _constant(text: str) -> float:
    raise RequestError(HTTPStatus.BAD_REQUEST, f"{text} is not a JSON number")


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON object of a body (empty: ``{}``), refused (400) unless it is UTF-8 JSON nested
    at most :data:`MAX_DEPTH` deep, with numbers of at most :data:`MAX_DIGITS` characters
    that are finite, and an object at the top."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the request is not UTF-8: {e}") from None
    depth = _depth(raw)
    if depth > MAX_DEPTH:
        raise RequestError(
            HTTPStatus.BAD_REQUEST, f"the request's JSON nests {depth} deep (at most {MAX_DEPTH})"
        )
    try:
        body = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"malformed JSON in the request: {e}") from None
    except RecursionError:  # not reached after the depth check; kept should the two disagree
        raise RequestError(HTTPStatus.BAD_REQUEST, "the request's JSON nests too deep") from None
    if not isinstance(body, dict):
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"the request must be a JSON object, got {type(body).__name__} {raw[:60]!r}",
        )
    return body


_TYPE_NAMES = {dict: "an object", str: "a string", int: "a number", float: "a number"}


def fields(body: dict[str, Any], endpoint: str, spec: Mapping[str, tuple[type, ...]],
           required: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """``body`` once it holds only the fields of ``spec`` (name: the JSON types allowed), each
    of an allowed type (``null`` counts as absent), and every ``required`` one; else 400."""
    unknown = sorted(k for k in body if k not in spec)
    if unknown:
        raise RequestError(
            HTTPStatus.BAD_REQUEST,
            f"{endpoint} takes {', '.join(spec) or 'no fields'}; unknown field "
            f"{', '.join(repr(k[:40]) for k in unknown[:5])}",
        )
    for name, types in spec.items():
        value = body.get(name)
        if value is None:
            if name in required:
                raise RequestError(HTTPStatus.BAD_REQUEST, f"{endpoint} needs the field {name!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            allowed = " or ".join(sorted({_TYPE_NAMES[t] for t in types}))
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                f"{endpoint}: {name} must be {allowed}, got {type(value).__name__} "
                f"{json.dumps(value)[:60]}",
            )
    return body


def upload_points(text: str) -> tuple[tuple[tuple[float, float, int], ...], list[Any]]:
    r"""The points of an uploaded CSV and the names of their classes, refused (400) unless the
    text holds at most :data:`MAX_UPLOAD_ROWS` rows of two numbers and a label (a header row
    is optional; labels may be names, at most :data:`MAX_UPLOAD_CLASSES` of them). Each
    coordinate is scaled into the plane the page shows, x' = 2 (x - min) / (max - min) - 1.

    >>> upload_points("x,y,c\n0,10,a\n4,30,b\n2,20,a\n")
    (((-1.0, -1.0, 0), (1.0, 1.0, 1), (0.0, 0.0, 0)), ['a', 'b'])
    """
    lines = text.lstrip("\ufeff").splitlines()
    first = lines[0].split(",") if lines else []
    try:  # no header: the first row is a point already
        if len(first) >= 2 and [float(v) for v in first[:2]]:
            text = "x1,x2,label\n" + text
    except ValueError:
        pass
    try:
        X, y, classes = parse_csv(text, where="the uploaded file", max_rows=MAX_UPLOAD_ROWS)
    except DatasetError as e:
        raise RequestError(HTTPStatus.BAD_REQUEST, str(e)) from None
    if X.shape[1] != 2:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the uploaded file has {X.shape[1] + 1} "
                           "columns; the playground takes three: x1, x2, label")  # fmt: skip
    if len(classes) > MAX_UPLOAD_CLASSES:
        raise RequestError(HTTPStatus.BAD_REQUEST, f"the uploaded file has {len(classes)} classes;"
                           f" the playground shows at most {MAX_UPLOAD_CLASSES}")  # fmt: skip
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    P = np.round(2 * (X - low) / span - 1 + 0.0, 4)
    P[:, high <= low] = 0.0
    points = tuple((float(a), float(b), int(c)) for (a, b), c in zip(P, y))
    return points, classes


# -- connections ------------------------------------------------------------------------------
def _once(fn: Callable[[], object] | None) -> Callable[[], None]:
    """``fn`` callable once (later calls do nothing), from any thread: the list's pop is
    atomic, so two threads calling it at once cannot both get ``fn``."""
    left = [fn] if fn is not None else []

    def call() -> None:
        try:
            f = left.pop()
        except IndexError:
            return
        f()

    return call


class GuardedServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a bound on its connections (a thread each), IPv6 addresses
    (``::`` serves IPv4 too), and no traceback when a client goes away."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(max_connections)
        self.releases: dict[socket.socket, Callable[[], None]] = {}  # connection: its slot's
        self.max_connections = max_connections
        self.reading: dict[socket.socket, float] = {}  # connection: deadline of its headers
        self.late: set[socket.socket] = set()  # cut for taking too long
        self.watch = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:  # dual stack, as `python -m http.server`
            try:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except OSError:
                pass
        super().server_bind()

    def process_request(self, request, client_address) -> None:
        if not self.slots.acquire(blocking=False):
            self.refuse(request)
            return
        # the slot is given back once, by the request's thread or, when starting it fails (a
        # Ctrl-C may land after the thread started), here: a second release would raise
        # ValueError in place of the KeyboardInterrupt, and the server would not stop
        release = self.releases[request] = _once(self.slots.release)
        try:
            super().process_request(request, client_address)  # starts its thread
        except BaseException:
            release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.releases.pop(request, _once(None))()

    def refuse(self, request: socket.socket) -> None:
        """Answer 503 without a thread (at most a short wait to send it), then close."""
        body = json.dumps({"error": f"too many connections (at most {self.max_connections}); "
                                    "try again"}).encode()  # fmt: skip
        head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        try:
            request.settimeout(0.2)
            request.sendall(head.encode() + body)
        except OSError:
            pass
        self.shutdown_request(request)

    # -- a deadline for each request's headers --------------------------------------------------
    def begin_request(self, conn: socket.socket) -> None:
        """The first byte of a request arrived on ``conn``: its headers are due."""
        with self.watch:
            self.reading[conn] = time.monotonic() + HEADERS_SECONDS

    def headers_read(self, conn: socket.socket) -> bool:
        """The headers on ``conn`` are read; False when they came too late (it was cut)."""
        with self.watch:
            self.reading.pop(conn, None)
            late = conn in self.late
            self.late.discard(conn)
        return not late

    def service_actions(self) -> None:
        """Between two polls of serve_forever: cut each connection whose request line and
        headers are overdue (shutting its socket wakes the thread reading it)."""
        now = time.monotonic()
        with self.watch:
            overdue = [conn for conn, deadline in self.reading.items() if deadline < now]
            for conn in overdue:
                del self.reading[conn]
                self.late.add(conn)
        for conn in overdue:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, Disconnected)):
            return  # the client went away: nothing to say
        super().handle_error(request, client_address)  # a bug: its traceback on stderr


class GuardedHandler(BaseHTTPRequestHandler):
    rfile: BufferedReader  # StreamRequestHandler reads the socket buffered (rbufsize -1)
    """A request handler whose requests are watched by its :class:`GuardedServer`: from the
    first byte of a request to the end of its headers, at most :data:`HEADERS_SECONDS`.
    Subclasses call :meth:`headers_in_time` before acting on a request."""

    server: GuardedServer

    def handle_one_request(self) -> None:
        try:
            waiting = self.rfile.peek(1)  # idle between requests: the socket's timeout
        except (ConnectionError, TimeoutError):
            waiting = b""
        if not waiting:  # closed, or silent past the timeout
            self.close_connection = True
            return
        self.server.begin_request(self.connection)
        try:
            super().handle_one_request()
        finally:
            self.server.headers_read(self.connection)

    def headers_in_time(self) -> bool:
        """Whether this request's headers arrived in time (else its connection was cut)."""
        if self.server.headers_read(self.connection):
            return True
        self.close_connection = True
        return False
