"""The playground's server serves its user only (issue 21): who may ask (Host, Origin,
Sec-Fetch-Site on every address, a warning beyond loopback), what may be asked (every
malformed body a 400 with one sentence), and what a connection may hold (a client gone
mid-request is forgotten quietly, a silent socket is closed, the connections are bounded).
Every test talks to a real server on 127.0.0.1 (or ::1) with raw sockets and short timeouts."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowgraph.playground import guard
from flowgraph.playground import server as server_module
from flowgraph.playground.server import Playground

ROOT = Path(__file__).resolve().parent.parent.parent
IDLE = 1.0  # the servers' idle timeout in these tests, seconds


# -- a raw HTTP client ----------------------------------------------------------------------
def connect(pg: Playground, timeout: float = 10.0) -> socket.socket:
    host = "::1" if ":" in str(pg.host) else "127.0.0.1"  # loopback traffic only
    return socket.create_connection((host, pg.port), timeout=timeout)


def request(method, path, body=b"", host=None, headers=None, length=None) -> bytes:
    """The bytes of one HTTP/1.1 request (Host: the loopback address unless ``host``)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {'127.0.0.1' if host is None else host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one answer; status 0 when the server closed instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, {}, data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    n = int(headers.get("content-length", 0))
    while len(body) < n:
        chunk = sock.recv(65536)
        assert chunk, "the answer ended early"
        body += chunk
    return status, headers, body


def ask(pg, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(pg) as s:
        s.sendall(raw)
        return read_answer(s)


def post(pg, path, body: bytes, **kw):
    return ask(pg, request("POST", path, body, host=f"127.0.0.1:{pg.port}", **kw))


def one_line_error(answer) -> str:
    """The sentence of an error answer, checked to be one line of JSON {"error": str}."""
    status, headers, body = answer
    assert headers["content-type"] == "application/json" and b"\n" not in body, body[:200]
    message = json.loads(body)["error"]
    assert isinstance(message, str) and message and "\n" not in message
    return message


def serving(pg) -> bool:
    return ask(pg, request("GET", "/"))[0] == 200


@pytest.fixture(scope="module")
def pg():
    server = Playground("127.0.0.1", 0, timeout=30.0, max_sessions=4, idle_timeout=IDLE,
                        max_connections=8).start()  # fmt: skip
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def sid(pg):
    status, _, body = post(pg, "/api/session", b'{"settings": {"hidden": "2"}}')
    assert status == 200
    return json.loads(body)["id"]


# -- who may ask ------------------------------------------------------------------------------
def wildcards() -> list[str]:
    found = ["0.0.0.0"]
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        found.append("::")
    except OSError:  # a machine without IPv6: 0.0.0.0 alone
        pass
    return found


@pytest.mark.parametrize("bound", wildcards())
def test_an_attackers_host_name_is_refused_on_a_wildcard_address(bound):
    """DNS rebinding: a page of evil.example whose name now resolves to this machine sends
    Host: evil.example. Bound to every interface, the server still refuses it."""
    server = Playground(bound, 0, idle_timeout=IDLE).start()
    try:
        local = "[::1]" if ":" in bound else "127.0.0.1"
        for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.evil.example",
                     "localhost.evil.example", ""):  # fmt: skip
            for raw in (request("GET", "/", host=host),
                        request("POST", "/api/session", b"{}", host=host)):  # fmt: skip
                answer = ask(server, raw)
                assert answer[0] == 403 and "Host" in one_line_error(answer), (host, raw)
        assert not server.sessions  # nothing started
        for host in (f"{local}:{server.port}", "localhost", f"localhost:{server.port}",
                     socket.gethostname()):  # fmt: skip
            assert ask(server, request("GET", "/", host=host))[0] == 200, host
        status, _, body = ask(server, request("POST", "/api/session", b"{}",
                                              host=f"{local}:{server.port}"))  # fmt: skip
        assert status == 200 and json.loads(body)["id"] in server.sessions
    finally:
        server.shutdown()


def test_other_origins_and_cross_site_requests_are_refused(pg, sid):
    own = f"127.0.0.1:{pg.port}"
    refused = [
        ("POST", "/api/session", {"Origin": "http://evil.example"}),
        ("POST", "/api/session", {"Origin": "null"}),
        ("POST", "/api/session", {"Origin": f"https://{own}"}),  # another scheme
        ("POST", "/api/session", {"Origin": f"http://127.0.0.1:{pg.port + 1}"}),  # another port
        ("GET", f"/api/s/{sid}/frame?after=0", {"Origin": "http://evil.example"}),
        ("POST", "/api/session", {"Sec-Fetch-Site": "cross-site"}),  # a form, no Origin
        ("POST", "/api/session", {"Sec-Fetch-Site": "same-site"}),  # localhost:3000's page
        ("GET", f"/api/s/{sid}/graph.svg", {"Sec-Fetch-Site": "cross-site"}),  # an <img>
        ("GET", f"/api/s/{sid}/frame?after=0", {"Sec-Fetch-Site": "cross-site"}),
    ]
    for method, path, headers in refused:
        body = b"{}" if method == "POST" else b""
        answer = ask(pg, request(method, path, body, host=own, headers=headers))
        assert answer[0] == 403, (method, path, headers)
        one_line_error(answer)
    assert len(pg.sessions) == 1  # the fixture's only
    # the page's own requests, and a link to the page from elsewhere, are answered
    allowed = [
        (
            "POST",
            f"/api/s/{sid}/control",
            {"Origin": f"http://{own}", "Sec-Fetch-Site": "same-origin"},
        ),  # fmt: skip
        ("GET", "/", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}),
        ("GET", "/static/app.js", {"Sec-Fetch-Site": "same-origin"}),
        ("GET", f"/api/s/{sid}/frame?after=0", {"Sec-Fetch-Site": "none"}),
    ]
    for method, path, headers in allowed:
        body = b'{"action": "pause"}' if method == "POST" else b""
        assert ask(pg, request(method, path, body, host=own, headers=headers))[0] == 200, path


def test_listening_beyond_loopback_warns_on_stderr():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowgraph", "playground", "--no-browser", "--port", "0",
         "--host", "0.0.0.0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = ""
        while "http://" not in line:
            line = proc.stdout.readline()
            assert line, "the command ended without printing its URL"
        assert re.search(r"http://127\.0\.0\.1:\d+/", line)  # a URL a browser can open
        warning = proc.stderr.readline()
        assert "warning: listening on 0.0.0.0" in warning and "--host 127.0.0.1" in warning
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@pytest.mark.parametrize("host, warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_serve_warns_exactly_when_listening_beyond_loopback(monkeypatch, host, warned):
    monkeypatch.setattr(server_module, "limit_blas_threads", lambda: True)
    ready, warnings = [], []
    t = threading.Thread(target=server_module.serve, args=(host, 0), daemon=True,
                         kwargs={"open_browser": False, "announce": lambda s: None,
                                 "on_ready": ready.append, "warn": warnings.append})  # fmt: skip
    t.start()
    deadline = time.time() + 10
    while not ready and time.time() < deadline:
        time.sleep(0.02)
    ready[0].httpd.shutdown()
    t.join(10)
    assert bool(warnings) == warned and not t.is_alive()
    assert all("beyond this machine" in w for w in warnings)


# -- what may be asked ----------------------------------------------------------------------
DEEP = 40_000  # levels: far past Python's recursion limit, within the body's 256 KiB
MALFORMED = {
    "nested arrays": b"[" * DEEP + b"]" * DEEP,
    "nested objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "nested settings": b'{"settings": {"points": ' + b"[" * 50 + b"]" * 50 + b"}}",
    "4,301-digit int": b'{"x1": ' + b"7" * 4301 + b"}",
    "400-digit rate": b'{"settings": {"lr": ' + b"9" * 400 + b"}}",
    "huge float": b'{"settings": {"lr": 1e999}}',
    "NaN": b'{"settings": {"lr": NaN}}',
    "-Infinity": b'{"x1": -Infinity}',
    "list for a string": b'{"action": ["play"]}',
    "object for a string": b'{"action": {"play": 1}}',
    "number for an object": b'{"settings": 3}',
    "list for an object": b'{"settings": ["lr", 1]}',
    "true for a number": b'{"x1": true, "x2": 0, "label": 0}',
    "list for a number": b'{"x1": [0], "x2": 0, "label": 0}',
    "unknown field": b'{"nonsense": 1}',
    "not an object": b"[1, 2]",
    "a string": b'"play"',
    "truncated": b'{"action": "pl',
    "not UTF-8": b'{"action": "\xff\xfe"}',
    "NUL": b'{"action": "\x00"}',
    "escaped quotes": b'"' + b'\\"' * 100_000,  # a quadratic scan would take minutes
}
ENDPOINTS = ["/api/session", "/api/s/{sid}/control", "/api/s/{sid}/settings",
             "/api/s/{sid}/point", "/api/s/{sid}/close"]  # fmt: skip


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_malformed_body_is_a_400_with_one_sentence(pg, sid, endpoint):
    path = endpoint.format(sid=sid)
    for name, body in MALFORMED.items():
        answer = post(pg, path, body)
        assert answer[0] == 400, (name, path, answer[0], answer[2][:200])
        one_line_error(answer)
    assert sid in pg.sessions and serving(pg)  # not closed by a refused body, still serving


HOSTILE_TO_SCANNERS = [
    b'"' + b'\\"' * 120_000,  # one string that never ends, every quote escaped
    b'["' + b"\\" * 240_000,  # backslashes to the end
    b'"a",' * 60_000,  # many short strings
    b"[" * 120_000 + b"]" * 120_000,
    b'{"a": "' + b"[" * 240_000,
    b"1" * 240_000,
]


@pytest.mark.parametrize("raw", HOSTILE_TO_SCANNERS, ids=range(len(HOSTILE_TO_SCANNERS)))
def test_checking_a_body_takes_time_linear_in_its_length(raw):
    assert len(raw) <= guard.MAX_BODY
    start = time.monotonic()
    with pytest.raises(guard.RequestError) as e:
        guard.decode(raw)
    assert time.monotonic() - start < 1.0 and e.value.status == 400


def test_malformed_framing_is_refused_with_one_sentence(pg, sid):
    own = f"127.0.0.1:{pg.port}"
    cases = [
        (request("POST", "/api/session", b"{}", host=own, length="-1"), 400),
        (request("POST", "/api/session", b"{}", host=own, length="2_0"), 400),
        (request("POST", "/api/session", b"{}", host=own, length="9" * 30), 400),
        (request("POST", "/api/session", host=own, length=str(10**7)), 413),
        (
            request(
                "POST", "/api/session", b"{}", host=own, headers={"Transfer-Encoding": "chunked"}
            ),
            411,
        ),  # fmt: skip
        (
            request("POST", "/api/session", b"{}", host=own, headers={"Content-Length": "5"}),
            400,
        ),  # two lengths that disagree
        (request("PUT", "/api/session", b"{}", host=own), 501),
        (request("GET", f"/api/s/{sid}/frame?after=" + "9" * 5000, host=own), 400),
        (request("GET", "/static/" + "a" * 5000 + ".js", host=own), 404),
        (request("GET", "/static/%00.js", host=own), 404),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", 431),
    ]
    for raw, status in cases:
        answer = ask(pg, raw)
        assert answer[0] == status, (raw[:80], answer)
        one_line_error(answer)
    assert serving(pg)


def test_the_points_fields_are_checked_by_value_too(pg, sid):
    for body in (b'{"x1": 0}', b'{"x1": "a", "x2": 0, "label": 0}',
                 b'{"x1": 0.1, "x2": 0.2, "label": 7}'):  # fmt: skip
        answer = post(pg, f"/api/s/{sid}/point", body)
        assert answer[0] == 400 and one_line_error(answer)
    answer = post(pg, f"/api/s/{sid}/point", b'{"x1": 0.1, "x2": -0.2, "label": 1}')
    assert answer[0] == 200 and "points=0.1,-0.2,1" in json.loads(answer[2])["query"]


# -- what a connection may hold -------------------------------------------------------------
def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a killed browser does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_client_gone_mid_request_leaves_no_traceback(pg, sid, capsys):
    own = f"127.0.0.1:{pg.port}"
    half = request("POST", "/api/session", b'{"settings": {', host=own, length=400)
    for goodbye in (socket.socket.close, reset):
        for raw in (half, half[:25], request("GET", "/", host=own),
                    request("GET", f"/api/s/{sid}/frame?after=999999", host=own)):  # fmt: skip
            s = connect(pg)
            s.sendall(raw)
            time.sleep(0.05)
            goodbye(s)  # before (or while) the server answers
    time.sleep(1.5)  # the long poll answers after 1 s, into a closed socket
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Error" not in err, err[-2000:]
    assert serving(pg) and len(pg.sessions) == 1


def test_a_silent_connection_is_closed_after_the_idle_timeout(pg):
    own = f"127.0.0.1:{pg.port}"
    for sent in (
        b"",
        b"GET / HTTP/1.1\r\n",  # nothing; half the headers
        request("POST", "/api/session", b"{", host=own, length=100),
    ):  # half a body
        s = connect(pg, timeout=IDLE + 5)
        start = time.monotonic()
        s.sendall(sent)
        status, _, _ = read_answer(s)  # the server closes (or refuses the half request)
        waited = time.monotonic() - start
        s.close()
        assert status in (0, 400, 408) and 0.8 * IDLE <= waited < IDLE + 3, (sent, waited)


def test_a_body_must_arrive_in_time(pg, monkeypatch):
    monkeypatch.setattr(guard, "BODY_SECONDS", 0.5)
    with connect(pg) as s:
        s.sendall(request("POST", "/api/session", b"", host=f"127.0.0.1:{pg.port}", length=50))
        start = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - start < 5:
            s.sendall(b" ")  # one byte now and then: never silent for the idle timeout
            s.settimeout(0.2)
            try:
                answer = read_answer(s)
            except TimeoutError:
                pass
        assert answer[0] == 408 and "took over 0.5 s" in one_line_error(answer)


def test_a_request_dripping_its_headers_is_cut(pg, monkeypatch):
    """Slowloris: a byte now and then is never silent for the idle timeout, but the request
    line and headers must be whole within HEADERS_SECONDS of their first byte."""
    monkeypatch.setattr(guard, "HEADERS_SECONDS", 0.5)
    with connect(pg) as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        start, cut = time.monotonic(), False
        s.settimeout(0.2)
        while not cut and time.monotonic() - start < 5:
            try:
                s.sendall(b"X")
                cut = s.recv(100) == b""
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                cut = True
        waited = time.monotonic() - start
    assert cut and 0.4 <= waited < 0.5 + IDLE, waited
    assert serving(pg)


def handler_threads() -> int:
    return sum("process_request" in t.name for t in threading.enumerate())


def test_connections_are_bounded_and_the_rest_refused():
    server = Playground("127.0.0.1", 0, idle_timeout=5.0, max_connections=4).start()
    held = []
    try:
        before = handler_threads()
        for _ in range(30):  # 30 silent connections hold at most 4 threads
            held.append(connect(server, timeout=5))
        time.sleep(0.3)
        assert handler_threads() - before <= server.httpd.max_connections
        refused = 0
        for s in held[4:]:
            s.settimeout(3)
            try:
                status, _, body = read_answer(s)
            except ConnectionResetError:
                status, body = 0, b""
            assert status in (0, 503)  # 503 and closed, or closed
            refused += status == 503 and b"too many connections" in body
        assert refused >= 20
        for s in held:
            s.close()
        held.clear()
        deadline = time.time() + 5
        while time.time() < deadline and not serving(server):  # the slots come back
            time.sleep(0.1)
        assert serving(server)
    finally:
        for s in held:
            s.close()
        server.shutdown()


def test_a_ctrl_c_while_a_request_thread_starts_stops_the_server_and_frees_its_slot(monkeypatch):
    """A KeyboardInterrupt landing after a request's thread started (the thread gives its
    slot back, and so did process_request) once raised "Semaphore released too many times"
    in its place, and the server went on serving after Ctrl-C."""
    server = guard.GuardedServer(("127.0.0.1", 0), object, max_connections=2)
    try:
        finished = threading.Event()

        def started_then_interrupted(self, request, client_address):
            thread = threading.Thread(target=self.process_request_thread,
                                      args=(request, client_address))  # fmt: skip
            thread.start()
            thread.join()  # the thread is done and has given its slot back
            raise KeyboardInterrupt

        monkeypatch.setattr(guard.ThreadingHTTPServer, "process_request", started_then_interrupted)
        monkeypatch.setattr(guard.ThreadingHTTPServer, "process_request_thread",
                            lambda self, request, address: finished.set())  # fmt: skip
        a, b = socket.socketpair()
        with pytest.raises(KeyboardInterrupt):
            server.process_request(a, ("127.0.0.1", 1))
        assert finished.is_set()
        assert server.slots.acquire(blocking=False) and server.slots.acquire(blocking=False)
        assert not server.slots.acquire(blocking=False)  # both slots free, none made up
        assert server.releases == {}
        a.close()
        b.close()
    finally:
        server.server_close()
