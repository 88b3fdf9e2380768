"""A History shows itself in Jupyter as a table of its epochs, the best one marked, with its
curves one click away (an inline PNG in <details>, nothing loaded from outside)."""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET

import flowgraph as fg


def history(**flags) -> fg.History:
    h = fg.History()
    for e, (tl, te, vl, ve) in enumerate(
        [(0.9, 0.5, 1.0, 0.4), (0.5, 0.25, 0.7, 0.125), (0.3, 0.125, 0.8, 0.25)], start=1
    ):
        h.append(epoch=e, train_loss=tl, train_error=te, valid_loss=vl, valid_error=ve,
                 lr=0.1, seconds=0.5)  # fmt: skip
    h.best_epoch = 2
    for k, v in flags.items():
        setattr(h, k, v)
    return h


def rows_of(root: ET.Element) -> list[list[str]]:
    return [["".join(td.itertext()).strip() for td in tr.iter("td")] for tr in root.iter("tr")]


def test_the_table_holds_every_epoch_and_marks_the_best():
    root = ET.fromstring(history()._repr_html_())  # well formed: one element
    head = [th.text for th in root.iter("th")]
    assert head[:5] == ["epoch", "training loss", "training error", "validation loss",
                        "validation error"]  # fmt: skip
    rows = [r for r in rows_of(root) if r]
    assert [r[0][0] for r in rows] == ["1", "2", "3"]
    assert rows[1][:5] == ["2 \u2605", "0.5", "0.2500", "0.7", "0.1250"]
    assert "\u2605" not in rows[0][0] + rows[2][0]
    bold = [b.text for tr in root.iter("tr") for b in tr.iter("b")]
    assert bold[:3] == ["2", "0.5", "0.2500"]  # the best row, and only it, in bold
    text = "".join(root.itertext())
    assert "3 epochs; best epoch 2 (validation error 0.125)" in text


def test_the_curves_are_an_inline_png_in_details():
    root = ET.fromstring(history(stopped_early=True)._repr_html_())
    details = root.find(".//details")
    assert details is not None and details.find("summary").text == "curves"
    src = details.find("img").get("src")
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stopped early" in "".join(root.itertext())


def test_text_is_escaped_unmeasured_figures_are_dashes_and_empty_is_said():
    h = history(interrupted=True)
    h.valid_error = [math.nan] * 3
    h.train_error = [math.nan] * 3  # a regression model: no errors
    root = ET.fromstring(h._repr_html_())
    head = [th.text for th in root.iter("th")]
    assert "training error" not in head and "validation error" not in head
    assert "best epoch 2 (validation loss 0.7); interrupted" in "".join(root.itertext())
    h.lr = [math.nan, 0.1, 0.1]
    assert rows_of(ET.fromstring(h._repr_html_()))[1][3] == "\u2014"
    empty = ET.fromstring(fg.History()._repr_html_())
    assert "no epochs yet" in "".join(empty.itertext()) and empty.find(".//img") is None


def test_a_trained_models_history_displays():
    model = fg.mlp([2, 4, 3], seed=0)
    X, y = fg.datasets.make_blobs(60, seed=0)
    h = fg.train(model, (X[:40], y[:40]), (X[40:], y[40:]), epochs=2, batch_size=10,
                 optimizer=fg.SGD(model.parameters, 0.1), progress=False)  # fmt: skip
    root = ET.fromstring(h._repr_html_())
    rows = [r for r in rows_of(root) if r]
    assert len(rows) == 2
    assert rows[0][1] == f"{h.train_loss[0]:.4g}" and rows[1][4] == f"{h.valid_error[1]:.4f}"
