"""Print a pip constraints file pinning every direct dependency to its lowest allowed version.

    python3 .ci/floors.py > floors.txt && pip install -c floors.txt -e '.[all]'

Each ``name>=X`` in pyproject.toml's [project] dependencies and in the ``gui`` and
``explain`` extras (what ``all`` installs) becomes ``name==X``, so CI can prove the floors
it declares are versions the suite passes on. A dependency without a floor is an error:
it would let any old release in.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def floors(pyproject: Path) -> list[str]:
    """``name==floor`` for every direct dependency of the project and of its extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    pins = []
    for requirement in [*project["dependencies"], *extras["gui"], *extras["explain"]]:
        spec = requirement.split(";", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9._-]+)\s*(.*)$", spec)
        floor = re.search(r">=\s*([0-9][^,\s]*)", match.group(2)) if match else None
        if match is None or floor is None:
            raise SystemExit(f"{pyproject}: dependency {requirement!r} has no >= floor")
        pins.append(f"{match.group(1)}=={floor.group(1)}")
    return pins


if __name__ == "__main__":
    print("\n".join(floors(ROOT / "pyproject.toml")))
    sys.exit(0)
