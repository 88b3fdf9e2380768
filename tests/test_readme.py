"""Every Python block of README.md runs as written, in order, in an empty folder.

The blocks share one namespace, as a reader typing them into one session would (the
Rendering block draws the graph and feed of "A graph in ten lines"); each must run without
an error and leave the files it says it writes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 4  # a graph, training, rendering, model selection, ...


def test_every_python_block_runs_in_order(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for i, block in enumerate(BLOCKS, 1):
        first = block.strip().splitlines()[0]
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as e:  # name the block: README has no line numbers to go by
            pytest.fail(f"README.md python block {i} ({first!r}) fails: {type(e).__name__}: {e}")
    out = capsys.readouterr().out
    assert "PASS" in out  # check_graph's report of the first block
    written = {p.name for p in tmp_path.iterdir()}
    for name in re.findall(r'"([\w.-]+\.(?:png|svg|npz|csv|jsonl))"', "".join(BLOCKS)):
        assert name in written, f"a README block says it writes {name}, but it is not there"
