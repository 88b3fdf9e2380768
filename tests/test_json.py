"""flowgraph._json: JSON from files we did not write is read at most 64 levels deep, the depth
measured without recursion and without counting brackets inside strings."""

from __future__ import annotations

import json

import pytest

from flowgraph._json import MAX_DEPTH, json_depth, loads_bounded


@pytest.mark.parametrize(
    "text,depth",
    [("1", 0), ('"[[["', 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["]\\"]", [[]]]', 3),
     ("[" * 10 + "]" * 10, 10)],
)
def test_the_depth_is_that_of_the_brackets_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_texts_up_to_the_limit_read_as_json_does_deeper_ones_are_a_value_error():
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_bounded(ok) == json.loads(ok)
    assert loads_bounded(b'{"lr": [0.1, 0.2]}') == {"lr": [0.1, 0.2]}
    for text in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * 1_000_000):
        with pytest.raises(ValueError, match=f"at most {MAX_DEPTH} levels"):
            loads_bounded(text)
    with pytest.raises(ValueError):  # malformed, an integer past Python's digit limit, not UTF-8
        loads_bounded("{nope")
    with pytest.raises(ValueError):
        loads_bounded("1" * 5000)
    with pytest.raises(ValueError):
        loads_bounded(b"\xff\xfe")
    assert loads_bounded("[[1]]", max_depth=2) == [[1]]
    with pytest.raises(ValueError, match="nested 2 deep; at most 1"):
        loads_bounded("[[1]]", max_depth=1)
