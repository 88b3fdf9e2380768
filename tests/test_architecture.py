"""The import rules of docs/architecture.rst hold for every module of flowgraph/.

The page's table gives each package (or top-level module) of flowgraph a level; a module may
import, from other packages, only those of a lower level. The page's list of exceptions names
each allowed upward import by file and package (the one circle, core/node.py -> boxes, and two
imports made when called). The test reads both from the page, so the page and the code
cannot drift apart, and parses every import of flowgraph/ with ast (at module level and inside
functions alike).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
PACKAGE = ROOT / "flowgraph"


def levels_from_page(text: str) -> dict[str, int]:
    """{package: level} from the page's table (a row starts with its level; names may wrap
    onto the next line, which starts with spaces in the level's column)."""
    table = text.split("level  packages")[1].split("\n", 1)[1].split("\n\n")[0]
    levels: dict[str, int] = {}
    level = None
    for line in table.splitlines():
        if not line.strip() or line.startswith("="):
            continue
        names = line[7:54]
        if line[:5].strip():
            level = int(line[:5])
        for name in (n.strip() for n in names.split(",")):
            if name:
                levels[name] = level
    return levels


def exceptions_from_page(text: str) -> set[tuple[str, str]]:
    """{(file, package)} from the page's "- ``flowgraph/X.py`` imports ``P``" lines."""
    return set(re.findall(r"^- ``flowgraph/([\w/]+\.py)`` imports ``(\w+)``", text, re.M))


def unit(module: str) -> str:
    """The top-level package or module of flowgraph that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def submodule(package: str, name: str) -> str:
    """``package.name`` when it is a module or package of flowgraph, else ``package``."""
    where = ROOT.joinpath(*package.split("."), name)
    return f"{package}.{name}" if where.is_dir() or where.with_suffix(".py").is_file() else package


def module_name(path: Path) -> str:
    """flowgraph.cli.main for flowgraph/cli/main.py, flowgraph.cli for its __init__.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(absolute flowgraph module, line) for each import of flowgraph in the file at ``path``."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])  # flowgraph, cli, ...
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                if node.module:
                    found.append((f"{base}.{node.module}", node.lineno))
                else:  # from .. import errors (a module), from .. import __version__ (a name)
                    found += [(submodule(base, a.name), node.lineno) for a in node.names]
            elif node.module and node.module.split(".")[0] == "flowgraph":
                if node.module == "flowgraph":
                    found += [(f"flowgraph.{a.name}", node.lineno) for a in node.names]
                else:
                    found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("flowgraph")]
    return found


def violations() -> list[str]:
    levels, allowed = levels_from_page(PAGE), exceptions_from_page(PAGE)
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        mine = unit(module_name(path))
        for module, line in imports_of(path):
            theirs = unit(module)
            if theirs == mine or (rel, theirs) in allowed:
                continue
            if mine not in levels or theirs not in levels:
                wrong.append(f"flowgraph/{rel}:{line}: {mine} or {theirs} has no level on the page")
            elif levels[theirs] >= levels[mine]:
                wrong.append(
                    f"flowgraph/{rel}:{line} imports {module}: {mine} (level {levels[mine]}) "
                    f"may not import {theirs} (level {levels[theirs]})"
                )
    return wrong


def test_page_gives_every_package_a_level():
    levels = levels_from_page(PAGE)
    assert levels["core"] < levels["boxes"] < levels["training"] < levels["cli"]
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    units = {u for u in units if not u.startswith(("__pycache__", "py")) and u != "notebooks"}
    assert units - set(levels) == set(), "packages of flowgraph/ missing from the page"


def test_page_lists_the_one_circle_and_the_deferred_imports():
    assert ("core/node.py", "boxes") in exceptions_from_page(PAGE)
    assert len(exceptions_from_page(PAGE)) == 4


def test_every_import_goes_down_the_layers():
    assert violations() == []


def test_an_upward_import_is_caught(monkeypatch):
    def upward(path):  # as if boxes/linear.py imported the training loop
        if path.name == "linear.py" and path.parent.name == "boxes":
            return [("flowgraph.training.loop", 1)]
        return []

    monkeypatch.setitem(globals(), "imports_of", upward)
    assert [v.split(":")[0] for v in violations()] == ["flowgraph/boxes/linear.py"]


def private_uses(path: Path) -> list[str]:
    """Private names (``_x``, not ``__x__``) that ``path`` takes from another flowgraph module:
    imported by name, or read as an attribute of an imported module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                "flowgraph")):  # fmt: skip
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"imports {alias.name} from {node.module}")
                modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):  # fmt: skip
            found.append(f"reads {node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_a_module():
    used = {
        str(p.relative_to(ROOT)): private_uses(p)
        for p in sorted(PACKAGE.rglob("*.py"))
        if private_uses(p)
    }
    assert used == {}


def test_a_private_import_is_caught(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from ..core.graph import _topological_order\nfrom . import plan\n"
                    "plan._kernels\n")  # fmt: skip
    assert private_uses(path) == ["imports _topological_order from core.graph",
                                  "reads plan._kernels"]  # fmt: skip


MODULE_LINES, FUNCTION_LINES = 540, 90  # issue 20: "about 500" and "about 80", docstrings in


def test_no_module_and_no_function_outgrows_one_reading():
    """Issue 20's sizes: no module of flowgraph over about 500 lines, no function over about
    80 (docstrings included); a file that grows past them is split into named steps."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        if len(text.splitlines()) > MODULE_LINES:
            long.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > FUNCTION_LINES:
                    long.append(f"{rel}: {node.name} has {lines} lines")
    assert long == []
