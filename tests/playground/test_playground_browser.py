"""The playground in a real headless browser: Debian's Chromium driven by Playwright.

Set FLOWGRAPH_SCREENSHOT=docs/playground.png to keep the screenshot this test takes as the
README's picture.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from playwright import sync_api  # the `test` extra installs it; it drives Debian's chromium

from flowgraph.playground.server import Playground

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def server():
    pg = Playground("127.0.0.1", 0, timeout=8.0).start()
    yield pg
    pg.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("no chromium: sudo apt-get install chromium (CI's .ci/run does)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 1080})
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def wait_ready(page):
    page.wait_for_function("window.__fg && window.__fg.frames > 0 && window.__fg.meta")


def number(page, sel) -> float:
    return float(page.text_content(sel))


def canvas(page) -> str:
    return page.evaluate("document.getElementById('regions').toDataURL()")


def test_spirals_two_layers_learn_live(page, server, tmp_path):
    page.goto(server.url)
    wait_ready(page)
    page.select_option("#dataset", "spirals")
    page.wait_for_function("window.__fg.settings.dataset === 'spirals'")
    page.fill("#hidden", "8,8")
    page.press("#hidden", "Enter")
    page.select_option("#speed", "30")
    page.wait_for_function("window.__fg.settings.hidden.join() === '8,8' && "
                           "window.__fg.settings.speed === 30")  # fmt: skip
    assert page.text_content("#net-title") == "2 → 8 → 8 → 2"
    loss0, picture0 = number(page, "#tr-loss"), canvas(page)
    page.click("#play")
    page.wait_for_function("window.__fg.frame.step >= 1500", timeout=30000)
    page.click("#play")  # pause
    page.wait_for_function("!window.__fg.frame.playing")
    loss1 = number(page, "#tr-loss")
    assert loss1 < 0.8 * loss0, (loss0, loss1)
    assert canvas(page) != picture0
    # the flow graph arrived as flowgraph's SVG, with the values of the current step
    page.wait_for_selector("#graph svg")
    assert "Linear" in page.text_content("#graph")
    page.click("#check")
    page.wait_for_selector("#check-pill.ok")
    assert "agrees" in page.text_content("#check-pill")
    # the page asked nothing of any other host
    host = urlsplit(server.url).netloc
    outside = [u for u in page.requests if urlsplit(u).scheme in ("http", "https")
               and urlsplit(u).netloc != host]  # fmt: skip
    assert not outside and len(page.requests) > 10
    assert not page.errors
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    if os.environ.get("FLOWGRAPH_SCREENSHOT"):
        shutil.copy(shot, ROOT / os.environ["FLOWGRAPH_SCREENSHOT"])


def test_click_adds_a_point_and_the_url_reproduces_the_setting(page, server):
    page.goto(server.url + "?dataset=xor&hidden=5&seed=11&lr=0.05&features=x1,x2,x1x2")
    wait_ready(page)
    n0 = int(page.get_attribute("#points-info", "data-train"))
    page.click(".classpick button:nth-child(2)")  # class 1
    page.click("#regions", position={"x": 100, "y": 320})  # x1 < 0, x2 < 0
    page.wait_for_function(f"window.__fg.meta.train.length === {n0 + 1}")
    query = parse_qs(urlsplit(page.url).query)
    assert query["dataset"] == ["xor"] and query["seed"] == ["11"]
    x1, x2, label = map(float, query["points"][0].split(","))
    assert x1 < 0 and x2 < 0 and label == 1
    url = page.url
    page.goto("about:blank")
    page.goto(url)  # the link again: the same setting, the same point, the same start
    wait_ready(page)
    assert page.input_value("#hidden") == "5" and page.input_value("#seed") == "11"
    assert page.input_value("#lr") == "0.05"
    assert page.is_checked("#features input[value=x1x2]")
    assert int(page.get_attribute("#points-info", "data-train")) == n0 + 1
    page.click("#reset")
    page.click("#step")
    page.wait_for_function("window.__fg.frame.step === 1")
    s1 = page.text_content("#tr-loss")
    page.click("#reset")
    page.wait_for_function("window.__fg.frame.step === 0")
    page.click("#step")
    page.wait_for_function("window.__fg.frame.step === 1")
    assert page.text_content("#tr-loss") == s1  # same seed, same run


def test_bad_input_is_refused_with_a_message_on_the_page(page, server):
    page.goto(server.url + "?hidden=1000000000")
    wait_ready(page)
    assert "hidden layer 1 width must lie in [1, 16]" in page.text_content("#message")
    assert page.input_value("#hidden") == "6,6"  # the defaults instead
    page.fill("#lr", "-1")
    page.press("#lr", "Enter")
    page.wait_for_function("document.getElementById('message').textContent"
                           ".includes('learning rate must lie in')")  # fmt: skip
    assert "invalid" in page.get_attribute("#lr", "class")
    page.fill("#lr", "0.05")
    page.press("#lr", "Enter")
    page.wait_for_function("window.__fg.settings.lr === 0.05")
    assert page.is_hidden("#message")
    # the second problem type: regression of a surface, from the same page
    page.select_option("#problem", "regression")
    page.wait_for_function("window.__fg.meta.problem === 'regression'")
    assert page.input_value("#dataset") == "plane" and "problem=regression" in page.url
    assert page.is_hidden("#tr-err") and "grey rim" in page.text_content("#points-info")
    page.click("#epoch")
    page.wait_for_function("window.__fg.frame.step === 15")  # 150 training points, batch 10
    time.sleep(0.2)
    assert not page.errors


def test_each_tab_has_its_own_run_and_a_closed_tab_stops(page, server):
    page.goto(server.url + "?dataset=moons")
    wait_ready(page)
    other = page.context.new_page()
    other.goto(server.url + "?dataset=circles&hidden=3")
    wait_ready(other)
    first, second = page.evaluate("window.__fg.id"), other.evaluate("window.__fg.id")
    assert first != second and {first, second} <= set(server.sessions)
    other.click("#play")
    other.wait_for_function("window.__fg.frame.step > 0")
    assert page.evaluate("window.__fg.frame.step") == 0  # the first tab's run did not move
    run = server.sessions[second]
    other.close(run_before_unload=True)  # the page's pagehide beacon closes its session
    deadline = time.time() + 5
    while second in server.sessions and time.time() < deadline:
        time.sleep(0.05)
    assert second not in server.sessions and run.closed and first in server.sessions


def test_an_uploaded_csv_is_trained_on(page, server):
    rng = np.random.default_rng(3)
    X = rng.uniform(-20, 20, size=(400, 2))
    rows = "".join(f"{a:.3f},{b:.3f},{'in' if a * a + b * b < 150 else 'out'}\n" for a, b in X)
    page.goto(server.url + "?hidden=8,8&lr=0.1&speed=30")
    wait_ready(page)
    page.set_input_files("#upload", files=[{"name": "ring.csv", "mimeType": "text/csv",
                                            "buffer": ("u,v,where\n" + rows).encode()}])
    page.wait_for_function("window.__fg.settings.dataset === 'upload'")
    assert "ring.csv: 400 points of 2 classes (in, out)" in page.text_content("#message")
    assert page.input_value("#dataset") == "upload"
    assert page.evaluate("window.__fg.meta.train.length + window.__fg.meta.test.length") == 400
    loss0 = number(page, "#tr-loss")
    page.click("#play")
    page.wait_for_function("window.__fg.frame.step >= 1500", timeout=30000)
    page.click("#play")
    page.wait_for_function("!window.__fg.frame.playing")
    assert number(page, "#tr-loss") < 0.7 * loss0
    # a file the playground cannot take is one sentence on the page, the run left as it was
    page.set_input_files("#upload", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                            "buffer": b"a,b\n1,2\n3,4\n"}])
    page.wait_for_function("document.getElementById('message').textContent.includes('three')")
    assert page.evaluate("window.__fg.settings.dataset") == "upload" and not page.errors
