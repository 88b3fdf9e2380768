"""The look of the pictures: the palette, the font, and the text helpers every label uses.

A colour-blind-safe palette: the Okabe-Ito hues for meaning (blue input, yellow parameter,
purple output; bluish green / vermillion / orange for pass / fail / kink), pale tints as fills
so that black text stays readable. Kinds are also told apart by outline shape.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

__all__ = ["FONT", "TEXT", "MUTED", "EDGE", "STYLE", "esc", "font", "shape_text", "num"]

FONT = "Helvetica,Arial,sans-serif"
TEXT = "#222222"
MUTED = "#6b6b6b"
EDGE = "#7a7a7a"
STYLE = {
    #           fill       outline
    "input": ("#dcecf8", "#0072b2"),
    "parameter": ("#fbf3c4", "#a08a00"),
    "box": ("#f4f4f4", "#555555"),
    "constant": ("#ffffff", "#8c8c8c"),
    "buffer": ("#e6f2ea", "#2f7d4f"),
    "state": ("#ffffff", "#0072b2"),
    "output": ("#f3e0ec", "#a2527f"),
    "pass": ("#d2efe4", "#009e73"),
    "fail": ("#fad9c6", "#d55e00"),
    "kink": ("#fbe9bd", "#e69f00"),
}


def esc(text: str) -> str:
    """Text for a Graphviz HTML-like label: markup characters escaped, control characters
    (a newline in a name) shown as their Python escapes.

    >>> esc('a<b & "c"\\n')
    'a&lt;b &amp; &quot;c&quot;\\\\n'
    """
    text = "".join(repr(ch)[1:-1] if not ch.isprintable() else ch for ch in text)
    return html.escape(text, quote=True)


def font(text: str, *, size: float | None = None, color: str | None = None) -> str:
    """``text`` (already escaped) in a ``<FONT>`` of that point size and colour."""
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size:g}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    return f"<FONT{attrs}>{text}</FONT>"


def shape_text(shape: Sequence[int]) -> str:
    """``8×4`` for an (8, 4) array, ``scalar`` for a 0-d one."""
    return "×".join(str(d) for d in shape) if len(shape) else "scalar"


def num(x: float, digits: int = 3) -> str:
    """A number in at most ``digits`` significant digits; integers whole."""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}g}"
