"""How fast the playground's pictures reach a real browser, and how much memory its server takes.

    python benchmarks/playground_bench.py [--seconds 6] [--tabs 1 4] [--no-write]

Starts ``flowgraph playground --no-browser`` as its own process (as a user would), opens the
page in Debian's headless Chromium through Playwright, sets a 2-16-16-2 tanh network on the
spirals at batch 10 (the decision regions on a 64 x 64 grid, every hidden unit's thumbnail,
the curves, the weights, and the flow graph's SVG every 1.5 s), presses play in each tab, and
counts the pictures each page has drawn (``window.__fg.frames``) over a window after a
warm-up. The server's resident memory (RSS, from /proc) is read with one and with four tabs
training. Results go into the "Playground" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-background-timer-throttling",  # several tabs: none is throttled as hidden
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
QUERY = "dataset=spirals&hidden=16,16&batch=10&speed=10"
SECTION = "## Playground (`benchmarks/playground_bench.py`)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def _start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "flowgraph", "playground", "--no-browser", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the playground server did not start within 30 s")


def measure(tabs: int, seconds: float, warmup: float = 2.0, repeats: int = 3) -> dict:
    """Updates per second drawn by each of ``tabs`` pages, and the server's RSS."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = _start_server(port)
    try:
        rss_idle = _rss_mb(server.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            pages = []
            for _ in range(tabs):
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/?{QUERY}")
                page.wait_for_function("window.__fg && window.__fg.frames > 0", timeout=30000)
                pages.append(page)
            for page in pages:
                page.click("#play")
            time.sleep(warmup)
            probe = "[window.__fg.frames, window.__fg.frame.v]"
            windows = []  # several windows: the median resists a burst of load elsewhere
            for _ in range(repeats):
                start = [(*page.evaluate(probe), time.perf_counter()) for page in pages]
                time.sleep(seconds / repeats)
                drawn, made = [], []
                for page, (f0, v0, t0) in zip(pages, start):
                    (f1, v1), t1 = page.evaluate(probe), time.perf_counter()
                    drawn.append((f1 - f0) / (t1 - t0))
                    made.append((v1 - v0) / (t1 - t0))  # the server's pictures, drawn or not
                windows.append((drawn, made))
            rates = [statistics.median(w[0][i] for w in windows) for i in range(tabs)]
            made = [statistics.median(w[1][i] for w in windows) for i in range(tabs)]
            best = max(max(w[0]) for w in windows)
            rss = _rss_mb(server.pid)
            steps = [page.evaluate("window.__fg.frame.step") for page in pages]
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    return {"tabs": tabs, "rates": rates, "made": made, "best": best, "rss": rss,
            "rss_idle": rss_idle, "steps": steps, "load": os.getloadavg()[0]}  # fmt: skip


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    load = os.getloadavg()[0]
    return (
        f"{cpu}, {os.cpu_count()} logical cores (load average {load:.1f} at the start); "
        f"Python {platform.python_version()}; {chromium.strip() or 'Chromium'}"
    )


def report(results: list[dict], seconds: float) -> str:
    lines = [
        SECTION,
        "",
        f"A 2-16-16-2 tanh network on the spirals, batch 10, 10 SGD steps per picture, decision "
        f"regions on a 64 x 64 grid, 16 + 16 unit thumbnails (32 x 32), curves, weights, and "
        f"the flow graph's SVG every 1.5 s; pictures drawn by each headless Chromium tab, "
        f"counted in 3 windows over {seconds:g} s after a 2 s warm-up, median per tab (goal: at "
        f"least 20 per second). "
        f"Machine: {_machine()}.",
        "",
        "| tabs training | updates/s drawn per tab (best window) | pictures/s made by the "
        "server per tab | SGD steps done per tab | server RSS MB (idle -> training) | load "
        "average after |",
        "|---:|---|---|---|---:|---:|",
    ]
    for r in results:
        rates = ", ".join(f"{x:.1f}" for x in r["rates"])
        made = ", ".join(f"{x:.1f}" for x in r["made"])
        lines.append(
            f"| {r['tabs']} | {rates} ({r['best']:.1f}) | {made} | "
            f"{', '.join(map(str, r['steps']))} | {r['rss_idle']:.0f} -> {r['rss']:.0f} | "
            f"{r['load']:.1f} |"
        )
    lines += [
        "",
        "An update is one picture drawn by the page: the regions, the points and the numbers "
        "(the curves, the thumbnails and the edges follow at most 10 times a second). The "
        "server makes at most 30 pictures a second per tab; several tabs share its Python "
        "process (one GIL) and the machine's cores with the browser's renderers. A load "
        "average above the 2 cores means other programs were running: the figures fall with "
        "it, so compare runs at similar loads.",
        "",
    ]
    return "\n".join(lines)


def write(section: str) -> None:
    if str(ROOT) not in sys.path:  # run as a script: make the benchmarks package importable
        sys.path.insert(0, str(ROOT))
    from benchmarks.sections import replace_section

    replace_section(RESULTS, "playground", section)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="measuring window (6 s)")
    ap.add_argument("--tabs", type=int, nargs="+", default=[1, 4], help="tab counts (1 4)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = ap.parse_args(argv)
    results = []
    for n in args.tabs:
        r = measure(n, args.seconds)
        print(
            f"{n} tab(s): updates/s {', '.join(f'{x:.1f}' for x in r['rates'])} "
            f"(made {', '.join(f'{x:.1f}' for x in r['made'])}); "
            f"server RSS {r['rss_idle']:.0f} -> {r['rss']:.0f} MB",
            flush=True,
        )
        results.append(r)
    section = report(results, args.seconds)
    print(section)
    if not args.no_write:
        write(section)
        print(f"wrote the Playground section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
