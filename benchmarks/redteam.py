"""A red team of our own (issue 21): hostile cases against the five families of what the
issue found open, each counted as *held* or *failed*.

Families:

- ``playground``: the server's bodies, headers and connections (a real server on 127.0.0.1):
  every answer a 4xx with one line of JSON, an attacker's Host refused on 0.0.0.0 too, clients
  that vanish mid-request leave no traceback, silent sockets are closed, connections bounded.
- ``cli``: hostile arguments to ``flowgraph train/evaluate/render/gradcheck/search``, each a
  subprocess with a short workload: held when it exits 2 (usage) or 1 (failure) with one line
  on stderr and no traceback.
- ``model files``: crafted model files (truncated, flipped bytes, lying headers, pickles, zip
  tricks) given to ``fg.load_model`` in a worker process: held when refused with
  ``ModelFileError`` (or loaded harmlessly), failed on any other exception or a crash.
- ``resume files``: crafted ``resume.npz`` files given to ``flowgraph train --resume``: held
  when refused with one line and exit 1 or 2, writing nothing outside the run's folder.
- ``numerics``: the issue's silent wrong numbers as properties (x ** 0 at 0, float16 losses,
  gradient dtypes, gradient shapes, configs, jvp with preprocessing, concat's axis).

Every subprocess runs with its address space limited (``--memory``, 3 GiB), one BLAS thread,
and a timeout. Run ``python -m benchmarks.redteam`` (all, a few minutes) or pick families with
``--family``; ``--limit N`` tries the first N cases of each; ``--write`` puts the counts into
benchmarks/RESULTS.md. Exit status 1 when any case failed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ["playground", "cli", "model files", "resume files", "numerics"]
MEMORY = 3 << 30  # bytes of address space for each subprocess
SECTION = "redteam"


@dataclass
class Case:
    """One hostile case: ``run()`` returns None when the property held, else why not."""

    family: str
    name: str
    run: Callable[[], str | None]


@dataclass
class Outcome:
    family: str
    name: str
    failure: str | None  # None: held
    seconds: float = 0.0


def attempt(case: Case) -> Outcome:
    start = time.monotonic()
    try:
        failure = case.run()
    except Exception as e:  # the harness's own check raised: the property did not hold
        failure = f"{type(e).__name__}: {str(e)[:160]}"
    return Outcome(case.family, case.name, failure, time.monotonic() - start)


# -- subprocesses -----------------------------------------------------------------------------
def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip


def limit_memory(limit: int = MEMORY) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return preexec


def flowgraph(args: list[str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowgraph", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit_memory())  # fmt: skip


def one_line_refusal(proc: subprocess.CompletedProcess) -> str | None:
    """None when ``proc`` exited 1 or 2 with one line on stderr and no traceback."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    last = lines[-1][:160] if lines else "(nothing on stderr)"
    if "Traceback" in proc.stderr:
        return f"traceback: {last}"
    if proc.returncode == 0:
        return "accepted: exit 0"
    if proc.returncode not in (1, 2):
        return f"exit {proc.returncode}: {last}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr, the last: {last}"
    return None


def cli_case(family: str, name: str, args: list[str], cwd: Path, check=None) -> Case:
    """``flowgraph ARGS`` must be refused in one line; ``check()``, when given, too."""

    def run() -> str | None:
        try:
            proc = flowgraph(args, cwd)
        except subprocess.TimeoutExpired:
            return "no answer within 90 s"
        failure = one_line_refusal(proc)
        return failure or (check() if check is not None else None)

    return Case(family, name, run)


# -- the playground -----------------------------------------------------------------------------
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


def raw_request(method: str, path: str, body: bytes = b"", host: str = "127.0.0.1",
                headers: dict[str, str] | None = None) -> bytes:  # fmt: skip
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
}
ENDPOINTS = ["/api/session", "/api/s/{sid}/control", "/api/s/{sid}/settings",
             "/api/s/{sid}/point", "/api/s/{sid}/close"]  # fmt: skip
ATTACKER_HOSTS = ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "0x7f.1",
                  "localhost.evil.example", "", "[::ffff:evil]", "local host"]  # fmt: skip


def playground_cases(pg, sid: str) -> list[Case]:
    """Bodies and headers against the running server ``pg`` with session ``sid``."""
    port, own = pg.port, f"127.0.0.1:{pg.port}"
    cases = []

    def body_case(path: str, body: bytes) -> Callable[[], str | None]:
        return lambda: refused_with_sentence(http(port, raw_request("POST", path, body, own)),
                                             (400,))  # fmt: skip

    for endpoint in ENDPOINTS:
        for name, body in MALFORMED_BODIES.items():
            path = endpoint.format(sid=sid)
            cases.append(Case("playground", f"{endpoint} {name}", body_case(path, body)))
    framing = {
        "length -1": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nContent-Length: -1\r\n\r\n{}",
                      (400,)),  # fmt: skip
        "length 2_0": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nContent-Length: 2_0\r\n\r\n{}",
                       (400,)),  # fmt: skip
        "length 10^30": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nContent-Length: 1"
                         + b"0" * 30 + b"\r\n\r\n", (400, 413)),  # fmt: skip
        "length 10 MB": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nContent-Length: 10000000"
                         b"\r\n\r\n", (413,)),  # fmt: skip
        "chunked": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"2\r\n{}\r\n0\r\n\r\n", (400, 411)),  # fmt: skip
        "two lengths": (b"POST /api/session HTTP/1.1\r\nHost: H\r\nContent-Length: 2\r\n"
                        b"Content-Length: 5\r\n\r\n{}", (400,)),  # fmt: skip
        "PUT": (b"PUT /api/session HTTP/1.1\r\nHost: H\r\n\r\n", (405, 501)),
        "DELETE": (b"DELETE / HTTP/1.1\r\nHost: H\r\n\r\n", (405, 501)),
        "garbage line": (b"GARBAGE\r\n\r\n", (400,)),
        "HTTP/9.9": (b"GET / HTTP/9.9\r\nHost: H\r\n\r\n", (400, 505)),
        "200 headers": (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", (400, 431)),
        "long line": (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", (400, 414)),
        "after=10^5000": (f"GET /api/s/{sid}/frame?after={'9' * 5000} HTTP/1.1\r\nHost: H\r\n\r\n"
                          .encode(), (400,)),  # fmt: skip
        "graph=x": (f"GET /api/s/{sid}/frame?graph=x HTTP/1.1\r\nHost: H\r\n\r\n".encode(),
                    (400,)),  # fmt: skip
        "static NUL": (b"GET /static/a%00.js HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
        "static long": (b"GET /static/" + b"a" * 5000 + b".js HTTP/1.1\r\nHost: H\r\n\r\n",
                        (404,)),  # fmt: skip
        "static dots": (b"GET /static/..%2f..%2fserver.py HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
        "unknown session": (b"GET /api/s/nope/frame HTTP/1.1\r\nHost: H\r\n\r\n", (404,)),
    }
    for name, (raw, statuses) in framing.items():
        raw = raw.replace(b"Host: H", f"Host: {own}".encode())
        cases.append(Case("playground", f"framing: {name}",
                          lambda raw=raw, s=statuses: refused_with_sentence(http(port, raw), s)))
    for host in ATTACKER_HOSTS:
        host = host.format(port=port)
        for method in ("GET", "POST"):
            raw = raw_request(method, "/" if method == "GET" else "/api/session", b"{}", host)
            cases.append(Case("playground", f"Host {host!r} {method}",
                              lambda raw=raw: refused_with_sentence(http(port, raw), (403,))))
    senders = [{"Origin": "http://evil.example"}, {"Origin": "null"},
               {"Origin": f"https://{own}"}, {"Origin": f"http://127.0.0.1:{port + 1}"},
               {"Origin": "http://localhost.evil.example"}, {"Sec-Fetch-Site": "cross-site"},
               {"Sec-Fetch-Site": "same-site"}]  # fmt: skip
    for headers in senders:
        for method, path in (("POST", "/api/session"), ("GET", f"/api/s/{sid}/frame")):
            raw = raw_request(method, path, b"{}", own, headers)
            cases.append(Case("playground", f"{method} {path[:12]} with {headers}",
                              lambda raw=raw: refused_with_sentence(http(port, raw), (403,))))
    return cases


def connection_cases(pg, sid: str, stderr: io.StringIO) -> list[Case]:
    """Clients gone mid-request, silent sockets, too many connections; and afterwards, no
    traceback on the server's stderr and the page still served."""
    port, own = pg.port, f"127.0.0.1:{pg.port}"
    half = raw_request("POST", "/api/session", b'{"settings": {', own).replace(
        b"Content-Length: 14", b"Content-Length: 400")

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
    for name, raw in [("half a body", half), ("half the headers", half[:25]), ("a page", page),
                      ("a long poll", poll)]:  # fmt: skip
        for rst in (False, True):
            how = "reset" if rst else "closed"
            cases.append(Case("playground", f"{name}, then {how}",
                              lambda raw=raw, rst=rst: vanish(raw, rst)))  # fmt: skip
    for name, sent in [("nothing", b""), ("half the headers", b"GET / HTTP/1.1\r\n"),
                       ("half a body", half)]:  # fmt: skip
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
            evil = http(pg.port, raw_request("POST", "/api/session", b"{}", "evil.example"),
                        host=local)  # fmt: skip
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


def run_playground(limit: int | None) -> list[Outcome]:
    from flowgraph.playground.server import Playground

    stderr, real = io.StringIO(), sys.stderr
    sys.stderr = stderr  # the server's threads print here: a traceback is a failure
    pg = Playground("127.0.0.1", 0, timeout=60.0, max_sessions=8, idle_timeout=1.0,
                    max_connections=8).start()  # fmt: skip
    try:
        status, body = http(pg.port, raw_request("POST", "/api/session", b"{}",
                                                 f"127.0.0.1:{pg.port}"))  # fmt: skip
        sid = json.loads(body)["id"]
        cases = playground_cases(pg, sid)
        cases += [wildcard_case(bound) for bound in wildcards()]
        connections = connection_cases(pg, sid, stderr)  # the last: quiet and still serving
        cases = (cases + connections[:-1])[:limit] + connections[-1:]
        return [attempt(c) for c in cases]
    finally:
        pg.shutdown()
        sys.stderr = real


# -- the command line ---------------------------------------------------------------------------
QUICK = ["--dataset", "moons", "--n-samples", "100", "--epochs", "1", "--hidden", "4",
         "--no-progress"]  # fmt: skip
TRAIN_ARGS = {
    "--epochs": ["-1", "abc", "nan", "1e9", "0"],
    "--lr": ["nan", "inf", "-1", "abc", "1e400", "-inf"],
    "--hidden": ["-5", "abc", "0 4", "1.5", "1000000000"],
    "--n-samples": ["0", "-1", "abc", "10000000000", "1"],
    "--noise": ["-1", "nan", "inf", "abc"],
    "--valid": ["1.5", "-0.1", "nan", "1"],
    "--test": ["2", "-1", "nan"],
    "--batch-size": ["0", "-3", "abc", "1e3"],
    "--momentum": ["1", "-1", "nan", "5"],
    "--dataset": ["nosuch", "../../etc/passwd", ""],
    "--seed": ["-1", "abc", "1.5"],
    "--patience": ["-1", "abc"],
    "--decay": ["-1", "nan"],
    "--warmup": ["-1", "abc"],
    "--beta1": ["1.5", "-0.1"],
    "--eps": ["0", "-1", "nan"],
    "--weight-decay": ["-1", "nan"],
    "--l2": ["-1", "nan", "inf"],
    "--l1": ["-1", "nan"],
    "--optimizer": ["nope"],
    "--dtype": ["float16", "int8"],
    "--activation": ["softmax"],
    "--init": ["ones"],
}


def train_cases(work: Path) -> list[Case]:
    out = str(work / "runs" / "hostile")
    cases = []
    for option, values in TRAIN_ARGS.items():
        for v in values:
            args = ["train", *QUICK, "--out", out, option, *v.split(" ")]
            cases.append(cli_case("cli", f"train {option} {v[:24]}", args, work))
    (work / "a-file").write_text("x")
    for name, args in {
        "--valid 0.6 --test 0.6": ["--valid", "0.6", "--test", "0.6"],
        "--out is a file": ["--out", str(work / "a-file")],
        "--out under a file": ["--out", str(work / "a-file" / "run")],
        "--out /proc": ["--out", "/proc/flowgraph-redteam"],
        "--resume nowhere": ["--resume", str(work / "nowhere")],
        "--resume a file": ["--resume", str(work / "a-file")],
        "--data-dir nowhere, mnist": ["--dataset", "mnist", "--data-dir", str(work / "nowhere")],
        "unknown option": ["--frobnicate"],
        "--schedule power --decay 2": ["--schedule", "power", "--decay", "2"],
    }.items():
        cases.append(cli_case("cli", f"train {name}", ["train", *QUICK, "--out", out, *args],
                              work))  # fmt: skip
    return cases


def crafted_files(work: Path) -> dict[str, Path]:
    """Files that are not what a command expects."""
    files = {"nowhere": work / "nowhere.npz", "a folder": work}
    kinds = {"empty": b"", "text": b"hello\n", "zip of text": None, "npz without meta": None,
             "random bytes": os.urandom(3000)}  # fmt: skip
    for name, data in kinds.items():
        path = work / f"crafted-{name.replace(' ', '-')}.npz"
        if name == "zip of text":
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("a.txt", "hello")
        elif name == "npz without meta":
            np.savez(path, x=np.zeros(3))
        else:
            path.write_bytes(data)
        files[name] = path
    return files


def model_cli_cases(work: Path, model: Path) -> list[Case]:
    cases = []
    for name, path in crafted_files(work).items():
        cases.append(cli_case("cli", f"evaluate {name}", ["evaluate", str(path)], work))
        cases.append(cli_case("cli", f"render {name}", ["render", str(path), "-o",
                                                         str(work / "g.svg")], work))  # fmt: skip
    feed = work / "feed-wrong.npz"
    np.savez(feed, x=np.zeros((3, 7)), y=np.zeros(3))
    for name, args in {
        "evaluate --split nope": ["evaluate", str(model), "--split", "nope"],
        "evaluate --dataset nosuch": ["evaluate", str(model), "--dataset", "nosuch"],
        "evaluate --dataset digits (other inputs)": ["evaluate", str(model), "--dataset", "digits"],
        "evaluate --feed nowhere": ["evaluate", str(model), "--feed", str(work / "none.npz")],
        "evaluate --feed wrong shapes": ["evaluate", str(model), "--feed", str(feed)],
        "evaluate --feed a text": ["evaluate", str(model), "--feed", str(work / "a-file")],
        "evaluate --boxes nomodule:X": ["evaluate", str(model), "--boxes", "nomodule:X"],
        "evaluate --boxes os:system": ["evaluate", str(model), "--boxes", "os:system"],
        "evaluate --boxes bad": ["evaluate", str(model), "--boxes", "bad"],
        "evaluate --plot under a file": ["evaluate", str(model), "--plot",
                                         str(work / "a-file" / "c.png")],  # fmt: skip
        "render --batch 0": ["render", str(model), "--values", "--batch", "0"],
        "render --batch -1": ["render", str(model), "--values", "--batch", "-1"],
        "render --batch abc": ["render", str(model), "--values", "--batch", "abc"],
        "render --rankdir XX": ["render", str(model), "--rankdir", "XX"],
        "render -o .xyz": ["render", str(model), "-o", str(work / "g.xyz")],
        "render -o under a file": ["render", str(model), "-o", str(work / "a-file" / "g.svg")],
        "render --feed wrong shapes": ["render", str(model), "--values", "--feed", str(feed)],
        "render --dataset nosuch": ["render", str(model), "--values", "--dataset", "nosuch"],
        "render --boxes nomodule:X": ["render", str(model), "--boxes", "nomodule:X"],
        "render --seed abc": ["render", str(model), "--seed", "abc"],
        "gradcheck NoSuchBox": ["gradcheck", "NoSuchBox"],
        "gradcheck --eps 0": ["gradcheck", "Tanh", "--eps", "0"],
        "gradcheck --eps -1": ["gradcheck", "Tanh", "--eps", "-1"],
        "gradcheck --eps nan": ["gradcheck", "Tanh", "--eps", "nan"],
        "gradcheck --eps abc": ["gradcheck", "Tanh", "--eps", "abc"],
        "gradcheck --eps 1e400": ["gradcheck", "Tanh", "--eps", "1e400"],
        "gradcheck --seed abc": ["gradcheck", "Tanh", "--seed", "abc"],
        "gradcheck --seed -1": ["gradcheck", "Tanh", "--seed", "-1"],
    }.items():
        cases.append(cli_case("cli", name, args, work))
    return cases


def search_cases(work: Path) -> list[Case]:
    base = ["search", "--dataset", "moons", "--n-samples", "100", "--no-progress",
            "--out", str(work / "runs" / "search")]  # fmt: skip
    quick = ["--set", "epochs=1", "batch_size=16"]
    bad_space = {"not json": b"{nope", "a list": b"[1, 2]", "deep": b"[" * 100_000,
                 "bad distribution": b'{"lr": {"lognormal": [1, 2]}}',
                 "bad bounds": b'{"lr": {"loguniform": [1, -1]}}',
                 "unknown name": b'{"nonsense": [1, 2]}', "huge int": b'{"epochs": 1' +
                 b"0" * 5000 + b"}"}  # fmt: skip
    spaces = {}
    for name, data in bad_space.items():
        spaces[name] = work / f"space-{name.replace(' ', '-')}.json"
        spaces[name].write_bytes(data)
    checkpoint = work / "checkpoint-negative.jsonl"
    cases = []
    for name, args in {
        "--grid lr=abc": ["--grid", "lr=abc", *quick],
        "--grid nosuch=1": ["--grid", "nosuch=1", *quick],
        "--grid lr=": ["--grid", "lr=", *quick],
        "--grid lr=-1": ["--grid", "lr=-1", *quick],
        "--grid lr=nan": ["--grid", "lr=nan", *quick],
        "--grid hidden=-3": ["--grid", "hidden=-3", *quick],
        "--grid epochs=-1": ["--grid", "epochs=-1", "--set", "batch_size=16"],
        "--grid no equals": ["--grid", "lr", *quick],
        "--random -1": ["--random", "-1", *quick],
        "--random abc": ["--random", "abc", *quick],
        "--random without space": ["--random", "3", *quick],
        "--space nowhere": ["--random", "2", "--space", str(work / "none.json"), *quick],
        "--space a folder": ["--random", "2", "--space", str(work), *quick],
        "--space /dev/zero": ["--random", "2", "--space", "/dev/zero", *quick],
        **{f"--space {k}": ["--random", "2", "--space", str(p), *quick]
           for k, p in spaces.items()},  # fmt: skip
        "--set epochs=-1": ["--grid", "lr=0.1", "--set", "epochs=-1"],
        "--set lr in --grid too": ["--grid", "lr=0.1", "--set", "lr=0.2", "epochs=1"],
        "--jobs 0": ["--grid", "lr=0.1", "--jobs", "0", *quick],
        "--jobs abc": ["--grid", "lr=0.1", "--jobs", "abc", *quick],
        "--scheduler nonsense": ["--grid", "lr=0.1", "--scheduler", "nonsense", *quick],
        "--checkpoint a folder": ["--grid", "lr=0.1", "--checkpoint", str(work), *quick],
        "--checkpoint valid_error -5": ["--grid", "lr=0.1,0.2", "--checkpoint", str(checkpoint),
                                        *quick],  # fmt: skip
        "--n-samples -1": ["--grid", "lr=0.1", "--n-samples", "-1", *quick],
        "--valid 2": ["--grid", "lr=0.1", "--valid", "2", *quick],
        "--top -1": ["--grid", "lr=0.1", "--top", "-1", *quick],
    }.items():
        check = None
        if name == "--checkpoint valid_error -5":
            setup = forged_checkpoint(work, checkpoint, base, quick)
            cases.append(Case("cli", f"search {name}", setup))
            continue
        cases.append(cli_case("cli", f"search {name}", [*base, *args], work, check))
    return cases


def forged_checkpoint(work: Path, path: Path, base: list[str], quick: list[str]):
    """A finished search's checkpoint whose first trial claims valid_error -5: resuming must
    refuse it (one line), not choose it as the best trial."""

    def run() -> str | None:
        args = [*base, "--grid", "lr=0.1,0.2", "--checkpoint", str(path), *quick]
        first = flowgraph(args, work)
        if first.returncode != 0:
            return f"the honest search failed: {first.stderr[-160:]}"
        lines = path.read_text().splitlines()
        record = json.loads(lines[1])
        record["valid_error"] = -5
        lines[1] = json.dumps(record)
        path.write_text("\n".join(lines) + "\n")
        return one_line_refusal(flowgraph(args, work))

    return run


def run_cli(work: Path, limit: int | None) -> list[Outcome]:
    model = work / "run" / "model.npz"
    cases = train_cases(work) + model_cli_cases(work, model) + search_cases(work)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(attempt, cases[:limit]))


# -- crafted files ------------------------------------------------------------------------------
def npy(descr: str, shape: tuple, payload: bytes = b"", fortran: bool = False) -> bytes:
    """The bytes of an .npy file whose header says ``descr`` and ``shape``, whatever follows."""
    header = f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def array_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_zip(path: Path, content: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in content.items():
            z.writestr(name, data)
    return path


def zip_bomb(path: Path, name: str, gib: float = 1.0) -> Path:
    """A member of ``gib`` GiB of zeros (an .npy of float64), deflated to about a MiB."""
    n = int(gib * 2**30) // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(name, "w", force_zip64=True) as f:
            f.write(npy("<f8", (n,)))
            zeros = bytes(1 << 24)
            for _ in range(n * 8 // len(zeros)):
                f.write(zeros)
    return path


def crafted_models(base: Path, folder: Path) -> dict[str, Path]:
    """Model files made from ``base`` by one hostile change each."""
    folder.mkdir(parents=True, exist_ok=True)
    data, parts = base.read_bytes(), members(base)
    rng = np.random.default_rng(21)
    out: dict[str, Path] = {}

    def keep(name: str, content: bytes | dict[str, bytes]) -> None:
        path = folder / f"{len(out):03d}.npz"
        if isinstance(content, dict):
            write_zip(path, content)
        else:
            path.write_bytes(content)
        out[name] = path

    for k in range(16):
        keep(f"truncated at {k}/16", data[: len(data) * k // 16])
    for _ in range(16):
        flipped = bytearray(data)
        i = int(rng.integers(len(data)))
        flipped[i] ^= 0xFF
        keep(f"byte {i} flipped", bytes(flipped))
    params = [n for n in parts if n.startswith("param/")]
    meta_name = next(n for n in parts if n.startswith("__meta__"))
    for name in parts:
        keep(f"without {name}", {k: v for k, v in parts.items() if k != name})
    w = params[0]
    for name, payload in {
        "shape (1e10,)": npy("<f4", (10**10,)),
        "shape (-1,)": npy("<f4", (-1,)),
        "shape 2^62 x 4": npy("<f4", (2**62, 4)),
        "object dtype (a pickle)": array_bytes(np.array([{"a": 1}], dtype=object)),
        "unicode dtype": array_bytes(np.array(["a", "b"])),
        "complex": array_bytes(np.zeros((4, 2), complex)),
        "another shape": array_bytes(np.zeros((3, 3), np.float32)),
        "NaN values": array_bytes(np.full((4, 2), np.nan, np.float32)),
        "0-d": array_bytes(np.float32(1)),
        "a header only": npy("<f4", (4, 2)),
        "a bad header": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4 \n",
        "header length 65535": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 100,
        "version 3": b"\x93NUMPY\x03\x00" + npy("<f4", (4, 2))[8:],
    }.items():
        keep(f"{w} {name}", {**parts, w: payload})
    for name, text in {
        "not JSON": "{nope",
        "a list": "[1, 2]",
        "deep": "[" * 100_000 + "]" * 100_000,
        "a 5,000-digit int": '{"format": 1' + "0" * 5000 + "}",
        "empty": "",
        "another format": '{"format": "something-else", "version": 2}',
    }.items():
        keep(f"__meta__ {name}", {**parts, meta_name: array_bytes(np.array(text))})
    keep("a member named ../evil.npy", {**parts, "../evil.npy": parts[w]})
    keep("an extra member", {**parts, "param/evil.npy": parts[w]})
    keep("a member twice", {**parts})  # rewritten below with a duplicate name
    with zipfile.ZipFile(out["a member twice"], "a") as z, _quiet_duplicates():
        z.writestr(w, array_bytes(np.zeros((3, 3), np.float32)))
    out["1 GiB of zeros deflated"] = zip_bomb(folder / "bomb.npz", w)
    return out


class _quiet_duplicates:
    def __enter__(self):
        import warnings

        self.catch = warnings.catch_warnings()
        self.catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.catch.__exit__(*exc)


LOADER = """
import json, sys
import flowgraph as fg
for path in sys.argv[1:]:
    print(json.dumps({"begin": path}), flush=True)
    try:
        model = fg.load_model(path)
        outcome = {"path": path, "loaded": True}
    except fg.FlowgraphError as e:
        outcome = {"path": path, "refused": type(e).__name__, "message": str(e)[:120]}
    except Exception as e:
        outcome = {"path": path, "error": type(e).__name__, "message": str(e)[:120]}
    print(json.dumps(outcome), flush=True)
"""


def load_in_workers(paths: list[Path], timeout: float = 120) -> dict[str, str | None]:
    """Each path loaded by ``fg.load_model`` in a worker process (3 GiB of address space);
    a worker that dies fails the file it was on and a new one takes the rest."""
    results: dict[str, str | None] = {}
    todo = [str(p) for p in paths]
    while todo:
        try:
            proc = subprocess.run([sys.executable, "-c", LOADER, *todo], env=env(),
                                  capture_output=True, text=True, timeout=timeout,
                                  preexec_fn=limit_memory())  # fmt: skip
            stdout, died = proc.stdout, f"the loader died (exit {proc.returncode})"
        except subprocess.TimeoutExpired as e:
            stdout, died = (e.stdout or b"").decode(), f"no answer within {timeout:g} s"
        current = None
        for line in stdout.splitlines():
            record = json.loads(line)
            if "begin" in record:
                current = record["begin"]
            else:
                current = None
                error = record.get("error")
                results[record["path"]] = f"{error}: {record['message']}" if error else None
        if current is not None:
            results[current] = died
        remaining = [p for p in todo if p not in results]
        if len(remaining) == len(todo):  # no progress: the worker cannot start
            results.update({p: died for p in remaining})
            break
        todo = remaining
    return results


def run_models(work: Path, limit: int | None) -> list[Outcome]:
    crafted = crafted_models(work / "run" / "model.npz", work / "models")
    names = list(crafted)[:limit]
    results = load_in_workers([crafted[n] for n in names])
    return [Outcome("model files", n, results.get(str(crafted[n]), "not tried")) for n in names]


def resume_variants(other: Path) -> dict[str, Callable[[dict, dict], None]]:
    """Hostile changes to a resume point: each edits (meta, arrays) in place."""

    def args(**kw):
        return lambda meta, arrays: meta["args"].update(kw)

    def state(**kw):
        return lambda meta, arrays: meta["state"].update(kw)

    def array(name, value):
        return lambda meta, arrays: arrays.__setitem__(name, value)

    def drop(name):
        return lambda meta, arrays: arrays.pop(name, None)

    return {
        "hidden 'abc'": args(hidden="abc"),
        "hidden [-1]": args(hidden=[-1]),
        "hidden [10^9]": args(hidden=[10**9]),
        "lr 'fast'": args(lr="fast"),
        "lr -1": args(lr=-1),
        "batch_size 0": args(batch_size=0),
        "n_samples 10^10": args(n_samples=10**10),
        "dtype 'object'": args(dtype="object"),
        "activation 'nope'": args(activation="nope"),
        "optimizer 'nope'": args(optimizer="nope"),
        "another dataset": args(dataset="circles"),
        "'resume' elsewhere": args(resume=str(other / "via-resume")),
        "'out' elsewhere": args(out=str(other / "via-out")),
        "an unknown option": args(frobnicate=1),
        "args a list": lambda meta, arrays: meta.__setitem__("args", [1, 2]),
        "args missing": lambda meta, arrays: meta.pop("args"),
        "epoch 'two'": state(epoch="two"),
        "epoch -5": state(epoch=-5),
        "epoch 10^30": state(epoch=10**30),
        "state a list": lambda meta, arrays: meta.__setitem__("state", []),
        "rng garbage": state(rng={"bit_generator": "Nope", "state": 1}),
        "history garbage": state(history={"epoch": "x"}),
        "optimizer state missing": lambda meta, arrays: meta.pop("optimizer"),
        "buffers too many": lambda meta, arrays: meta["buffers"].update(velocity=[True] * 9),
        "buffers a string": lambda meta, arrays: meta.__setitem__("buffers", "velocity"),
        "format other": lambda meta, arrays: meta.__setitem__("format", "other"),
        "version 2": lambda meta, arrays: meta.__setitem__("version", 2),
        "param W1 missing": drop("param/W1"),
        "param W1 another shape": array("param/W1", np.zeros((7, 7), np.float32)),
        "param W1 NaN": array("param/W1", np.full((4, 2), np.nan, np.float32)),
        "param W1 int": array("param/W1", np.zeros((4, 2), np.int64)),
        "param W1 strings": array("param/W1", np.array([["a", "b"]] * 4)),
        "an extra param": array("param/evil", np.zeros(3, np.float32)),
        "velocity 0 missing": drop("opt/velocity/0"),
        "velocity 0 another shape": array("opt/velocity/0", np.zeros(5, np.float32)),
    }


def write_resume(path: Path, meta: dict | str, arrays: dict[str, np.ndarray]) -> None:
    text = meta if isinstance(meta, str) else json.dumps(meta)
    np.savez(path, __meta__=np.array(text), **arrays)


def crafted_resumes(run: Path, folder: Path) -> dict[str, tuple[Path, Path]]:
    """Run folders whose resume.npz is changed in one hostile way: name -> (folder, the folder
    of the stored options that point elsewhere, which must stay absent)."""
    with np.load(run / "resume.npz", allow_pickle=False) as f:
        meta0 = json.loads(str(f["__meta__"]))
        arrays0 = {k: f[k] for k in f.files if k != "__meta__"}
    out = {}
    for i, (name, change) in enumerate(resume_variants(folder / "other").items()):
        via = "via-resume" if "'resume'" in name else "via-out" if "'out'" in name else "none"
        d = folder / f"r{i:02d}"
        d.mkdir(parents=True, exist_ok=True)
        meta, arrays = json.loads(json.dumps(meta0)), dict(arrays0)
        change(meta, arrays)
        write_resume(d / "resume.npz", meta, arrays)
        out[name] = (d, folder / "other" / via)
    raw = (run / "resume.npz").read_bytes()
    files = {"truncated": raw[: len(raw) // 2], "empty": b"", "random bytes": os.urandom(2000),
             "a text": b"resume\n"}  # fmt: skip
    n = len(out)
    for name, data in files.items():
        d = folder / f"r{n:02d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "resume.npz").write_bytes(data)
        out[name] = (d, folder / "other" / "none")
        n += 1
    for name, meta in {"__meta__ not JSON": "{nope", "__meta__ deep": "[" * 100_000,
                       "__meta__ 5,000-digit int": "1" + "0" * 5000}.items():  # fmt: skip
        d = folder / f"r{n:02d}"
        d.mkdir(parents=True, exist_ok=True)
        write_resume(d / "resume.npz", meta, arrays0)
        out[name] = (d, folder / "other" / "none")
        n += 1
    d = folder / f"r{n:02d}"
    d.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(d / "resume.npz", "w") as z:
        z.writestr("__meta__.npy", array_bytes(np.array(json.dumps(meta0))))
        z.writestr("param/W1.npy", npy("<f4", (10**10,)))
    out["param W1 of shape (1e10,)"] = (d, folder / "other" / "none")
    return out


def run_resumes(work: Path, limit: int | None) -> list[Outcome]:
    crafted = crafted_resumes(work / "run", work / "resumes")
    cases = []
    for name, (folder, absent) in list(crafted.items())[:limit]:

        def elsewhere(absent=absent) -> str | None:
            return f"wrote into {absent}" if absent.exists() else None

        args = ["train", "--resume", str(folder), "--epochs", "4", "--no-progress"]
        cases.append(cli_case("resume files", name, args, work, elsewhere))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(attempt, cases))


# -- numerics -----------------------------------------------------------------------------------
def grad_of_power(n: float, at: float) -> str | None:
    """d/dx sum(x ** n) at x = ``at`` is n at^(n-1) (0 for n = 0, as torch says)."""
    import flowgraph as fg

    x = fg.Parameter(np.full(3, at), "x")
    graph = fg.Graph(fg.sum(x**n))
    graph.fprop({})
    graph.bprop()
    want = 0.0 if n == 0 else n * at ** (n - 1)
    got = np.asarray(x.grad)
    return None if np.allclose(got, want) else f"gradient {got[0]} (want {want})"


def half_precision_loss(kind: str, n: int) -> str | None:
    """A float16 loss over N examples agrees with the float64 one (to float16's precision),
    in float16, and so does its gradient."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    scores = rng.standard_normal((n, 3))
    labels = rng.integers(0, 3, n)
    results = {}
    for dtype in (np.float16, np.float64):
        a = fg.Parameter(scores.astype(dtype), "a")
        y = fg.Input("y")
        if kind == "softmax":
            loss = fg.softmax_cross_entropy(a, y)
            feed = {y: labels}
        elif kind == "sigmoid":
            loss = fg.sigmoid_cross_entropy(a, y)
            feed = {y: (labels[:, None] == np.arange(3)).astype(np.int64)}
        else:
            loss = fg.squared_error(a, y)
            feed = {y: np.zeros((n, 3), dtype)}
        graph = fg.Graph(loss)
        value = np.asarray(graph.fprop(feed))
        graph.bprop()
        results[dtype] = (value, np.asarray(a.grad))
    (v16, g16), (v64, g64) = results[np.float16], results[np.float64]
    if v16.dtype != np.float16:
        return f"the loss is {v16.dtype}, not float16"
    if not abs(float(v16) - float(v64)) <= 1e-2 * abs(float(v64)):
        return f"loss {float(v16)} in float16, {float(v64)} in float64"
    if not np.allclose(g16.astype(np.float64), g64, rtol=2e-2, atol=1e-7):
        return f"gradient off: max |g16 - g64| = {np.max(np.abs(g16 - g64)):.3g}"
    return None


def mixed_precision(kind: str) -> str | None:
    """A parameter's gradient has its dtype; a box keeps its input's dtype."""
    import flowgraph as fg

    x = fg.Input("x")
    X = np.ones((4, 3))  # float64 data
    if kind == "leaky_relu float16":
        h = fg.Parameter(np.ones((4, 3), np.float16), "h")
        out = fg.Graph(fg.leaky_relu(h)).fprop({})
        return None if out.dtype == np.float16 else f"LeakyReLU gives {out.dtype}"
    dtype = np.float32 if "float32" in kind else np.float16
    W = fg.Parameter(np.ones((2, 3), dtype), "W")
    b = fg.Parameter(np.zeros(2, dtype), "b")
    node = fg.Linear()(x, W, b) if kind.startswith("Linear") else x @ W.T
    graph = fg.Graph(fg.sum(node))
    graph.fprop({x: X})
    graph.bprop()
    return None if W.grad.dtype == dtype else f"W is {np.dtype(dtype)}, its gradient {W.grad.dtype}"


def wrong_gradient_shape() -> str | None:
    """A box whose bprop forgets to sum the bias gradient over the batch: a BoxError naming
    the shapes at bprop, not a broadcasting error later."""
    import flowgraph as fg

    class AddBias(fg.Box):
        arity, input_names = 2, ("x", "b")

        def fprop(self, x, b):
            return x + b

        def bprop(self, inputs, y, grad_y):
            return grad_y, grad_y  # grad_b should be grad_y.sum(0)

    x, b = fg.Input("x"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.sum(AddBias()(x, b)))
    graph.fprop({x: np.ones((4, 3))})
    try:
        graph.bprop()
    except fg.BoxError as e:
        return None if "(3,)" in str(e) and "(4, 3)" in str(e) else f"BoxError without shapes: {e}"
    return f"accepted: b.grad has shape {np.shape(b.grad)} for a (3,) parameter"


def config_less_box(folder: Path) -> str | None:
    """A box with constructor arguments (with defaults) and no config() is refused at save."""
    import flowgraph as fg

    class Times(fg.Box):
        input_names = ("x",)

        def __init__(self, k=1.0):
            self.k = k

        def fprop(self, x):
            return self.k * x

        def bprop(self, inputs, y, grad_y):
            return (self.k * grad_y,)

    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(np.ones((2, 2)), "W")
    model = fg.Model(fg.squared_error(Times(3.0)(x @ W.T), y))
    try:
        model.save(folder / "times.npz")
    except (fg.FlowgraphError, TypeError, ValueError) as e:
        return None if "config" in str(e) else f"refused without naming config(): {e}"
    return "saved; it loads as another model (Times rebuilt without k)"


def jvp_with_preprocessing() -> str | None:
    """fg.jvp on a model applies its preprocessing, as Model.loss_value does."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)) * 5 + 3, rng.integers(0, 2, 20)
    model = fg.mlp([2, 3, 2], dtype=np.float64)
    model.preprocessing = fg.Preprocessing("scale", factor=0.1)
    want = model.loss_value(X, y)
    feed = {"x": X, "y": y}  # raw data, as for loss_value
    values, _ = fg.jvp(model, feed, {model.parameters[0]: np.zeros(model.parameters[0].shape)})
    got = float(np.ravel(values[0] if isinstance(values, (list, tuple)) else values)[0])
    return None if abs(got - want) < 1e-9 else f"jvp's loss {got:.4f}, loss_value {want:.4f}"


def train_error_of_other_output() -> str | None:
    """history.train_error is a number when the output's softmax reads another node."""
    import flowgraph as fg

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    x, t = fg.Input("x"), fg.Input("y")
    V = fg.Parameter(rng.standard_normal((3, 2)), "V")
    model = fg.Model(loss=fg.softmax_cross_entropy(x @ V.T, t), output=fg.softmax(x @ V.T))
    history = fg.train(model, (X, y), epochs=1, batch_size=10, optimizer=fg.SGD(model.parameters,
                       lr=0.1), progress=False)  # fmt: skip
    error = history.train_error[-1]
    return None if np.isfinite(error) else f"train_error {error} (model.error works)"


def concat_axis() -> str | None:
    """fg.concat's default axis is NumPy's (0), as its docstring says."""
    import flowgraph as fg

    a, b = fg.Input("a"), fg.Input("b")
    out = fg.Graph(fg.concat([a, b])).fprop({a: np.ones((2, 3)), b: np.ones((2, 3))})
    want = np.concatenate([np.ones((2, 3))] * 2).shape
    return None if out.shape == want else f"shape {out.shape}, np.concatenate gives {want}"


def impossible_axis() -> str | None:
    """x.sum(0) on a 0-d node is refused where it is built, not in bprop."""
    import flowgraph as fg

    p = fg.Parameter(np.array(2.0), "p")
    try:
        node = p.sum(0)
    except (fg.FlowgraphError, ValueError) as e:
        return None if "axis" in str(e) else f"refused without naming the axis: {e}"
    graph = fg.Graph(node)
    graph.fprop({})
    graph.bprop()
    return "accepted at construction"


def numerics_cases(work: Path) -> list[Case]:
    cases = [Case("numerics", f"d/dx x**{n} at {at}", lambda n=n, at=at: grad_of_power(n, at))
             for n, at in [(0, 0.0), (0, 2.0), (1, 0.0), (2, 0.0), (3, 0.0), (0.5, 1.0),
                           (0, -1.0), (2, -1.5)]]  # fmt: skip
    for kind in ("softmax", "sigmoid", "squared"):
        for n in (1_000, 70_000, 300_000):
            cases.append(Case("numerics", f"float16 {kind} loss at N = {n}",
                              lambda k=kind, n=n: half_precision_loss(k, n)))  # fmt: skip
    for kind in ("Linear float32", "Linear float16", "@ float32", "@ float16",
                 "leaky_relu float16"):  # fmt: skip
        cases.append(Case("numerics", f"dtype: {kind}", lambda k=kind: mixed_precision(k)))
    cases += [
        Case("numerics", "a bias gradient of the wrong shape", wrong_gradient_shape),
        Case("numerics", "a box without config()", lambda: config_less_box(work)),
        Case("numerics", "jvp applies preprocessing", jvp_with_preprocessing),
        Case("numerics", "train_error with another output", train_error_of_other_output),
        Case("numerics", "concat's default axis", concat_axis),
        Case("numerics", "sum(0) of a 0-d node", impossible_axis),
    ]
    return cases


def run_numerics(work: Path, limit: int | None) -> list[Outcome]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [attempt(c) for c in numerics_cases(work)[:limit]]


# -- the run ------------------------------------------------------------------------------------
def prepare(work: Path) -> None:
    """A short finished run in work/run: its model.npz and resume.npz are the crafted files'
    originals."""
    args = ["train", *QUICK[:-3], "--epochs", "2", "--hidden", "4", "--no-progress",
            "--out", str(work / "run")]  # fmt: skip
    proc = flowgraph(args, work, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"redteam: the reference run failed: {proc.stderr[-400:]}")


RUNNERS = {
    "playground": lambda work, limit: run_playground(limit),
    "cli": run_cli,
    "model files": run_models,
    "resume files": run_resumes,
    "numerics": run_numerics,
}


def run(families: list[str], limit: int | None = None) -> dict[str, list[Outcome]]:
    """The outcomes of each family's cases (the first ``limit`` of each)."""
    with tempfile.TemporaryDirectory(prefix="flowgraph-redteam-") as tmp:
        work = Path(tmp)
        if set(families) & {"cli", "model files", "resume files"}:
            prepare(work)
        return {f: RUNNERS[f](work, limit) for f in families}


def report(outcomes: dict[str, list[Outcome]], seconds: float) -> str:
    """A Markdown table of tried / held / failed per family, then every failure."""
    lines = ["| family | tried | held | failed |", "|---|---:|---:|---:|"]
    total = [0, 0]
    for family, results in outcomes.items():
        failed = sum(o.failure is not None for o in results)
        lines.append(f"| {family} | {len(results)} | {len(results) - failed} | {failed} |")
        total[0] += len(results)
        total[1] += failed
    lines.append(f"| all | {total[0]} | {total[0] - total[1]} | {total[1]} |")
    lines.append(f"\n{total[0]} hostile cases in {seconds:.0f} s.")
    failures = [o for results in outcomes.values() for o in results if o.failure]
    if failures:
        lines.append("\nFailures:\n")
        lines += [f"- {o.family}: {o.name}: {o.failure}" for o in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redteam", description=__doc__
                                     .split("\n\n")[0])  # fmt: skip
    parser.add_argument("--family", action="append", choices=FAMILIES,
                        help="a family to try (repeat; default: all)")  # fmt: skip
    parser.add_argument("--limit", type=int, default=None, help="the first N cases of each")
    parser.add_argument("--write", action="store_true", help="the counts into RESULTS.md")
    args = parser.parse_args(argv)
    start = time.monotonic()
    outcomes = run(args.family or FAMILIES, args.limit)
    text = report(outcomes, time.monotonic() - start)
    print(text)
    if args.write:
        from .sections import replace_section

        body = "## Red team (issue 21)\n\n`python -m benchmarks.redteam`\n\n" + text
        replace_section(Path(__file__).parent / "RESULTS.md", SECTION, body)
    return 1 if any(o.failure for r in outcomes.values() for o in r) else 0


if __name__ == "__main__":
    sys.exit(main())
