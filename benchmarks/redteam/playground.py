"""The playground family: bodies, headers and connections against a real server on
127.0.0.1 (and 0.0.0.0, ::), every answer checked to be a 4xx with one line of JSON."""

from __future__ import annotations

import io
import json
import socket
import struct
import sys
import threading
import time

from .harness import Case, Outcome, attempt


def http(port: int, raw: bytes, timeout: float = 10.0, host: str = "127.0.0.1"):
    """(status, body) of one raw request; status 0 when the server closed without answering."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return 0, data
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(head.split()[1]), body


def raw_request(
    method: str,
    path: str,
    body: bytes = b"",
    host: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def refused_with_sentence(answer, statuses: tuple[int, ...]) -> str | None:
    status, body = answer
    if status not in statuses:
        return f"status {status} (wanted {'/'.join(map(str, statuses))}): {body[:100]!r}"
    try:
        message = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return f"the answer is not {{'error': sentence}}: {body[:100]!r}"
    if b"\n" in body or not isinstance(message, str) or not message:
        return f"the error is not one line: {body[:100]!r}"
    return None


MALFORMED_BODIES = {
    "nested arrays": b"[" * 50_000 + b"]" * 50_000,
    "nested objects": b'{"a":' * 30_000 + b"1" + b"}" * 30_000,
    "nested settings": b'{"settings": {"points": ' + b"[" * 60 + b"]" * 60 + b"}}",
    "4,301-digit int": b'{"x1": ' + b"7" * 4301 + b"}",
    "400-digit rate": b'{"settings": {"lr": ' + b"9" * 400 + b"}}",
    "400-digit seed": b'{"settings": {"seed": -' + b"9" * 400 + b"}}",
    "1e999": b'{"settings": {"lr": 1e999}}',
    "NaN": b'{"settings": {"lr": NaN}}',
    "Infinity": b'{"x1": Infinity, "x2": 0, "label": 0}',
    "action list": b'{"action": ["play"]}',
    "action object": b'{"action": {"play": 1}}',
    "action number": b'{"action": 3}',
    "action true": b'{"action": true}',
    "settings number": b'{"settings": 3}',
    "settings list": b'{"settings": ["lr", 1]}',
    "settings string": b'{"settings": "lr=1"}',
    "x1 true": b'{"x1": true, "x2": 0, "label": 0}',
    "x1 list": b'{"x1": [0], "x2": 0, "label": 0}',
    "x1 object": b'{"x1": {}, "x2": 0, "label": 0}',
    "hidden nested": b'{"settings": {"hidden": [[4]]}}',
    "hidden object": b'{"settings": {"hidden": {"a": 4}}}',
    "features nested": b'{"settings": {"features": [["x1"]]}}',
    "points object": b'{"settings": {"points": {"a": 1}}}',
    "point list label": b'{"settings": {"points": [[0, 0, [1]]]}}',
    "unknown field": b'{"nonsense": 1}',
    "unknown setting": b'{"settings": {"nonsense": 1}}',
    "array": b"[1, 2]",
    "string": b'"play"',
    "number": b"7",
    "null": b"null",
    "truncated": b'{"action": "pl',
    "trailing garbage": b'{"action": "play"} x',
    "not UTF-8": b'{"action": "\xff\xfe"}',
    "lone surrogate": b'{"action": "\\ud800"}',
    "NUL": b'{"action": "\x00"}',
    "duplicate keys": b'{"action": "play", "action": ["play"]}',
    "escaped quotes": b'"' + b'\\"' * 100_000,
    "backslashes": b'["' + b"\\" * 200_000,
    "many strings": b'"a",' * 50_000,
    "a 200,000-digit number": b"1" * 200_000,
}
ENDPOINTS = [
    "/api/session",
    "/api/s/{sid}/control",
    "/api/s/{sid}/settings",
    "/api/s/{sid}/point",
    "/api/s/{sid}/close",
]
ATTACKER_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "127.0.0.1.evil.example",
    "0x7f.1",
    "localhost.evil.example",
    "",
    "[::ffff:evil]",
    "local host",
]


def refusal(name: str, port: int, raw: bytes, statuses: tuple[int, ...]) -> Case:
    """The case: ``raw`` sent to the server on ``port`` is refused with one of ``statuses``
    and one sentence of JSON."""
    return Case("playground", name, lambda: refused_with_sentence(http(port, raw), statuses))


def framing_requests(sid: str) -> dict[str, tuple[bytes, tuple[int, ...]]]:
    """Requests malformed below the JSON (lengths, methods, lines, paths, queries), with the
    statuses that refuse them; ``Host: H`` stands for the server's own."""
    post = b"POST /api/session HTTP/1.1\r\nHost: H\r\n"
    frame = f"GET /api/s/{sid}/frame?"
    return {
        "length -1": (post + b"Content-Length: -1\r\n\r\n{}", (400,)),
        "length 2_0": (post + b"Content-Length: 2_0\r\n\r\n{}", (400,)),
        "length 10^30": (post + b"Content-Length: 1" + b"0" * 30 + b"\r\n\r\n", (400, 413)),
        "length 10 MB": (post + b"Content-Length: 10000000\r\n\r\n", (413,)),
        "chunked": (post + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", (400, 411)),
        "two lengths": (post + b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}", (400,)),
        "PUT": (b"PUT /api/session HTTP/1.1\r\nHost: H\r\n\r\n", (405, 501)),
        "DELETE": (b"DELETE / HTTP/1.1\r\nHost: H\r\n\r\n", (405, 501)),
        "garbage line": (b"GARBAGE\r\n\r\n", (400,)),
        "HTTP/9.9": (b"GET / HTTP/9.9\r\nHost: H\r\n\r\n", (400, 505)),
        "200 headers": (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", (400, 431)),
        "long line": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", (400, 414)),
        "after=10^5000": (
            f"{frame}after={'9' * 5000} HTTP/1.1\r\nHost: H\r\n\r\n".encode(),
            (400,),
        ),
        "graph=x": (f"{frame}graph=x HTTP/1.1\r\nHost: H\r\n\r\n".encode(), (400,)),
        "static NUL": (b"GET /static/a%00.js HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
        "static long": (b"GET /static/" + b"a" * 5000 + b".js HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
        "static dots": (b"GET /static/..%2f..%2fserver.py HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
        "unknown session": (b"GET /api/s/nope/frame HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
    }


def playground_cases(pg, sid: str) -> list[Case]:
    """Bodies, framing and headers against the running server ``pg`` with session ``sid``."""
    port, own = pg.port, f"127.0.0.1:{pg.port}"
    cases = []
    for endpoint in ENDPOINTS:
        path = endpoint.format(sid=sid)
        for name, body in MALFORMED_BODIES.items():
            raw = raw_request("POST", path, body, own)
            cases.append(refusal(f"{endpoint} {name}", port, raw, (400,)))
    for name, (raw, statuses) in framing_requests(sid).items():
        raw = raw.replace(b"Host: H", f"Host: {own}".encode())
        cases.append(refusal(f"framing: {name}", port, raw, statuses))
    for host in ATTACKER_HOSTS:
        host = host.format(port=port)
        for method in ("GET", "POST"):
            raw = raw_request(method, "/" if method == "GET" else "/api/session", b"{}", host)
            cases.append(refusal(f"Host {host!r} {method}", port, raw, (403,)))
    senders = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"https://{own}"},
        {"Origin": f"http://127.0.0.1:{port + 1}"},
        {"Origin": "http://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in senders:
        for method, path in (("POST", "/api/session"), ("GET", f"/api/s/{sid}/frame")):
            raw = raw_request(method, path, b"{}", own, headers)
            cases.append(refusal(f"{method} {path[:12]} with {headers}", port, raw, (403,)))
    return cases


def connection_cases(pg, sid: str, stderr: io.StringIO) -> list[Case]:
    """Clients gone mid-request, silent sockets, too many connections; and afterwards, no
    traceback on the server's stderr and the page still served."""
    port, own = pg.port, f"127.0.0.1:{pg.port}"
    half = raw_request("POST", "/api/session", b'{"settings": {', own).replace(
        b"Content-Length: 14", b"Content-Length: 400"
    )

    def vanish(raw: bytes, rst: bool) -> str | None:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(raw)
        time.sleep(0.05)
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return None

    def silent(sent: bytes) -> str | None:
        idle = pg.httpd.RequestHandlerClass.timeout
        start = time.monotonic()
        status, _ = http(port, sent, timeout=idle + 5)
        waited = time.monotonic() - start
        if status not in (0, 400, 408) or waited > idle + 3:
            return f"a silent connection answered {status} after {waited:.1f} s (idle {idle} s)"
        return None

    def bounded() -> str | None:
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
        time.sleep(0.3)
        threads = sum("process_request" in t.name for t in threading.enumerate())
        for s in held:
            s.close()
        if threads > pg.httpd.max_connections:
            return f"40 idle connections hold {threads} threads (bound {pg.httpd.max_connections})"
        return None

    def quiet_and_serving() -> str | None:
        time.sleep(1.5)  # long polls answer into closed sockets
        if "Traceback" in stderr.getvalue() or "Error" in stderr.getvalue():
            return f"the server printed: {stderr.getvalue()[-200:]!r}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if http(port, raw_request("GET", "/", host=own))[0] == 200:
                return None
            time.sleep(0.1)
        return "the server stopped answering"

    cases = []
    poll = raw_request("GET", f"/api/s/{sid}/frame?after=999999", host=own)
    page = raw_request("GET", "/", host=own)
    for name, raw in [
        ("half a body", half),
        ("half the headers", half[:25]),
        ("a page", page),
        ("a long poll", poll),
    ]:
        for rst in (False, True):
            how = "reset" if rst else "closed"
            cases.append(
                Case("playground", f"{name}, then {how}", lambda raw=raw, rst=rst: vanish(raw, rst))
            )
    for name, sent in [
        ("nothing", b""),
        ("half the headers", b"GET / HTTP/1.1\r\n"),
        ("half a body", half),
    ]:
        cases.append(Case("playground", f"silent after {name}", lambda sent=sent: silent(sent)))
    cases.append(Case("playground", "40 idle connections", bounded))
    cases.append(Case("playground", "no traceback, still serving", quiet_and_serving))
    return cases


def wildcard_case(bound: str) -> Case:
    """An attacker's Host refused by a server bound to ``bound`` (0.0.0.0 or ::), over
    loopback; the loopback name answered."""
    from flowgraph.playground.server import Playground

    def run() -> str | None:
        pg = Playground(bound, 0, idle_timeout=2.0).start()
        local = "::1" if ":" in bound else "127.0.0.1"
        try:
            evil = http(
                pg.port, raw_request("POST", "/api/session", b"{}", "evil.example"), host=local
            )
            mine = http(pg.port, raw_request("GET", "/", host="localhost"), host=local)
            return refused_with_sentence(evil, (403,)) or (
                None if mine[0] == 200 else f"localhost got {mine[0]}"
            )
        finally:
            pg.shutdown()

    return Case("playground", f"Host evil.example on {bound}", run)


def wildcards() -> list[str]:
    """0.0.0.0, and :: where this machine has IPv6."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return ["0.0.0.0"]
    return ["0.0.0.0", "::"]


def dripping(port: int, deadline: float) -> str | None:
    """Headers sent a byte every 0.2 s (never silent for the idle timeout) are cut once
    ``deadline`` seconds have passed (slowloris)."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        while time.monotonic() - start < deadline + 5:
            try:
                s.sendall(b"X")
                if s.recv(100) == b"":
                    return None
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return None
    return f"headers dripped for {deadline + 5:g} s were never cut"


def run_playground(limit: int | None) -> list[Outcome]:
    from flowgraph.playground import guard
    from flowgraph.playground.server import Playground

    stderr, real, headers_seconds = io.StringIO(), sys.stderr, guard.HEADERS_SECONDS
    sys.stderr = stderr  # the server's threads print here: a traceback is a failure
    guard.HEADERS_SECONDS = 1.0  # a short deadline for the slowloris case
    pg = Playground(
        "127.0.0.1", 0, timeout=60.0, max_sessions=8, idle_timeout=1.0, max_connections=8
    ).start()
    try:
        status, body = http(
            pg.port, raw_request("POST", "/api/session", b"{}", f"127.0.0.1:{pg.port}")
        )
        sid = json.loads(body)["id"]
        cases = playground_cases(pg, sid)
        cases += [wildcard_case(bound) for bound in wildcards()]
        connections = connection_cases(pg, sid, stderr)  # the last: quiet and still serving
        drip = Case("playground", "headers dripped a byte at a time", lambda: dripping(pg.port, 1))
        connections.insert(-1, drip)
        cases = (cases + connections[:-1])[:limit] + connections[-1:]
        return [attempt(c) for c in cases]
    finally:
        pg.shutdown()
        sys.stderr, guard.HEADERS_SECONDS = real, headers_seconds
