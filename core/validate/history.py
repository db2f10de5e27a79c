"""How a model's versions fared against a suite, and where along its lineage a check broke."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.registry import ModelVersion, get_model_version
from modeldesk.progress import ProgressCallback, Stage, no_progress
from modeldesk.validate.registry import StoredSuite, list_validation_runs, validation_run
from modeldesk.validate.result import ValidationRun
from modeldesk.validate.run import run_suite
from modeldesk.validate.stats import FAIL

__all__ = [
    "Bisection",
    "History",
    "VersionRuns",
    "bisect_check",
    "lineage",
    "suite_history",
    "validate_versions",
]


@dataclass(frozen=True)
class History:
    """Versions x checks: the verdict of each check in each version's newest run."""

    model: str
    suite: str
    checks: list[str]
    versions: list[str]
    verdicts: dict[str, dict[str, str]]  # version ref -> check id -> verdict
    runs: dict[str, int]  # version ref -> the run shown

    def to_dict(self) -> dict:
        """The JSON form."""
        return {
            "model": self.model,
            "suite": self.suite,
            "checks": self.checks,
            "versions": [
                {"model": ref, "run": self.runs[ref], "verdicts": self.verdicts[ref]}
                for ref in self.versions
            ],
        }


def suite_history(catalog: Catalog, model_name: str, suite_name: str) -> History:
    """The newest recorded run of ``suite_name`` on each version of ``model_name``."""
    runs = list_validation_runs(catalog, model_name, suite_name=suite_name)
    newest: dict[str, dict] = {}
    for run in runs:  # newest first
        newest.setdefault(run["model"], run)
    checks: list[str] = []
    verdicts: dict[str, dict[str, str]] = {}
    for ref, run in newest.items():
        result = validation_run(catalog, run["id"])
        verdicts[ref] = {check["id"]: check["verdict"] for check in result["checks"]}
        checks += [check["id"] for check in result["checks"] if check["id"] not in checks]
    versions = sorted(newest, key=lambda ref: int(ref.rsplit("@", 1)[1]))
    return History(
        model_name,
        suite_name,
        checks,
        versions,
        verdicts,
        {ref: newest[ref]["id"] for ref in versions},
    )


def lineage(catalog: Catalog, model_ref: str) -> list[ModelVersion]:
    """``model_ref`` and its ancestors (parent, else the previous version), oldest first."""
    chain = [get_model_version(catalog, model_ref)]
    seen = {chain[0].version}
    while True:
        current = chain[-1]
        number = current.parent_version or (current.version - 1)
        if number < 1 or number in seen:  # a hand-edited catalog could hold a cycle
            break
        seen.add(number)
        chain.append(get_model_version(catalog, f"{current.name}@{number}"))
    return chain[::-1]


@dataclass
class Bisection:
    """Where along a lineage a check first failed, and the verdicts looked at."""

    check: str
    first_failing: str | None  # None: the check holds on every version looked at
    last_passing: str | None
    verdicts: dict[str, str] = field(default_factory=dict)  # version ref -> verdict

    def to_dict(self) -> dict:
        """The JSON form."""
        return {
            "check": self.check,
            "first_failing": self.first_failing,
            "last_passing": self.last_passing,
            "verdicts": self.verdicts,
        }


def bisect_check(
    catalog: Catalog,
    stored: StoredSuite,
    model_ref: str,
    check_id: str,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> Bisection:
    """The first version along ``model_ref``'s lineage where ``check_id`` fails.

    Binary search over the lineage (oldest first), running only that check (as part of
    the suite, so its seed is the suite's) and recording nothing; predictions come from
    the catalog's cache where an earlier run made them.
    """
    chosen = [check for check in stored.suite.checks if check.id == check_id]
    if not chosen:
        known = ", ".join(check.id for check in stored.suite.checks)
        raise BadInputError(f"suite {stored.ref} has no check {check_id!r} ({known})")
    single = replace(stored, suite=replace(stored.suite, checks=chosen))
    chain = lineage(catalog, model_ref)
    verdicts: dict[str, str] = {}

    def verdict_of(index: int) -> str:
        model = chain[index]
        if model.ref not in verdicts:
            step = Stage(progress, len(verdicts) / len(chain), (len(verdicts) + 1) / len(chain))
            run = run_suite(catalog, single, model.ref, record=False, progress=step, cancel=cancel)
            verdicts[model.ref] = run.results[0].verdict
        return verdicts[model.ref]

    if verdict_of(len(chain) - 1) != FAIL:
        return Bisection(check_id, None, chain[-1].ref, verdicts)
    low, high = 0, len(chain) - 1  # invariant: chain[high] fails
    if verdict_of(0) == FAIL:
        return Bisection(check_id, chain[0].ref, None, verdicts)
    while high - low > 1:  # invariant: chain[low] does not fail
        middle = (low + high) // 2
        if verdict_of(middle) == FAIL:
            high = middle
        else:
            low = middle
    return Bisection(check_id, chain[high].ref, chain[low].ref, verdicts)


@dataclass
class VersionRuns:
    """A suite run on every version of a model: the runs, and the versions it refused."""

    runs: list[ValidationRun] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # version ref -> why


def validate_versions(
    catalog: Catalog,
    stored: StoredSuite,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> VersionRuns:
    """Run (and record) a suite on every version of its model, oldest first, to fill the
    versions x checks matrix. A version the suite cannot run on (the first version has
    no previous one to be a champion against) is refused with the reason, and skipped."""
    from modeldesk.catalog.browse import list_versions

    refs = [v.ref for v in list_versions(catalog, "model", stored.suite.model)][::-1]
    found = VersionRuns()
    for index, ref in enumerate(refs):
        step = Stage(progress, index / len(refs), (index + 1) / len(refs))
        try:
            found.runs.append(run_suite(catalog, stored, ref, progress=step, cancel=cancel))
        except (BadInputError, NotFoundError) as error:  # the suite does not fit it
            found.refused[ref] = str(error)
    return found
