"""What a suite editor underlines as the user types: errors with their line and column,
and thresholds finer than the data can resolve.

``syntax_problem`` reads only the text (fast enough for every keystroke);
``suite_problems`` also checks the suite against the catalog (datasets, columns,
baselines, metrics that fit the model) and adds the resolution warnings, so it belongs
on a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modeldesk.catalog.store import Catalog
from modeldesk.errors import ModelDeskError
from modeldesk.validate.suite import Suite, SuiteError, parse_suite

__all__ = ["SuiteProblem", "suite_problems", "syntax_problem"]

ERROR, WARNING = "error", "warning"
_CHECK_NAMED = re.compile(r"^check '([^']+)'")
_LINE_NAMED = re.compile(r"\bline (\d+)")


@dataclass(frozen=True)
class SuiteProblem:
    """One problem in a suite's text; ``line``/``column`` are 1-based (0: unknown)."""

    severity: str  # "error" or "warning"
    message: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        at = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{at}: {self.message}" if self.line else self.message


def _from_suite_error(error: SuiteError) -> SuiteProblem:
    return SuiteProblem(ERROR, str(error), error.line or 0, error.column or 0)


def syntax_problem(text: str) -> tuple[Suite | None, SuiteProblem | None]:
    """The parsed suite, or the first problem in its text (no catalog needed)."""
    try:
        return parse_suite(text), None
    except SuiteError as error:
        return None, _from_suite_error(error)


def _line_of(message: str, suite: Suite) -> int:
    """The line a message is about: the one it names, else its check's header."""
    named = _LINE_NAMED.search(message)
    if named:
        return int(named.group(1))
    check = _CHECK_NAMED.match(message)
    lines = {c.id: c.line for c in suite.checks}
    return lines.get(check.group(1), 0) if check else 0


def suite_problems(catalog: Catalog, text: str, model_ref: str | None = None) -> list[SuiteProblem]:
    """Every problem an editor shows: the syntax error, else whether the suite can run
    on ``model_ref`` (default: its model's newest version), then resolution warnings."""
    from modeldesk.validate.propose import resolution_warnings
    from modeldesk.validate.run import check_inputs

    suite, problem = syntax_problem(text)
    if suite is None:
        return [problem] if problem else []
    problems: list[SuiteProblem] = []
    try:
        check_inputs(catalog, suite, model_ref or f"{suite.model}@latest", name="the suite")
    except ModelDeskError as error:
        problems.append(SuiteProblem(ERROR, str(error), _line_of(str(error), suite)))
        return problems
    for warning in resolution_warnings(catalog, suite):
        problems.append(SuiteProblem(WARNING, warning, _line_of(warning, suite)))
    return problems
