"""Sections of benchmarks/RESULTS.md that separate scripts own.

``python -m benchmarks`` writes the file anew; the other scripts (the residual MLP, the
playground, mutation testing, before against after) each own one section between two markers

    <!-- NAME: begin -->
    ...
    <!-- NAME: end -->

which a rewrite keeps (:func:`keep_sections`) and which each script replaces in place
(:func:`replace_section`), so that no script's figures are lost when another one runs.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["markers", "sections", "wrap", "replace_section", "keep_sections"]

_SECTION = re.compile(r"<!-- ([\w-]+): begin -->\n.*?<!-- \1: end -->\n?", re.S)


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of section ``name``."""
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def sections(text: str) -> dict[str, str]:
    """Every marked section of ``text`` by name, markers included.

    >>> sections("x\\n<!-- a: begin -->\\n## A\\n<!-- a: end -->\\ny")
    {'a': '<!-- a: begin -->\\n## A\\n<!-- a: end -->\\n'}
    """
    return {m.group(1): m.group(0) for m in _SECTION.finditer(text)}


def wrap(name: str, body: str) -> str:
    """``body`` between the markers of ``name``."""
    begin, end = markers(name)
    return f"{begin}\n{body.strip(chr(10))}\n{end}\n"


def replace_section(path: Path, name: str, body: str) -> None:
    """Put ``body`` into ``path`` as section ``name``: in place of the old one, or appended."""
    path = Path(path)
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    new = wrap(name, body)
    found = sections(old).get(name)
    if found is not None:
        text = old.replace(found, new, 1)
    else:
        text = old.rstrip("\n") + "\n\n" + new
    path.write_text(text)


def keep_sections(old: str, new: str) -> str:
    """``new`` with the marked sections of ``old`` that ``new`` lacks appended, in order.

    >>> keep_sections("<!-- a: begin -->\\nA\\n<!-- a: end -->\\n", "# R\\n")
    '# R\\n\\n<!-- a: begin -->\\nA\\n<!-- a: end -->\\n'
    """
    have = sections(new)
    kept = [text for name, text in sections(old).items() if name not in have]
    if not kept:
        return new
    return new.rstrip("\n") + "\n\n" + "\n".join(kept)
