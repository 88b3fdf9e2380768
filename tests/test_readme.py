"""Every Python block of README.md runs on its own, and prints what its comments say.

Each block runs alone, in a fresh namespace and an empty folder, as a reader pasting only
that block into a new session would: it must import and define everything it uses. Its
printed figures are written in the block as comments, by one convention:

    print(f"best epoch {history.best_epoch}")
    # prints: best epoch 13

Every ``# prints: TEXT`` line must be a line of what the block printed (spaces at the ends
ignored), in the order the comments come. A block must also leave the files it names
(``"name.png"``, ``"name.npz"``, ...) in its folder. README's images are absolute links or
none: a relative one breaks on a package index's page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
PRINTS = re.compile(r"^\s*# prints: (.*?)\s*$", re.M)


def block_id(block: str) -> str:
    """``block 3 (import flowgraph as fg)``: its place in README and its first line."""
    return f"block {BLOCKS.index(block) + 1} ({block.strip().splitlines()[0][:40]})"


def expected_lines(block: str) -> list[str]:
    """The ``# prints: TEXT`` comments of a block, in order."""
    return PRINTS.findall(block)


def test_readme_has_python_blocks_with_printed_figures():
    assert len(BLOCKS) >= 6  # a graph, composing, training, any graph, optimisers, ...
    assert sum(len(expected_lines(b)) for b in BLOCKS) >= 3


def test_prints_convention_reads_comments_in_order():
    block = 'print("a")\n# prints: a\nprint(" b c ")  # not a figure\n  # prints: b c  \n'
    assert expected_lines(block) == ["a", "b c"]


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_python_block_runs_alone_and_prints_its_figures(block, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}  # as `python block.py` runs it
    try:
        exec(compile(block, f"README.md {block_id(block)}", "exec"), namespace)
    except Exception as e:  # name the block: README has no line numbers to go by
        pytest.fail(f"README.md {block_id(block)} fails alone: {type(e).__name__}: {e}")
    printed = [line.strip() for line in capsys.readouterr().out.splitlines()]
    rest = iter(printed)
    for line in expected_lines(block):
        assert any(p == line for p in rest), (
            f"README.md {block_id(block)} says it prints {line!r}; it printed:\n"
            + "\n".join(printed)
        )
    written = {p.name for p in tmp_path.iterdir()}
    for name in re.findall(r'"([\w.-]+\.(?:png|svg|npz|csv|jsonl))"', block):
        assert name in written, f"the block says it writes {name}, but it is not there"


def test_readme_images_are_absolute_links():
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", TEXT) + re.findall(
        r'<img[^>]+src="([^"]+)"', TEXT
    )
    relative = [src for src in images if not re.match(r"https?://", src)]
    assert not relative, f"README.md shows images by relative links: {relative}"
