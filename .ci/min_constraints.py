"""Print a pip constraints file pinning each dependency of pyproject.toml at its floor.

    python .ci/min_constraints.py [--extras fast,parallel] > min.txt
    pip install -c min.txt '.[fast]'

Every runtime dependency (and those of the extras named) becomes ``name==floor``, the version
after ``>=`` (or ``==``), so that CI can run the tests with the oldest versions pyproject.toml
claims to support. A requirement without a floor is an error: its oldest version is untested.
The package's own extras (``flowgraph-autodiff[parallel]``) are followed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib

REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[(?P<extras>[^\]]*)\])?\s*(?P<spec>[^;]*)"
)


def _release(version: str) -> tuple[int, ...]:
    """``"3.6"`` -> (3, 6, 0): floors are plain release numbers, compared as such."""
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0])][:3]
    return tuple(parts + [0] * (3 - len(parts)))


def floors(project: dict, extras: list[str]) -> dict[str, str]:
    """``{name: floor}`` for the dependencies and the given extras of ``project``."""
    own = re.sub(r"[-_.]+", "-", project["name"]).lower()
    optional = project.get("optional-dependencies", {})
    pins: dict[str, str] = {}
    todo = [("dependencies", r) for r in project.get("dependencies", [])]
    seen = set()
    for extra in extras:
        if extra not in optional:
            sys.exit(f"min_constraints: no extra {extra!r} in pyproject.toml")
        todo += [(f"extra {extra}", r) for r in optional[extra]]
    while todo:
        where, req = todo.pop(0)
        m = REQUIREMENT.match(req)
        if m is None:
            sys.exit(f"min_constraints: cannot read requirement {req!r} ({where})")
        name = re.sub(r"[-_.]+", "-", m["name"]).lower()
        if name == own:  # one of our extras pulls in others
            for extra in (e.strip() for e in (m["extras"] or "").split(",") if e.strip()):
                if extra not in seen:
                    seen.add(extra)
                    todo += [(f"extra {extra}", r) for r in optional[extra]]
            continue
        floor = re.search(r"(>=|==)\s*([^,\s]+)", m["spec"])
        if floor is None:
            sys.exit(f"min_constraints: {req!r} ({where}) declares no minimum version")
        if name not in pins or _release(floor[2]) > _release(pins[name]):
            pins[name] = floor[2]  # an extra may raise a floor (notebooks: matplotlib 3.7)
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pyproject", default=Path(__file__).resolve().parent.parent
                        / "pyproject.toml", type=Path)  # fmt: skip
    parser.add_argument("--extras", default="", help="comma-separated extras to pin as well")
    args = parser.parse_args(argv)
    project = tomllib.loads(args.pyproject.read_text(encoding="utf-8"))["project"]
    extras = [e.strip() for e in args.extras.split(",") if e.strip()]
    for name, version in sorted(floors(project, extras).items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
