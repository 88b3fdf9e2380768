"""The playground trains on a tab's own points: POST /api/s/ID/upload {"csv": text} (x1, x2,
label), checked like every other request (a size limit, three columns, at most 5,000 rows and
three classes; each refusal a 4xx with one sentence), then trained on by the session."""

from __future__ import annotations

import http.client
import json
import socket

import numpy as np
import pytest

from flowgraph.playground import guard
from flowgraph.playground.routes import Sessions, answer
from flowgraph.playground.server import UPLOAD_BODY, Playground
from flowgraph.playground.settings import SettingsError, parse


def csv_of(n=200, seed=0, names=("left", "right"), header=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * [10, 3] + [100, -5]  # far from the plane's units
    rows = "".join(f"{a:.4f},{b:.4f},{names[int(a > 100)]}\n" for a, b in X)
    return ("x1,x2,side\n" if header else "") + rows


@pytest.fixture(scope="module")
def pg():
    server = Playground("127.0.0.1", 0, timeout=30.0).start()
    yield server
    server.shutdown()


def call(pg, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", pg.port, timeout=20)
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    out = r.status, json.loads(r.read())
    conn.close()
    return out


def announce(pg, path, length):
    """A POST that announces ``length`` bytes and sends none: refused on its header alone
    (sending them would race the server's closing of the connection)."""
    with socket.create_connection(("127.0.0.1", pg.port), timeout=20) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{pg.port}\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())  # fmt: skip
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def test_upload_trains_on_the_points_scaled_into_the_plane(pg):
    status, d = call(pg, "POST", "/api/session", {"settings": {"hidden": "4"}})
    sid = d["id"]
    assert status == 200 and d["upload"] == {"rows": 0, "classes": []}
    status, d = call(pg, "POST", f"/api/s/{sid}/upload", {"csv": csv_of()})
    assert status == 200, d
    assert d["settings"]["dataset"] == "upload" and d["upload"]["classes"] == ["left", "right"]
    assert d["upload"]["rows"] == 200 and "data" not in d["settings"]
    points = np.array(d["meta"]["train"] + d["meta"]["test"])
    assert len(points) == 200 and np.abs(points[:, :2]).max() <= 1.0  # in the plane's units
    assert set(points[:, 2]) == {0, 1} and d["meta"]["classes"] == 2
    loss0 = d["frame"]["metrics"]["tr_loss"]
    for _ in range(3):
        status, frame = call(pg, "POST", f"/api/s/{sid}/control", {"action": "epoch"})
    assert status == 200 and frame["metrics"]["tr_loss"] < 0.8 * loss0
    # another setting keeps the upload; the query string does not carry it
    settings = {**d["settings"], "hidden": "6", "lr": "0.1"}
    status, d2 = call(pg, "POST", f"/api/s/{sid}/settings", {"settings": settings})
    assert status == 200 and d2["settings"]["dataset"] == "upload" and d2["meta"]["sizes"][1] == 6
    assert "dataset=upload" in d2["query"] and "left" not in d2["query"]
    # a clicked point joins the uploaded ones
    status, d3 = call(pg, "POST", f"/api/s/{sid}/point", {"x1": 0.5, "x2": 0.5, "label": 1})
    assert status == 200 and len(d3["meta"]["train"]) == len(d2["meta"]["train"]) + 1


BAD = {
    "two columns": ("a,b\n1,0\n2,1\n", "three: x1, x2, label"),
    "four columns": ("a,b,c,d\n1,2,3,0\n2,3,4,1\n", "three: x1, x2, label"),
    "not a number": ("a,b,c\n1,x,0\n2,3,1\n", "row 2, column 'b': 'x' is not a number"),
    "ragged": ("a,b,c\n1,2,0\n2,3\n", "row 3 has 2 fields"),
    "NaN": ("a,b,c\n1,nan,0\n2,3,1\n", "finite"),
    "one class": ("a,b,c\n1,2,0\n2,3,0\n", "at least two classes"),
    "four classes": ("a,b,c\n1,2,0\n2,3,1\n3,4,2\n4,5,3\n", "at most 3"),
    "too many rows": (csv_of(5001), "5001 rows (at most 5000)"),
    "empty": ("", "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_uploads_are_one_sentence(pg, case):
    _, d = call(pg, "POST", "/api/session", {"settings": {"hidden": "2"}})
    text, words = BAD[case]
    status, err = call(pg, "POST", f"/api/s/{d['id']}/upload", {"csv": text})
    assert status == 400 and words in err["error"] and "\n" not in err["error"], err
    assert pg.sessions[d["id"]].settings.dataset == "moons"  # the run is as it was
    call(pg, "POST", f"/api/s/{d['id']}/close", {})


def test_upload_size_and_fields_are_guarded(pg):
    _, d = call(pg, "POST", "/api/session", {})
    sid = d["id"]
    status, err = announce(pg, f"/api/s/{sid}/upload", UPLOAD_BODY + 1)
    assert status == 413 and f"at most {UPLOAD_BODY}" in err["error"]
    assert call(pg, "POST", f"/api/s/{sid}/upload", {"csv": 3})[0] == 400
    assert "needs the field 'csv'" in call(pg, "POST", f"/api/s/{sid}/upload", {})[1]["error"]
    # the other endpoints keep their own, smaller limit
    assert announce(pg, f"/api/s/{sid}/point", guard.MAX_BODY + 1)[0] == 413
    call(pg, "POST", f"/api/s/{sid}/close", {})


def test_upload_without_a_header_and_the_data_set_needs_an_upload():
    points, classes = guard.upload_points(csv_of(50, header=False, names=("0", "1")))
    assert len(points) == 50 and classes == [0, 1]
    with pytest.raises(SettingsError, match="upload one first"):
        parse({"dataset": "upload"})
    s = parse({"dataset": "upload", "points": "0.1,0.2,1"}, upload=points)
    assert s.n_classes == 2 and len(s.data) == 50 and "data" not in s.to_dict()


def test_the_routes_answer_without_a_server():
    """The answers are the server's and the widget's alike: no socket needed."""
    sessions = Sessions(timeout=30.0)
    try:
        status, body = answer(sessions, "POST", "/api/session", {}, {"settings": {}})
        sid = json.loads(body)["id"]
        status, body = answer(sessions, "POST", f"/api/s/{sid}/upload", {}, {"csv": csv_of(80)})
        assert status == 200 and json.loads(body)["upload"]["rows"] == 80
    finally:
        sessions.close_all()
