"""The playground without a browser: settings, runs, the server's handlers, the command."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from flowgraph.cli import main as cli_main
from flowgraph.playground import Run, Session, SettingsError, parse
from flowgraph.playground.server import Playground
from flowgraph.playground.session import GRID, THUMB
from flowgraph.playground.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


# -- settings -------------------------------------------------------------------------------
def test_defaults_and_query_round_trip():
    assert parse({}) == Settings()
    assert Settings().to_query() == ""
    s = parse({"dataset": "spirals", "hidden": "8,8", "lr": "0.05", "features": "x2,x1,x1x2",
               "points": "0.5,-0.25,1;0,0,0", "seed": "7"})  # fmt: skip
    assert s.hidden == (8, 8) and s.lr == 0.05 and s.seed == 7
    assert s.features == ("x1", "x2", "x1x2")  # canonical order
    assert s.points == ((0.5, -0.25, 1.0), (0.0, 0.0, 0.0))
    q = s.to_query()
    from urllib.parse import parse_qsl

    assert parse(dict(parse_qsl(q))) == s
    assert parse({"hidden": "0"}).hidden == () and parse({"hidden": []}).hidden == ()


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"hidden": "1000000000"}, "hidden layer 1 width must lie in [1, 16]"),
        ({"hidden": "4,4,4,4,4,4,4"}, "at most 6 hidden layers"),
        ({"lr": "-0.1"}, "learning rate must lie in"),
        ({"lr": "nan"}, "learning rate must be a finite number"),
        ({"lr": "fast"}, "learning rate must be a number"),
        ({"dataset": "mnist"}, "unknown classification dataset 'mnist'"),
        ({"problem": "regression", "dataset": "moons"}, "unknown regression dataset 'moons'"),
        ({"n": "2.5"}, "must be a whole number"),
        ({"batch": 0}, "batch size must lie in [1, 2000]"),
        ({"features": ""}, "at least one input feature"),
        ({"features": "x1,x3"}, "unknown feature 'x3'"),
        ({"points": "0,0"}, "point 1 must be x1,x2,label"),
        ({"points": "0,0,5"}, "point 1 class must lie in [0, 1]"),
        ({"schedule": "power", "decay": "0.2"}, "0.5 < decay <= 1"),
        ({"momentum": True}, "momentum must be a number"),
        ({"width": "3"}, "unknown setting width"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(raw, words):
    with pytest.raises(SettingsError) as e:
        parse(raw)
    assert words in str(e.value)


# -- runs -----------------------------------------------------------------------------------
def test_same_seed_same_run_and_training_learns():
    s = parse({"dataset": "moons", "hidden": "8,8", "seed": "3"})
    a, b = Run(s), Run(s)
    loss0 = a.metrics()["tr_loss"]
    a.steps(300)
    b.steps(300)
    for p, q in zip(a.net.parameters, b.net.parameters):
        np.testing.assert_array_equal(p.value, q.value)
    assert a.metrics()["tr_loss"] < 0.8 * loss0
    c = Run(parse({"dataset": "spirals", "hidden": "8,8", "seed": "4"}))
    assert not np.array_equal(c.net.weights[0].value, Run(s).net.weights[0].value)


def test_steps_in_pictures_do_not_change_the_run():
    s = parse({"hidden": "4", "batch": 7})
    a, b = Run(s), Run(s)
    a.steps(60)
    done = 0
    while done < 60:
        done += b.steps(min(13, 60 - done), budget=0.0)  # a tiny budget: one step at a time
    np.testing.assert_array_equal(a.net.weights[0].value, b.net.weights[0].value)
    assert a.t == b.t == 60


def test_epoch_step_counts_and_clicked_points():
    s = parse({"n": 100, "ratio": 50, "batch": 8})
    r = Run(s)
    r.run_epoch()
    assert r.t == 7 and r.epoch == pytest.approx(1.0)  # ceil(50 / 8) steps
    r.step()
    assert r.epochs_done == 1
    w = r.net.weights[0].value.copy()
    r.set_points(s.with_point(0.1, 0.2, 1))
    assert len(r.y_tr) == 51 and r.y_tr[-1] == 1
    np.testing.assert_array_equal(r.net.weights[0].value, w)  # the weights stay


@pytest.mark.parametrize("dataset", ["moons", "circles", "spirals", "xor", "blobs"])
def test_picture_of_every_classification_set(dataset):
    s = parse({"dataset": dataset, "hidden": "5,3", "features": "x1,x2,sinx1"})
    r = Run(s)
    r.steps(5)
    f = r.picture()
    regions = np.frombuffer(base64.b64decode(f["regions"]), np.uint8)
    assert regions.size == s.n_classes * GRID * GRID
    # the class probabilities of each cell sum to 1 (up to the rounding to bytes)
    sums = regions.reshape(s.n_classes, -1).astype(int).sum(axis=0)
    assert np.all(np.abs(sums - 255) <= s.n_classes)
    assert [len(base64.b64decode(u)) for u in f["units"]] == [5 * THUMB**2, 3 * THUMB**2]
    assert [np.shape(W) for W in f["weights"]] == [(5, 3), (3, 5), (s.n_classes, 3)]
    meta = r.meta()
    assert len(meta["train"]) + len(meta["test"]) == s.n and meta["sizes"] == [3, 5, 3, s.n_classes]
    X = np.array(meta["train"])[:, :2]
    assert np.abs(X).max() < 1.5  # inside the plane shown


@pytest.mark.parametrize("surface", ["plane", "bumps", "saddle", "waves"])
def test_regression_learns_each_surface(surface):
    s = parse({"problem": "regression", "dataset": surface, "hidden": "8", "noise": 0,
               "lr": 0.05, "features": "x1,x2,x1x2,sinx1"})  # fmt: skip
    r = Run(s)
    before = r.metrics()["tr_loss"]
    r.steps(400)
    after = r.metrics()
    assert after["tr_loss"] < 0.5 * before and after["tr_err"] != after["tr_err"]  # NaN: none
    assert len(base64.b64decode(r.picture()["regions"])) == GRID * GRID


def test_zeros_init_is_the_symmetry_demonstration():
    r = Run(parse({"init": "zeros", "hidden": "4", "activation": "tanh"}))
    r.steps(50)
    assert np.all(r.net.weights[0].value == 0)  # tanh at all-zero weights: a saddle, no move


def test_divergence_is_reported_not_raised_by_the_session():
    s = Session("t", parse({"problem": "regression", "lr": 10, "activation": "identity"}))
    try:
        for _ in range(40):
            s.epoch()
            if s.message:
                break
        assert "diverged" in s.message and "lower the learning rate" in s.message
        assert json.loads(s.frame_bytes)["message"] == s.message
    finally:
        s.close()


def test_check_gradients_on_the_current_step():
    s = Session("t", parse({"hidden": "3"}))
    try:
        s.step()
        r = s.check()
        assert r["ok"] and "PASS" in r["report"]
        assert r["svg"].lstrip().startswith("<?xml") or "<svg" in r["svg"]
        assert "#" in r["svg"]  # coloured by the check
    finally:
        s.close()


def test_without_graphviz_the_page_is_told_how_to_get_it(monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    s = Session("t", parse({"hidden": "2"}))
    try:
        r = s.check()  # the check itself still runs
        assert r["ok"] and r["svg"] is None
        assert "apt-get install graphviz" in s.svg_note
        assert "apt-get install graphviz" in json.loads(s.frame_bytes)["svg_note"]
    finally:
        s.close()


# -- the server -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    pg = Playground("127.0.0.1", 0, timeout=2.0, max_sessions=4).start()
    yield pg
    pg.shutdown()


def call(pg, path, body=None, raw=None, headers=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(pg.url.rstrip("/") + path, data=data, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type")


def error_of(answer):
    status, body, _ = answer
    return status, json.loads(body)["error"]


def test_page_and_assets_are_served_from_the_package(server):
    status, body, ctype = call(server, "/")
    assert status == 200 and ctype.startswith("text/html") and b"app.js" in body
    for name, kind in [("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")]:
        status, body, ctype = call(server, f"/static/{name}")
        assert status == 200 and kind in ctype and body
    assert call(server, "/static/../server.py")[0] == 404
    assert call(server, "/static/nothing.js")[0] == 404


def test_no_asset_refers_outside_the_package():
    static = resources.files("flowgraph.playground").joinpath("static")
    for f in static.iterdir():
        text = f.read_text()
        urls = re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text)
        assert all("www.w3.org/" in u for u in urls), (f.name, urls)  # SVG namespaces only
        assert "@import" not in text and "fonts.g" not in text


def test_session_lifecycle_over_http(server):
    status, body, _ = call(server, "/api/session", {"settings": {"dataset": "xor"}})
    assert status == 200
    d = json.loads(body)
    sid = d["id"]
    assert d["query"] == "dataset=xor" and d["meta"]["classes"] == 2
    v = d["frame"]["v"]
    status, body, _ = call(server, f"/api/s/{sid}/control", {"action": "step"})
    f = json.loads(body)
    assert status == 200 and f["step"] == 1 and f["v"] > v
    status, body, _ = call(server, f"/api/s/{sid}/frame?after={f['v']}&graph=0")  # <= 1 s
    assert status == 200 and not server.sessions[sid].wants_graph  # the graph is off screen
    call(server, f"/api/s/{sid}/frame?after=0")
    assert server.sessions[sid].wants_graph
    status, body, _ = call(server, f"/api/s/{sid}/point", {"x1": 0.3, "x2": -0.2, "label": 1})
    d2 = json.loads(body)
    assert len(d2["meta"]["train"]) == len(d["meta"]["train"]) + 1
    assert "points=0.3,-0.2,1" in d2["query"]
    status, body, _ = call(server, f"/api/s/{sid}/settings", {"settings": {"hidden": "2"}})
    assert json.loads(body)["meta"]["sizes"] == [2, 2, 2]
    deadline = time.time() + 10
    while time.time() < deadline:  # the flow graph is drawn in the background
        status, body, ctype = call(server, f"/api/s/{sid}/graph.svg")
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200 and ctype == "image/svg+xml" and b"<svg" in body
    status, body, _ = call(server, f"/api/s/{sid}/control", {"action": "check"})
    assert status == 200 and json.loads(body)["ok"]
    call(server, f"/api/s/{sid}/close", {})
    assert call(server, f"/api/s/{sid}/frame")[0] == 404


def test_bad_requests_get_a_message_and_the_server_goes_on(server):
    assert error_of(call(server, "/api/session", {"settings": {"hidden": "1000000000"}})) == (
        400,
        "hidden layer 1 width must lie in [1, 16], got '1000000000'",
    )
    status, msg = error_of(call(server, "/api/session", {"settings": {"lr": -1}}))
    assert status == 400 and "learning rate" in msg
    status, msg = error_of(call(server, "/api/session", raw=b"{not json"))
    assert status == 400 and msg.startswith("malformed JSON")
    status, msg = error_of(call(server, "/api/session", raw=b"[1, 2]"))
    assert status == 400 and "JSON object" in msg
    status, msg = error_of(call(server, "/api/session", {"settings": "spirals"}))
    assert status == 400 and "settings must be an object" in msg
    status, msg = error_of(call(server, "/api/session", raw=b"x" * (300 * 1024)))
    assert status == 413
    assert error_of(call(server, "/api/s/nope/frame"))[0] == 404
    status, body, _ = call(server, "/api/session", {"settings": {}})
    sid = json.loads(body)["id"]
    status, msg = error_of(call(server, f"/api/s/{sid}/control", {"action": "explode"}))
    assert status == 400 and "unknown action 'explode'" in msg
    status, msg = error_of(call(server, f"/api/s/{sid}/point", {"x1": 9, "x2": 0, "label": 0}))
    assert status == 400 and "point 1 x1 must lie in [-1.5, 1.5]" in msg
    status, msg = error_of(call(server, f"/api/s/{sid}/frame?after=soon"))
    assert status == 400
    status, msg = error_of(call(server, "/", headers={"Host": "evil.example:80"}))
    assert status == 403
    status, msg = error_of(
        call(server, "/api/session", {}, headers={"Origin": "http://evil.example"})
    )
    assert status == 403 and "evil.example" in msg  # another site's page cannot start runs
    own = server.url.rstrip("/")
    status, body, _ = call(server, "/api/session", {}, headers={"Origin": own})
    assert status == 200
    call(server, f"/api/s/{json.loads(body)['id']}/close", {})
    assert call(server, "/")[0] == 200  # still serving
    call(server, f"/api/s/{sid}/close", {})


def test_a_closed_tab_stops_its_training(server):
    status, body, _ = call(server, "/api/session", {"settings": {}})
    sid = json.loads(body)["id"]
    call(server, f"/api/s/{sid}/control", {"action": "play"})
    session = server.sessions[sid]
    time.sleep(server.timeout / 2)
    assert sid in server.sessions and not session.closed  # not before its time
    time.sleep(server.timeout / 2)  # nobody polls: the reaper stops it soon after
    deadline = time.time() + 10
    while sid in server.sessions and time.time() < deadline:
        time.sleep(0.1)
    assert sid not in server.sessions and session.closed
    session.join(3)
    assert not session._thread.is_alive()


def test_too_many_tabs_are_refused(server):
    ids = []
    try:
        for _ in range(server.max_sessions - len(server.sessions)):
            ids.append(json.loads(call(server, "/api/session", {})[1])["id"])
        status, msg = error_of(call(server, "/api/session", {}))
        assert status == 503 and "already training" in msg
    finally:
        for sid in ids:
            call(server, f"/api/s/{sid}/close", {})


# -- the command ----------------------------------------------------------------------------
def test_command_line_refuses_a_bad_port(capsys):
    assert cli_main(["playground", "--port", "http"]) == 2
    assert "--port must be a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "host, words",
    [("a" * 300, "--host is 300 characters long"), ("nosuch.invalid", "cannot serve on")],
)
def test_command_line_refuses_a_bad_host_in_one_line(capsys, host, words):
    assert cli_main(["playground", "--no-browser", "--port", "0", "--host", host]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_serve_opens_the_browser_on_its_url(monkeypatch):
    import threading
    import webbrowser

    from flowgraph.playground import server as server_module

    opened, ready, lines = [], [], []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url))
    # leave this test process's BLAS threads alone (serve limits them to one for speed)
    monkeypatch.setattr(server_module, "limit_blas_threads", lambda: True)
    serve = server_module.serve
    t = threading.Thread(target=serve, args=("127.0.0.1", 0),
                         kwargs={"announce": lines.append, "on_ready": ready.append})  # fmt: skip
    t.start()
    deadline = time.time() + 10
    while not (ready and opened) and time.time() < deadline:
        time.sleep(0.05)
    ready[0].httpd.shutdown()
    t.join(10)
    assert opened == [ready[0].url] and ready[0].url in lines[0]
    assert not t.is_alive() and lines[-1] == "flowgraph playground: stopped"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_command_serves_prints_the_url_and_stops_cleanly(sig):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowgraph", "playground", "--no-browser", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        line = ""
        while "http://" not in line:
            line = proc.stdout.readline()
            assert line, "the command ended without printing its URL"
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url, timeout=20) as r:
            assert r.status == 200
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_benchmark_rewrites_only_its_own_section(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT))
    from benchmarks import playground_bench as bench

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Machine\n\nold\n\n## Other\n\nkept\n")
    monkeypatch.setattr(bench, "RESULTS", results)
    bench.write(bench.SECTION + "\n\nfirst\n")
    bench.write(bench.SECTION + "\n\nsecond\n")
    text = results.read_text()
    assert text.count(bench.SECTION) == 1 and "second" in text and "first" not in text
    assert "## Machine\n\nold" in text and "## Other\n\nkept" in text
