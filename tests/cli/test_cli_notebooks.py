"""``flowgraph notebooks DIR`` copies the shipped teaching notebooks, and never overwrites
a user's edited copy unless told to."""

from __future__ import annotations

import json
from pathlib import Path

from flowgraph.cli import build_parser, main
from flowgraph.cli.notebooks_cmd import NUMBERS
from flowgraph.teaching import notebook_files

ROOT = Path(__file__).resolve().parents[2]


def test_copies_every_notebook_byte_for_byte(tmp_path, capsys):
    target = tmp_path / "my notebooks"
    assert main(["notebooks", str(target)]) == 0
    committed = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebook_files()] == [p.name for p in committed]
    assert sorted(p.name for p in target.iterdir()) == [p.name for p in committed]
    for src in committed:
        assert (target / src.name).read_bytes() == src.read_bytes()
        assert json.loads((target / src.name).read_text(encoding="utf-8"))["cells"]
    out = capsys.readouterr().out
    assert "01_flow_graphs.ipynb" in out and "jupyter lab" in out


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    edited = tmp_path / "03_training.ipynb"
    edited.write_text("my edits")
    assert main(["notebooks", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "03_training.ipynb" in err and "--force" in err
    assert edited.read_text() == "my edits"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["03_training.ipynb"]  # nothing copied
    assert main(["notebooks", str(tmp_path), "--force"]) == 0
    assert edited.read_bytes() == (ROOT / "notebooks" / "03_training.ipynb").read_bytes()


def test_help_counts_the_notebooks_it_ships():
    n = len(list((ROOT / "notebooks").glob("*.ipynb")))
    assert n == 10 and NUMBERS[n] == "ten"
    assert f"copy the {NUMBERS[n]} teaching notebooks" in build_parser().format_help()
