"""Pictures as files: each format, atomic writes, no `dot` on PATH (the DOT text is written and
the message says how to install Graphviz), Graphviz's own errors, and Jupyter's SVG."""

from __future__ import annotations

import os

import pytest
from helper_pictures import small_mlp, svg_nodes

import flowgraph as fg
from flowgraph.render import GraphvizNotFoundError, files, render, to_dot, to_svg


def test_repr_svg_shows_the_default_picture():
    graph = small_mlp()
    svg = graph._repr_svg_()
    assert isinstance(svg, str)
    assert len(svg_nodes(svg)) == len(graph.order)
    assert "mean" not in svg  # default options: no statistics


def test_missing_dot_writes_dot_text_and_says_how_to_install(tmp_path, monkeypatch):
    graph = small_mlp()
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    expected = to_dot(graph, grads=True).source  # to_dot itself never needs the binary
    target = tmp_path / "pics" / "graph.svg"
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as err:
        render(graph, target, grads=True)
    assert "graph.dot" in str(err.value)
    assert isinstance(err.value, fg.FlowgraphError)
    assert not target.exists()
    assert (tmp_path / "pics" / "graph.dot").read_text(encoding="utf-8") == expected
    assert [p.name for p in (tmp_path / "pics").iterdir()] == ["graph.dot"]  # no leftovers
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        assert to_svg(graph) is None
    with pytest.warns(RuntimeWarning):
        assert graph._repr_svg_() is None  # Jupyter falls back to the text repr
    assert render(graph, tmp_path / "only.dot").read_text(encoding="utf-8") == to_dot(graph).source


def test_render_writes_each_format(tmp_path):
    graph = small_mlp()
    magic = {".svg": b"<?xml", ".png": b"\x89PNG", ".pdf": b"%PDF"}
    for suffix, start in magic.items():
        path = render(graph, tmp_path / f"g{suffix}", values=True)
        assert path.read_bytes().startswith(start), suffix
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert len(svg_nodes(svg)) == len(graph.order)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pdf", "g.png", "g.svg"]
    with pytest.raises(fg.FlowgraphError, match=r"\.svg"):
        render(graph, tmp_path / "g.jpeg")
    # mode as a plain open() would give (mkstemp's 0600 would hide the picture from others)
    (tmp_path / "ref").write_text("")
    mode = (tmp_path / "ref").stat().st_mode & 0o777
    assert (tmp_path / "g.svg").stat().st_mode & 0o777 == mode


def test_render_never_leaves_half_a_file(tmp_path, monkeypatch):
    graph = small_mlp()
    target = tmp_path / "graph.svg"
    target.write_text("the previous picture")

    def broken(dot, fmt):
        raise fg.FlowgraphError("Graphviz `dot -Tsvg` failed (status 1): simulated")

    monkeypatch.setattr(files, "run_dot", broken)
    with pytest.raises(fg.FlowgraphError, match="simulated"):
        render(graph, target)
    assert target.read_text() == "the previous picture"

    monkeypatch.undo()
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("disk full")

    monkeypatch.setattr(os, "fdopen", HalfWriter)
    with pytest.raises(OSError, match="disk full"):
        render(graph, target)
    monkeypatch.undo()
    assert target.read_text() == "the previous picture"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]


def test_a_failing_dot_names_the_format_and_shows_graphvizs_message():
    import graphviz

    bad = graphviz.Digraph(body=["this is { not DOT\n"])
    with pytest.raises(fg.FlowgraphError, match=r"dot -Tsvg` failed \(status 1\): .*syntax error"):
        files.run_dot(bad, "svg")
