"""The package's one way of reading JSON it did not write itself (a search space, a search
checkpoint, a resume file's description): nested at most ``MAX_DEPTH`` deep.

``json.loads`` recurses once per ``[`` or ``{``: a few thousand of them in a row (a file of
``[[[[...``) is a RecursionError from deep inside the decoder, or worse. Here the nesting is
measured first, from the brackets outside strings, without recursion, and a text nested
deeper than any configuration of ours is refused as a ValueError naming its depth. Integers
longer than Python's limit on digits (4,300) are a ValueError of ``json.loads`` itself.

    >>> loads_bounded('{"lr": [0.1, 0.2]}')
    {'lr': [0.1, 0.2]}
    >>> loads_bounded("[" * 1000 + "]" * 1000)
    Traceback (most recent call last):
    ...
    ValueError: JSON nested 1000 deep; at most 64 levels are read
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "json_depth", "loads_bounded"]

MAX_DEPTH = 64  # levels of [ and {: a search space or a resume file's description needs < 10

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text: str) -> int:
    """How deep the brackets of ``text`` nest, strings left out (0 for a bare number)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


def loads_bounded(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads(text)`` for a text nested at most ``max_depth`` deep; ValueError (a
    ``json.JSONDecodeError`` for malformed text) otherwise. Bytes are read as UTF-8."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError: a ValueError
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"JSON nested {depth} deep; at most {max_depth} levels are read")
    return json.loads(text)
