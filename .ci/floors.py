"""Print a pip constraints file that pins every dependency in pyproject.toml to its floor.

`name>=X` becomes `name==X`, for the runtime dependencies and every extra, so that
`pip install -e '.[test]' -c <this output>` installs the lowest versions the project allows.
Exact pins, not a resolver's "lowest" mode: a floor masked by some other package's higher
requirement (moto's own dependencies ask for newer PyYAML and cryptography than ours) must
fail loudly here instead of being quietly tested at a higher version.

Fails (exit 1) when a dependency has no `>=` floor.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;]*)")


def floors(pyproject: Path = PYPROJECT) -> tuple[dict[str, str], list[str]]:
    """``({normalised name: floor}, [requirements without a floor])`` of every dependency."""
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    found: dict[str, str] = {}
    missing: list[str] = []
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match is None:
            missing.append(requirement)
            continue
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        if name == project["name"]:  # awsideman[sandbox] inside another extra
            continue
        floor = [part.strip()[2:].strip() for part in match["spec"].split(",") if part.strip().startswith(">=")]
        if floor:
            found[name] = floor[0]
        else:
            missing.append(requirement)
    return found, missing


def main() -> int:
    found, missing = floors()
    if missing:
        print(f"no `>=` floor in pyproject.toml for: {', '.join(missing)}", file=sys.stderr)
        return 1
    for name, floor in sorted(found.items()):
        print(f"{name}=={floor}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
