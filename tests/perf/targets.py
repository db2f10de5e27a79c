"""Targets a perf script checks: each is printed PASS or FAIL, and a miss fails the script.

targets = Targets()
print(f"ratio {ratio:.2f}x (target <= 3x) {targets.check('cold start', ratio <= 3)}")
targets.finish()   # exit 1, naming what was missed, if any target was
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["Targets"]


class Targets:
    """Collects which targets a run met; :meth:`finish` sets the exit code."""

    def __init__(self) -> None:
        self.missed: list[str] = []
        self.checked = 0

    def check(self, name: str, met: bool) -> str:
        """Record one target; returns ``PASS`` or ``FAIL`` for the printed line."""
        self.checked += 1
        if not met:
            self.missed.append(name)
        return "PASS" if met else "FAIL"

    def finish(self) -> NoReturn:
        """Exit 0 when every target was met, else 1 with the missed ones on stderr."""
        if self.missed:
            print(f"missed {len(self.missed)} of {self.checked} target(s): "
                  + ", ".join(self.missed), file=sys.stderr)  # fmt: skip
            sys.exit(1)
        print(f"all {self.checked} target(s) met")
        sys.exit(0)
