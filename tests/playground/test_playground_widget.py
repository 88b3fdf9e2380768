"""The playground as a notebook widget: the page's own files and the server's own answers.

Three ways in: the widget's answers to the page's messages (no browser), an executed notebook
that creates it (nbclient, as the teaching notebooks run), and a real browser (Debian's
chromium through Playwright) that renders the widget's ESM in a page hosting it like a
notebook does, serves its messages to the widget, and plays: the loss goes down."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from playwright import sync_api

import flowgraph.playground as playground
from flowgraph.playground.notebook import Widget, page_body

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "flowgraph" / "playground" / "static"


def message(w, rid, method, path, body=""):
    reply = w.handle({"rid": rid, "method": method, "path": path, "body": body})
    assert reply["rid"] == rid
    return reply["status"], json.loads(reply["body"])


def test_the_widget_sends_the_pages_own_files_and_answers_as_the_server():
    w = playground.widget(dataset="xor", hidden="5", seed=3)
    try:
        assert isinstance(w, playground.Widget) and w.query == "dataset=xor&hidden=5&seed=3"
        assert w.app == (STATIC / "app.js").read_text()
        assert w.style == (STATIC / "style.css").read_text()
        assert w._esm == (STATIC / "widget.js").read_text()
        assert 'id="regions"' in w.page and 'id="upload"' in w.page and "<script" not in w.page
        assert page_body() in (STATIC / "index.html").read_text().replace(
            '<script src="/static/app.js"></script>', "")  # fmt: skip
        status, d = message(w, 1, "POST", "/api/session", json.dumps({"settings": {"hidden": "4"}}))
        assert status == 200 and d["meta"]["sizes"] == [2, 4, 2]
        sid = d["id"]
        status, frame = message(w, 2, "POST", f"/api/s/{sid}/control", '{"action": "epoch"}')
        assert status == 200 and frame["step"] > 0
        status, frame = message(w, 3, "GET", f"/api/s/{sid}/frame?after=0")
        assert status == 200 and frame["v"] >= 1
        # refused as the server refuses, one sentence each
        assert message(w, 4, "POST", f"/api/s/{sid}/control", "[[[[[[[[[[1]]]]]]]]]]")[0] == 400
        assert message(w, 5, "POST", f"/api/s/{sid}/point", " " * 300_000)[0] == 413
        assert message(w, 6, "GET", "/static/app.js")[0] == 404  # the files come as state
        assert message(w, 7, "DELETE", "/api/session")[0] == 400
        assert message(w, 8, "POST", "/api/s/nope/control", '{"action": "play"}')[0] == 404
        assert w.handle("nonsense")["status"] == 400
    finally:
        w.close()
    assert not w.sessions.sessions
    with pytest.raises(playground.SettingsError, match="hidden"):
        playground.widget(hidden="99")


def test_an_executed_notebook_creates_and_drives_the_widget(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import json\nimport flowgraph.playground as playground\n"
                                  "w = playground.widget(dataset='circles', hidden='6')\nw"),
        nbformat.v4.new_code_cell(
            "def ask(rid, method, path, body=''):\n"
            "    return json.loads(w.handle({'rid': rid, 'method': method, 'path': path,\n"
            "                                'body': body})['body'])\n"
            "d = ask(1, 'POST', '/api/session', json.dumps({'settings': {'hidden': '6'}}))\n"
            "before = d['frame']['metrics']['tr_loss']\n"
            "for k in range(5):\n"
            "    f = ask(2 + k, 'POST', f\"/api/s/{d['id']}/control\", '{\"action\": \"epoch\"}')\n"
            "print('loss', before, '->', f['metrics']['tr_loss'])\n"
            "assert f['metrics']['tr_loss'] < before"),
        nbformat.v4.new_code_cell("w.close()\nprint('closed', len(w.sessions.sessions))"),
    ]  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
    view = nb.cells[0].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in view
    assert "playground.Widget('dataset=circles&hidden=6')" in view["text/plain"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    model = state[view["application/vnd.jupyter.widget-view+json"]["model_id"]]["state"]
    assert model["query"] == "dataset=circles&hidden=6" and "app.js" not in model["page"]
    assert model["_esm"].startswith("// flowgraph playground as a notebook widget")
    printed = nb.cells[1].outputs[0]["text"]
    assert printed.startswith("loss ") and nb.cells[2].outputs[0]["text"] == "closed 0\n"


HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>notebook</title></head>
<body><h1>a notebook's output area</h1><div id="output"></div>
<script type="module">
// what Jupyter's widget manager gives a widget: a model (state, messages) and an element
const state = await (await fetch("/state")).json();
const listeners = [];
const model = {
  get: (name) => state[name],
  on: (event, f) => { if (event === "msg:custom") listeners.push(f); },
  off: (event, f) => { const i = listeners.indexOf(f); if (i >= 0) listeners.splice(i, 1); },
  send: async (content) => {
    const r = await fetch("/message", { method: "POST", body: JSON.stringify(content) });
    const reply = await r.json();
    if (reply.rid) for (const f of [...listeners]) f(reply, []);
  },
};
const widget = (await import("/esm.js")).default;
window.cleanup = await widget.render({ model, el: document.getElementById("output") });
</script></body></html>"""


@pytest.fixture(scope="module")
def hosted():
    """A local page that hosts the widget as a notebook would; its messages go to the widget."""
    w = Widget(dataset="spirals", hidden="8,8", speed=30, lr=0.03)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, body: str, ctype: str):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/state":
                names = ("page", "style", "app", "query")
                return self.reply(json.dumps({k: getattr(w, k) for k in names}), "application/json")
            if self.path == "/esm.js":
                return self.reply(w._esm, "text/javascript")
            return self.reply(HOST_PAGE, "text/html")

        def do_POST(self):
            content = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.reply(json.dumps(w.handle(content)), "application/json")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield w, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    w.close()


def test_the_widget_plays_in_a_real_browser(hosted):
    w, url = hosted
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium: sudo apt-get install chromium (CI's .ci/run does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_function("window.__fg && window.__fg.frames > 0 && window.__fg.meta")
        assert page.evaluate("window.__fg.settings.dataset") == "spirals"
        assert page.text_content("#net-title") == "2 → 8 → 8 → 2"  # inside the shadow root
        assert page.evaluate("document.getElementById('regions')") is None  # not in the page's
        # the page's style applies inside the widget's shadow root, and not outside it
        assert page.eval_on_selector("#regions", "e => getComputedStyle(e).width") == "420px"
        assert page.evaluate("getComputedStyle(document.body).marginTop") == "8px"  # not 0
        loss0 = float(page.text_content("#tr-loss"))
        page.click("#play")
        page.wait_for_function("window.__fg.frame.step >= 1500", timeout=30000)
        page.click("#play")
        page.wait_for_function("!window.__fg.frame.playing")
        loss1 = float(page.text_content("#tr-loss"))
        assert loss1 < 0.8 * loss0, (loss0, loss1)
        page.wait_for_selector("#graph svg")  # the flow graph came as a message too
        sid = page.evaluate("window.__fg.id")
        assert sid in w.sessions.sessions
        page.evaluate("window.cleanup()")  # the view goes: its session stops
        browser.close()
    assert all(u.startswith(url) or u.startswith("blob:") for u in requests), requests
    assert not errors, errors
    deadline = time.time() + 5
    while sid in w.sessions.sessions and time.time() < deadline:
        time.sleep(0.05)
    assert sid not in w.sessions.sessions


def test_without_anywidget_the_widget_says_what_to_install():
    code = ("import sys; sys.modules['anywidget'] = None\n"
            "import flowgraph.playground as playground\n"
            "try:\n    playground.widget()\nexcept ImportError as e:\n    print(e)\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "needs anywidget: pip install 'flowgraph-autodiff[notebooks]'" in done.stdout
